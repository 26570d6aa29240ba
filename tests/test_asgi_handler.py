"""chatproject.handlers.ASGIHandler: no thread per request for async views."""

from __future__ import annotations

import asyncio
import threading

import pytest

from chatproject.handlers import ASGIHandler, is_async_view_request


def http(path: str, method: str = "GET", **extra) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        **extra,
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/chat", True),
        ("/api/config", True),
        ("/api/runs/3f1c8d9e-0000-4000-8000-000000000000/events", True),
        ("/api/conversations", False),  # DRF: a sync view
        ("/admin/login/", False),
        ("/some/page", True),  # the SPA fallback (async)
        ("/api/no-such-endpoint", False),  # Django's 404
    ],
)
def test_which_requests_go_to_an_async_view(path, expected):
    assert is_async_view_request(http(path)) is expected


def test_under_a_script_prefix_the_default_handling_is_kept():
    assert is_async_view_request(http("/api/chat", root_path="/chat")) is False


async def _request(handler: ASGIHandler, scope: dict) -> int:
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # no disconnect while the response is sent
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await handler(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


@pytest.fixture
def started_threads(monkeypatch) -> list[str]:
    names: list[str] = []
    start = threading.Thread.start

    def counting_start(self: threading.Thread) -> None:
        names.append(self.name)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    return names


@pytest.mark.django_db(transaction=True)
async def test_an_async_view_request_starts_no_thread(started_threads):
    handler = ASGIHandler()
    assert await _request(handler, http("/api/config")) == 200  # warm: shared thread exists
    started_threads.clear()
    for _ in range(3):
        assert await _request(handler, http("/api/config")) == 200
    assert started_threads == []


@pytest.mark.django_db(transaction=True)
async def test_a_sync_view_request_still_gets_a_thread_of_its_own(started_threads):
    handler = ASGIHandler()
    assert await _request(handler, http("/api/conversations")) == 401  # DRF, no credentials
    started_threads.clear()
    assert await _request(handler, http("/api/conversations")) == 401
    assert len(started_threads) >= 1
