"""Readers never end on a cut connection because of a backend fault.

- Redis unreachable mid-read (a local TCP proxy in front of it, closed by the
  test): the reader gets a retryable ``runs_unavailable`` error event and
  ``[DONE]``.
- A healthy run whose model pauses longer than the Redis client's socket
  timeout before its first token: its reader waits, as with any quiet run.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from chat.models import Conversation
from tests.chat.conftest import LIVE_ENV, read_run, start_run, wait_until
from tests.chat.test_crash_safety import Reader
from tests.conftest import bearer
from tests.fake_openai import hold, text

pytestmark = [pytest.mark.live, pytest.mark.redis]


class TcpProxy:
    """Forwards loopback connections to ``target``; ``close()`` cuts them all and
    refuses new ones, as a Redis that went away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def _redis_url() -> str:
    return str(settings.REDIS_URL)


def _through(proxy: TcpProxy) -> str:
    parts = urlsplit(_redis_url())
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))


@pytest.fixture
def redis_proxy():
    parts = urlsplit(_redis_url())
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    yield proxy
    proxy.close()


def test_redis_going_away_mid_read_ends_the_reader_with_an_error_event(
    server_factory, fake, transactional_db, owner, redis_proxy
):
    server = server_factory(
        OPENAI_BASE_URL=fake.base_url,
        **{**LIVE_ENV, "CHAT_UPSTREAM_TIMEOUT_SECONDS": "30"},
        REDIS_URL=_through(redis_proxy),
    )
    headers = bearer(owner)
    held = hold("Two words and then Redis is gone", after_tokens=2)
    fake.push(held)
    run_id = start_run(server, headers, "Read me").json()["runId"]
    assert held.wait_held(5)
    reader = Reader(server, headers, run_id)
    reader.start()
    assert wait_until(lambda: len(reader.stream.events) >= 3)

    redis_proxy.close()
    reader.join(timeout=20)
    held.release()

    assert not reader.is_alive(), "the reader did not end"
    assert reader.cut is None, f"connection cut: {reader.cut!r}\n{server.log()}"
    stream = reader.stream
    assert stream.done
    assert stream.types == ["conversation", "text_delta", "text_delta", "error"]
    assert (stream.events[-1]["code"], stream.events[-1]["retryable"]) == ("runs_unavailable", True)
    log = server.log()
    assert "Exception in ASGI application" not in log
    assert f"run {run_id}: could not read its events" in log
    # The run could not go on without its log: recorded as interrupted, lock released.
    assert wait_until(
        lambda: not Conversation.objects.filter(active_run__isnull=False).exists(), timeout=10
    )


def test_a_model_pause_longer_than_the_redis_socket_timeout_does_not_cut_the_reader(
    server_factory, fake, transactional_db, owner
):
    server = server_factory(
        OPENAI_BASE_URL=fake.base_url,
        **{**LIVE_ENV, "CHAT_UPSTREAM_TIMEOUT_SECONDS": "30", "CHAT_PING_MS": "15000"},
    )
    headers = bearer(owner)
    # Longer than the client's 5 s socket timeout, shorter than the ping interval.
    fake.push(text("Thought it over.", first_token_delay=6.5))
    run_id = start_run(server, headers, "Think first").json()["runId"]

    stream = read_run(server, headers, run_id, timeout=30)

    assert stream.done, server.log()
    assert stream.text == "Thought it over."
    assert stream.types[-1] == "usage"
