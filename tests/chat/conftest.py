"""Fixtures for the chat suite: the fake upstream, app servers pointed at it, SSE reading.

Live servers are started once per session (a Daphne process takes a second or
two) and share one fake OpenAI server; each test starts from an empty turn
queue and request log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from django.test import Client

from accounts.api_key_services import api_key_create
from chat.models import Conversation, ConversationItem
from tests.conftest import ServerProcess, bearer
from tests.fake_openai import FakeOpenAI, closed_port_url

# The live chat servers answer quickly in tests: no client retries, short timeouts
# (the timeout test stalls longer than this), frequent pings.
LIVE_ENV = {
    "OPENAI_API_KEY": "test-key",
    "OPENAI_MODEL": "gpt-fake-test",
    "CHAT_UPSTREAM_MAX_RETRIES": "0",
    "CHAT_UPSTREAM_TIMEOUT_SECONDS": "2",
    "CHAT_PING_MS": "300",
    "LOG_LEVEL": "WARNING",
}


@pytest.fixture(scope="session")
def _fake_upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(_fake_upstream: FakeOpenAI) -> Iterator[FakeOpenAI]:
    _fake_upstream.reset()
    yield _fake_upstream
    _fake_upstream.reset()


@pytest.fixture(scope="session")
def _chat_server(server_factory, _fake_upstream) -> ServerProcess:
    """Chat Completions against the fake (OPENAI_BASE_URL set, the default wire API)."""
    return server_factory(
        OPENAI_BASE_URL=_fake_upstream.base_url, CHAT_MODEL_API="chat_completions", **LIVE_ENV
    )


@pytest.fixture(scope="session")
def _responses_server(server_factory, _fake_upstream) -> ServerProcess:
    """The Responses API against the fake (CHAT_MODEL_API overrides the default)."""
    return server_factory(
        OPENAI_BASE_URL=_fake_upstream.base_url, CHAT_MODEL_API="responses", **LIVE_ENV
    )


@pytest.fixture(scope="session")
def _unreachable_server(server_factory) -> ServerProcess:
    """An upstream on a port that refuses connections."""
    return server_factory(
        OPENAI_BASE_URL=closed_port_url(), CHAT_MODEL_API="chat_completions", **LIVE_ENV
    )


def _serve(server: ServerProcess) -> Iterator[ServerProcess]:
    assert server.process.poll() is None, server.log()
    yield server
    # A stream the test left early is still being recorded by the server; let it
    # finish before the database is flushed (PostgreSQL would deadlock the two).
    wait_until(lambda: not Conversation.objects.filter(active_run__isnull=False).exists())


@pytest.fixture
def chat_server(_chat_server, fake, transactional_db) -> Iterator[ServerProcess]:
    yield from _serve(_chat_server)


@pytest.fixture
def responses_server(_responses_server, fake, transactional_db) -> Iterator[ServerProcess]:
    yield from _serve(_responses_server)


@pytest.fixture
def unreachable_server(_unreachable_server, transactional_db) -> Iterator[ServerProcess]:
    yield from _serve(_unreachable_server)


@pytest.fixture
async def close_db_connections():
    """Async tests touch the database from asgiref's sync thread; close its connection
    afterwards, or PostgreSQL refuses to drop the test database at the end."""
    yield
    from asgiref.sync import sync_to_async
    from django.db import connections

    await sync_to_async(connections.close_all)()


# --------------------------------------------------------------------------
# Users' credentials and data
# --------------------------------------------------------------------------


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def owner_headers(owner) -> dict[str, str]:
    return bearer(owner)


@pytest.fixture
def outsider_key(outsider) -> str:
    _key, plaintext = api_key_create(user=outsider, name="outsider script")
    return plaintext


@pytest.fixture
def owner_key(owner) -> str:
    _key, plaintext = api_key_create(user=owner, name="owner script")
    return plaintext


def make_conversation(user, title: str = "A chat", items: list[dict] | None = None) -> Conversation:
    conversation = Conversation.objects.create(owner=user, title=title)
    for position, item in enumerate(items or []):
        ConversationItem.objects.create(conversation=conversation, position=position, data=item)
    return conversation


@dataclass
class InProcessStream:
    status_code: int
    body: bytes


def stream_post(path: str, body: Any, headers: dict[str, str] | None = None) -> InProcessStream:
    """POST through the ASGI handler in process and read the whole (streamed)
    body, both on one event loop, as a server does: a turn streams on the
    loop that began it."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    async def run() -> InProcessStream:
        response: Any = await AsyncClient().post(
            path,
            data=body if isinstance(body, str | bytes) else json.dumps(body),
            content_type="application/json",
            headers=headers or {},
        )
        if not response.streaming:
            return InProcessStream(response.status_code, response.content)
        chunks = [chunk async for chunk in response.streaming_content]
        return InProcessStream(response.status_code, b"".join(chunks))

    return async_to_sync(run)()


