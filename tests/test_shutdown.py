"""The drain (chatproject/shutdown.py) on its own: what it waits for and what it ends.

The end-to-end behaviour -- SIGTERM to ``scripts/serve`` with a turn in flight --
is tested in tests/chat against a real server process.
"""

from __future__ import annotations

import asyncio

import pytest
from django.test import Client

from chatproject import shutdown
from chatproject.errors import ApiError


class _Turn:
    """A live turn as the drain sees it: ends by itself after ``seconds``, or when interrupted."""

    def __init__(self, seconds: float) -> None:
        self.ended = asyncio.Event()
        self.interrupted = False
        self._timer = asyncio.get_running_loop().call_later(seconds, self.ended.set)
        shutdown.track(self)

    async def wait_ended(self) -> None:
        await self.ended.wait()
        shutdown.untrack(self)

    def interrupt(self) -> None:
        self.interrupted = True
        self._timer.cancel()
        asyncio.get_running_loop().call_soon(self.ended.set)


@pytest.fixture(autouse=True)
def _not_draining(monkeypatch):
    monkeypatch.setattr(shutdown, "_draining", False)
    monkeypatch.setattr(shutdown, "_live", set())
    monkeypatch.setattr(shutdown, "_drained", False)
    monkeypatch.setattr(shutdown, "_readers", set())


async def test_drain_lets_short_turns_finish_and_interrupts_the_rest() -> None:
    quick, slow = _Turn(0.05), _Turn(60)
    await shutdown.drain(0.5)
    assert not quick.interrupted
    assert slow.interrupted
    assert shutdown.live_count() == 0


async def test_new_turns_are_refused_while_draining(client: Client) -> None:
    shutdown.refuse_if_draining()  # not draining: nothing happens
    await shutdown.drain(0)
    with pytest.raises(ApiError) as refused:
        shutdown.refuse_if_draining()
    assert refused.value.status == 503
    assert refused.value.code == "shutting_down"
    assert refused.value.headers["Retry-After"].isdigit()


def test_readyz_answers_503_while_draining(client: Client, monkeypatch) -> None:
    assert client.get("/readyz").json().get("status") != "shutting_down"
    monkeypatch.setattr(shutdown, "_draining", True)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "shutting_down"}


@pytest.mark.live
def test_sigterm_goes_through_the_drain_then_stops_the_server(server_factory, transactional_db):
    import signal
    import subprocess

    from tests.conftest import PRODUCTION_ENV, collectstatic

    collectstatic()
    server = server_factory(
        production_entrypoint=True, **PRODUCTION_ENV, DJANGO_SECURE_SSL_REDIRECT="0"
    )
    server.process.send_signal(signal.SIGTERM)
    try:
        # uvicorn re-raises the signal once it has shut down (exit by SIGTERM).
        assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    except subprocess.TimeoutExpired:
        pytest.fail(f"server still running after SIGTERM:\n{server.log()}")
    log = server.log()
    # Our handler ran first, then handed the signal to uvicorn's.
    assert "shutting down: draining 0 live turn(s)" in log
    assert "Finished server process" in log