def post_json(client: Client, path: str, body: Any, headers: dict[str, str] | None = None):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", headers=headers or {})


# --------------------------------------------------------------------------
# Reading a stream
# --------------------------------------------------------------------------


@dataclass
class Stream:
    """What a client saw of one SSE response."""

    status: int
    headers: httpx.Headers
    events: list[dict[str, Any]] = field(default_factory=list)
    pings: int = 0
    done: bool = False
    raw: str = ""
    # monotonic time at which each event arrived, parallel to ``events``
    times: list[float] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    @property
    def text(self) -> str:
        return "".join(event["delta"] for event in self.of_type("text_delta"))

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    @property
    def conversation_id(self) -> str:
        return self.events[0]["id"]

    def body(self) -> dict[str, Any]:
        return json.loads(self.raw)


def parse_sse_block(block: str, stream: Stream) -> None:
    for line in block.split("\n"):
        if line.startswith(":"):
            stream.pings += 1
        elif line.startswith("data: "):
            payload = line[len("data: ") :]
            if payload == "[DONE]":
                stream.done = True
            else:
                assert not stream.done, "event after [DONE]"
                stream.events.append(json.loads(payload))
                stream.times.append(time.monotonic())


def iter_sse(response: httpx.Response, stream: Stream) -> Iterator[dict[str, Any] | None]:
    """Feed ``stream`` from a live response; yield each new event (None for [DONE])."""
    buffer = ""
    for chunk in response.iter_text():
        buffer += chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            before = len(stream.events)
            parse_sse_block(block, stream)
            if len(stream.events) > before:
                yield stream.events[-1]
            elif stream.done:
                yield None
                return


def chat(
    server: ServerProcess,
    headers: dict[str, str],
    message: str = "Hello",
    conversation_id: str | None = None,
    timeout: float = 20,
) -> Stream:
    """POST /api/chat on a live server and read the whole stream."""
    body: dict[str, Any] = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    with httpx.stream(
        "POST", f"{server.url}/api/chat", json=body, headers=headers, timeout=timeout
    ) as response:
        stream = Stream(status=response.status_code, headers=response.headers)
        if response.status_code != 200:
            response.read()
            stream.raw = response.text
            return stream
        for _event in iter_sse(response, stream):
            pass
    return stream


def wait_until(condition, timeout: float = 5.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------
# Background runs (/api/runs) and the WebSocket transport
# --------------------------------------------------------------------------


@dataclass
class RunStream:
    """What a client saw of one ``GET /api/runs/<id>/events`` response."""

    status: int
    ids: list[int] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    pings: int = 0
    done: bool = False
    raw: str = ""

    @property
    def pairs(self) -> list[tuple[int, dict[str, Any]]]:
        return list(zip(self.ids, self.events, strict=True))

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    @property
    def text(self) -> str:
        return "".join(event["delta"] for event in self.events if event["type"] == "text_delta")


def _parse_run_block(block: str, stream: RunStream) -> bool:
    """Add one SSE block to ``stream``; True if it was an event (or [DONE])."""
    event_id: int | None = None
    data: str | None = None
    for line in block.split("\n"):
        if line.startswith(":"):
            stream.pings += 1
        elif line.startswith("id: "):
            event_id = int(line[len("id: ") :])
        elif line.startswith("data: "):
            data = line[len("data: ") :]
    if data is None:
        return False
    assert not stream.done, "event after [DONE]"
    if data == "[DONE]":
        assert event_id is None
        stream.done = True
    else:
        event = json.loads(data)
        if event_id is None:
            # Only the error event that ends a stream early (not one of the run's
            # events) has no id: the client's Last-Event-ID stays where it was,
            # which is what ``ids`` records for it.
            assert event["type"] == "error", f"event without an id: {block!r}"
            event_id = stream.ids[-1] if stream.ids else 0
        stream.ids.append(event_id)
        stream.events.append(event)
    return True


def start_run(
    server: ServerProcess,
    headers: dict[str, str],
    message: str = "Hello",
    conversation_id: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    return httpx.post(f"{server.url}/api/runs", json=body, headers=headers, timeout=10)


def read_run(
    server: ServerProcess,
    headers: dict[str, str],
    run_id: str,
    last_event_id: int | None = None,
    *,
    via_query: bool = False,
    stop_after: int | None = None,
    timeout: float = 20,
) -> RunStream:
    """Read a run's events; with ``stop_after``, drop the connection after that many."""
    url = f"{server.url}/api/runs/{run_id}/events"
    headers = dict(headers)
    params = {}
    if last_event_id is not None:
        if via_query:
            params["last_event_id"] = str(last_event_id)
        else:
            headers["Last-Event-ID"] = str(last_event_id)
    with httpx.stream("GET", url, headers=headers, params=params, timeout=timeout) as response:
        stream = RunStream(status=response.status_code)
        if response.status_code != 200:
            response.read()
            stream.raw = response.text
            return stream
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        for chunk in response.iter_text():
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                _parse_run_block(block, stream)
                if stream.done or (stop_after is not None and len(stream.events) >= stop_after):
                    return stream
    return stream


def cancel_run(server: ServerProcess, headers: dict[str, str], run_id: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/runs/{run_id}/cancel", headers=headers, timeout=10)


@pytest.fixture
def demo_settings(settings):
    """In-process runs on the offline demo model, fast."""
    settings.OPENAI_API_KEY = None
    settings.OPENAI_BASE_URL = None
    settings.CHAT_DEMO_TOKEN_MS = 0
    return settings


@pytest.fixture
def upstream_settings(settings, fake):
    """In-process runs (WebsocketCommunicator tests) against the fake upstream."""
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_BASE_URL = fake.base_url
    settings.OPENAI_MODEL = "gpt-fake-test"
    settings.CHAT_MODEL_API = "chat_completions"
    settings.CHAT_UPSTREAM_MAX_RETRIES = 0
    settings.CHAT_UPSTREAM_TIMEOUT_SECONDS = 5
    return settings


@pytest.fixture
async def inproc_runs(close_db_connections):
    """Runs driven by this test's event loop: finished (and Redis clients closed)
    before the loop goes away."""
    import asyncio

    from chat import runs
    from chat.runlog import run_log

    yield runs
    # A run is an asyncio task named run-<id> (chat.runs.run_start) on this loop.
    while pending := [t for t in asyncio.all_tasks() if t.get_name().startswith("run-")]:
        await asyncio.gather(*pending, return_exceptions=True)
    await run_log().aclose()


@pytest.fixture(autouse=True)
async def _stop_renewals():
    """Slots a test leaves unreleased stop renewing before the test's loop closes."""
    yield
    from usage.turns import cancel_renewals

    cancel_renewals()
