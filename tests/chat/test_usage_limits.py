"""The usage limits on the wired chat path, over real HTTP and WebSocket against
Daphne processes and the fake upstream: the concurrency cap under parallel starts
(one process on the default store; two processes sharing Redis), the per-minute
and daily limits as ordinary 429s (an error frame on the socket, which stays
open), the ledger against what the upstream reported, what goes upstream
(output cap, trimmed history) and ``GET /api/usage`` during and after a turn.

Servers that count turn starts get their own process per test: their slot store
lives in that process, and user ids restart with every test's database flush.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.db.models import Sum
from websockets.sync.client import ClientConnection, connect
from websockets.sync.connection import Connection
from websockets.typing import Origin, Subprotocol

from accounts.api_key_services import api_key_create
from chat.models import Conversation, ConversationItem
from tests.chat.conftest import LIVE_ENV, chat, wait_until
from tests.chat.test_websocket import access_token
from tests.conftest import ServerProcess, bearer
from tests.fake_openai import FakeOpenAI, hold, text, tool_call
from usage.models import UsageLimits, UsageRecord

pytestmark = pytest.mark.live

CAP = 3
OUTPUT_CAP = 321
HISTORY_CAP = 300  # estimated tokens: ~1200 bytes of history JSON


def usage_env(fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": fake.base_url,
        "CHAT_MODEL_API": "chat_completions",
        **LIVE_ENV,
        # Held replies stay silent for a while: the upstream read timeout must outlast them.
        "CHAT_UPSTREAM_TIMEOUT_SECONDS": "30",
        "CHAT_CONCURRENT_TURNS": str(CAP),
        "CHAT_MAX_OUTPUT_TOKENS": str(OUTPUT_CAP),
        "CHAT_HISTORY_MAX_TOKENS": str(HISTORY_CAP),
        **extra,
    }


def _settle(server: ServerProcess) -> None:
    # Runs still being recorded must end before the database is flushed.
    wait_until(
        lambda: not Conversation.objects.filter(active_run__isnull=False).exists(), timeout=10
    )


@pytest.fixture(scope="session")
def _usage_server(server_factory, _fake_upstream) -> ServerProcess:
    return server_factory(**usage_env(_fake_upstream))


@pytest.fixture
def usage_server(_usage_server, fake, transactional_db) -> Iterator[ServerProcess]:
    assert _usage_server.process.poll() is None, _usage_server.log()
    yield _usage_server
    _settle(_usage_server)


@pytest.fixture
def own_server(server_factory, fake, transactional_db):
    """A fresh server process with ``usage_env`` plus the given variables."""
    started: list[ServerProcess] = []

    def start(**extra: str) -> ServerProcess:
        server = server_factory(**usage_env(fake, **extra))
        started.append(server)
        return server

    yield start
    for server in started:
        _settle(server)
        server.stop()


def refusal(response: httpx.Response | Any) -> tuple[int, str, str | None]:
    return response.status_code, response.json().get("code"), response.headers.get("retry-after")


def post(server: ServerProcess, path: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return httpx.post(
        f"{server.url}{path}", json={"message": "Hello", **body}, headers=headers, timeout=20
    )


def ws_connect(server: ServerProcess, *, user=None, key: str | None = None) -> ClientConnection:
    url = server.url.replace("http://", "ws://") + "/ws/chat"
    if key is not None:
        return connect(
            url,
            origin=Origin(server.url),
            additional_headers={"X-API-Key": key},
            open_timeout=5,
            proxy=None,
        )
    return connect(
        url,
        origin=Origin(server.url),
        subprotocols=[Subprotocol("bearer"), Subprotocol(access_token(user))],
        open_timeout=5,
        proxy=None,
    )


def ws_turn(socket: Connection, message: str = "Hello") -> list[dict[str, Any]]:
    """Send a message frame; the frames up to ``done`` (or the first error frame)."""
    socket.send(json.dumps({"message": message}))
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(socket.recv(timeout=15))
        frames.append(frame)
        if frame["type"] == "done" or (frame["type"] == "error" and "runId" not in frame):
            return frames


def seconds_to_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


# --------------------------------------------------------------------------
# The concurrency cap under parallel starts
# --------------------------------------------------------------------------


def _start(server: ServerProcess, kind: str, headers: dict[str, str]) -> tuple[int, Any, Any]:
    """One start: ``/api/chat`` read to the end (it is held upstream), or ``/api/runs``."""
    if kind == "runs":
        response = post(server, "/api/runs", headers)
        return response.status_code, response.json(), response.headers.get("retry-after")
    with httpx.stream(
        "POST", f"{server.url}/api/chat", json={"message": "Hi"}, headers=headers, timeout=60
    ) as response:
        body = response.read().decode()
        return response.status_code, body, response.headers.get("retry-after")


def _twenty_at_once(
    servers: list[ServerProcess], kind: str, headers: dict[str, str], fake: FakeOpenAI
) -> list[tuple[int, Any, Any]]:
    held = hold("one two three", after_tokens=1)
    default, fake.default_turn = fake.default_turn, held
    fake.max_active_streams = 0
    gate = threading.Barrier(20)

    def one(n: int) -> tuple[int, Any, Any]:
        gate.wait(timeout=30)
        return _start(servers[n % len(servers)], kind, headers)

    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(one, n) for n in range(20)]
        try:
            # Every start answered before any is let go (a POST /api/runs answers at
            # once, a /api/chat stream only at its end), so no slot frees up early.
            answered = 20 if kind == "runs" else 20 - CAP
            # The fake records a request just before its stream counts as active.
            refused = wait_until(
                lambda: (
                    sum(1 for f in futures if f.done()) >= answered
                    and len(fake.model_requests) >= CAP
                    and fake.active_streams >= CAP
                ),
                timeout=30,
            )
            assert refused, [f.result() for f in futures if f.done()]
            live_upstream = fake.active_streams
            assert held.wait_held(10)
        finally:
            held.release()
            fake.default_turn = default
        results = [f.result(timeout=60) for f in futures]
    # While held, exactly the admitted turns were streaming from the upstream.
    assert live_upstream == CAP
    assert fake.max_active_streams <= CAP
    return results


@pytest.mark.parametrize("kind", ["chat", "runs"])
def test_twenty_parallel_starts_on_one_process_never_exceed_the_cap(
    kind, usage_server, fake, owner
):
    results = _twenty_at_once([usage_server], kind, bearer(owner), fake)
    ok = 200 if kind == "chat" else 202
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [ok] * CAP + [429] * (20 - CAP), results
    for status, body, retry_after in results:
        if status == 429:
            code = (json.loads(body) if isinstance(body, str) else body)["code"]
            assert (code, retry_after) == ("concurrent_turns_exceeded", "1")
        elif kind == "chat":
            assert body.endswith("data: [DONE]\n\n") and "three" in body
    assert len(fake.model_requests) == CAP
    # The ledger row is written just after the turn's outcome.
    assert wait_until(lambda: UsageRecord.objects.filter(user=owner).count() == CAP, timeout=10)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("kind", ["chat", "runs"])
def test_two_processes_sharing_redis_hold_one_cap(kind, own_server, fake, owner):
    servers = [own_server(), own_server()]
    results = _twenty_at_once(servers, kind, bearer(owner), fake)
    ok = 200 if kind == "chat" else 202
    assert sorted(status for status, _, _ in results) == [ok] * CAP + [429] * (20 - CAP)
    assert len(fake.model_requests) == CAP


# --------------------------------------------------------------------------
# Rate and quotas: ordinary 429s on HTTP, an error frame on the socket
# --------------------------------------------------------------------------


def test_the_per_minute_limit_refuses_every_transport_with_a_retry_after(own_server, fake, owner):
    server = own_server(CHAT_TURNS_PER_MINUTE="2")
    headers = bearer(owner)
    assert chat(server, headers).status == 200
    assert post(server, "/api/runs", headers).status_code == 202
    _settle(server)

    stream = chat(server, headers)
    assert stream.status == 429 and not stream.done
    body = stream.body()
    assert body["code"] == "turn_rate_exceeded"
    assert 1 <= int(stream.headers["retry-after"]) <= 60
    status, code, retry_after = refusal(post(server, "/api/runs", headers))
    assert (status, code) == (429, "turn_rate_exceeded")
    assert retry_after is not None and 1 <= int(retry_after) <= 60
    with ws_connect(server, user=owner) as socket:
        frames = ws_turn(socket)
        assert [(f["type"], f["code"]) for f in frames] == [("error", "turn_rate_exceeded")]
        assert 1 <= frames[0]["retryAfter"] <= 60
        # The socket stays open and answers the next frame.
        socket.send(json.dumps({"runId": "no-such-run"}))
        assert json.loads(socket.recv(timeout=5))["code"] == "not_found"
    # Refusals do not count as starts, and wrote nothing.
    assert wait_until(lambda: UsageRecord.objects.filter(user=owner).count() == 2)


def _assert_midnight(retry_after: str | None) -> None:
    assert retry_after is not None
    assert abs(int(retry_after) - seconds_to_midnight()) <= 2


def test_a_spent_daily_budget_refuses_until_midnight_on_every_transport(
    own_server, fake, owner, second_user
):
    server = own_server(CHAT_DAILY_TOKENS="50")
    headers = bearer(owner)
    fake.push(text("spent", usage=(30, 30)))
    assert chat(server, headers).text == "spent"

    stream = chat(server, headers)
    assert (stream.status, stream.body()["code"]) == (429, "token_quota_exceeded")
    _assert_midnight(stream.headers.get("retry-after"))
    status, code, retry_after = refusal(post(server, "/api/runs", headers))
    assert (status, code) == (429, "token_quota_exceeded")
    _assert_midnight(retry_after)
    # Another user's budget is their own.
    assert chat(server, bearer(second_user)).status == 200

    with ws_connect(server, user=owner) as socket:
        frames = ws_turn(socket)
        assert [(f["type"], f["code"]) for f in frames] == [("error", "token_quota_exceeded")]
        _assert_midnight(str(frames[0]["retryAfter"]))
        # An admin lifts the user's quota: the same socket's next message streams.
        UsageLimits.objects.create(user=owner, daily_tokens=0)
        fake.push(text("lifted"))
        frames = ws_turn(socket)
        assert frames[-1]["type"] == "done"
        assert "".join(f.get("delta", "") for f in frames) == "lifted"
    assert fake.pending_turns == 0


def test_a_keys_own_budget_refuses_that_key_but_not_the_user(usage_server, fake, owner):
    _key, plaintext = api_key_create(user=owner, name="capped", daily_tokens=50)
    key_headers = {"X-API-Key": plaintext}
    fake.push(text("spent", usage=(40, 20)))
    assert chat(usage_server, key_headers).text == "spent"

    stream = chat(usage_server, key_headers)
    assert (stream.status, stream.body()["code"]) == (429, "key_quota_exceeded")
    _assert_midnight(stream.headers.get("retry-after"))
    status, code, retry_after = refusal(post(usage_server, "/api/runs", key_headers))
    assert (status, code) == (429, "key_quota_exceeded")
    _assert_midnight(retry_after)
    with ws_connect(usage_server, key=plaintext) as socket:
        frames = ws_turn(socket)
        assert [(f["type"], f["code"]) for f in frames] == [("error", "key_quota_exceeded")]
        _assert_midnight(str(frames[0]["retryAfter"]))
        socket.send(json.dumps({"runId": "no-such-run"}))
        assert json.loads(socket.recv(timeout=5))["code"] == "not_found"
    # The browser (and the user's other keys) go on.
    assert chat(usage_server, bearer(owner)).status == 200


# --------------------------------------------------------------------------
# The ledger against what the upstream reported
# --------------------------------------------------------------------------


def test_the_ledger_sums_what_the_upstream_reported(usage_server, fake, owner):
    key, plaintext = api_key_create(user=owner, name="script")
    fake.push(
        text("sse", usage=(11, 7)),
        # A tool turn: two model calls, both counted.
        tool_call("calculate", {"expression": "6*7"}, usage=(13, 5)),
        text("42.", usage=(19, 2)),
        text("ws", usage=(17, 3)),
        text("bearer run", usage=(23, 4)),
    )
    assert chat(usage_server, bearer(owner)).text == "sse"
    response = post(usage_server, "/api/runs", {"X-API-Key": plaintext})
    assert response.status_code == 202
    wait_until(lambda: fake.pending_turns <= 2, timeout=10)
    _settle(usage_server)
    with ws_connect(usage_server, user=owner) as socket:
        assert ws_turn(socket)[-1]["type"] == "done"
    assert post(usage_server, "/api/runs", bearer(owner)).status_code == 202
    wait_until(lambda: UsageRecord.objects.count() == 4, timeout=10)
    _settle(usage_server)

    reported = fake.model_requests
    assert len(reported) == 5
    rows = UsageRecord.objects.filter(user=owner)
    totals = rows.aggregate(i=Sum("input_tokens"), o=Sum("output_tokens"))
    assert (totals["i"], totals["o"]) == (11 + 13 + 19 + 17 + 23, 7 + 5 + 2 + 3 + 4)
    keyed = rows.filter(api_key=key)
    assert [(r.input_tokens, r.output_tokens) for r in keyed] == [(13 + 19, 5 + 2)]
    assert rows.filter(api_key__isnull=True).count() == 3
    assert all(r.model == "gpt-fake-test" and r.conversation_id for r in rows)

    usage = httpx.get(f"{usage_server.url}/api/usage", headers=bearer(owner), timeout=10).json()
    assert usage["tokens"]["used"] == totals["i"] + totals["o"]
    keyed_usage = httpx.get(
        f"{usage_server.url}/api/usage", headers={"X-API-Key": plaintext}, timeout=10
    ).json()
    assert keyed_usage["key"] == {"id": key.pk, "used": 13 + 19 + 5 + 2, "limit": None}


# --------------------------------------------------------------------------
# What goes upstream
# --------------------------------------------------------------------------


def test_the_upstream_gets_the_output_cap_and_the_trimmed_history(usage_server, fake, owner):
    headers = bearer(owner)
    padding = "x" * 2000  # one turn larger than the whole history budget
    fake.push(text("noted"))
    first = chat(usage_server, headers, f"remember {padding}")
    conversation_id = first.conversation_id
    fake.push(tool_call("calculate", {"expression": "6*7"}), text("It is 42."))
    chat(usage_server, headers, "what is six times seven?", conversation_id)
    stored_before = list(
        ConversationItem.objects.filter(conversation_id=conversation_id)
        .order_by("position")
        .values_list("data", flat=True)
    )
    fake.reset()
    fake.push(text("fine"))
    assert chat(usage_server, headers, "and now?", conversation_id).text == "fine"

    body = fake.model_requests[0].body
    assert body["max_tokens"] == OUTPUT_CAP
    sent = json.dumps(body)
    assert padding not in sent  # the oldest turn stayed home
    roles = [m["role"] for m in body["messages"]]
    # system, the tool turn whole (question, call, result, answer), the new message
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    call = body["messages"][2]["tool_calls"][0]
    assert body["messages"][3]["tool_call_id"] == call["id"]
    # The stored history keeps everything, with the new turn appended.
    stored = list(
        ConversationItem.objects.filter(conversation_id=conversation_id)
        .order_by("position")
        .values_list("data", flat=True)
    )
    assert stored[: len(stored_before)] == stored_before
    assert padding in json.dumps(stored[0])
    assert len(stored) == len(stored_before) + 2


def test_every_model_call_of_a_tool_turn_carries_the_output_cap(usage_server, fake, owner):
    fake.push(tool_call("calculate", {"expression": "1+1"}), text("2."))
    assert chat(usage_server, bearer(owner)).text == "2."
    assert [r.body["max_tokens"] for r in fake.model_requests] == [OUTPUT_CAP, OUTPUT_CAP]


def test_the_responses_api_gets_max_output_tokens(own_server, fake, owner):
    server = own_server(CHAT_MODEL_API="responses")
    assert chat(server, bearer(owner)).status == 200
    assert fake.model_requests[0].body["max_output_tokens"] == OUTPUT_CAP


# --------------------------------------------------------------------------
# GET /api/usage during and after a turn
# --------------------------------------------------------------------------


def test_usage_shows_a_live_turn_then_its_tokens_and_only_the_callers(
    usage_server, fake, owner, outsider
):
    held = hold("slow reply here", after_tokens=1, usage=(100, 20))
    fake.push(held)
    url = f"{usage_server.url}/api/usage"
    assert post(usage_server, "/api/runs", bearer(owner)).status_code == 202
    try:
        assert held.wait_held(10)
        live = httpx.get(url, headers=bearer(owner), timeout=10).json()
        other = httpx.get(url, headers=bearer(outsider), timeout=10).json()
    finally:
        held.release()
    assert live["concurrent_turns"] == {"active": 1, "limit": CAP}
    assert live["tokens"]["used"] == 0
    assert other["concurrent_turns"]["active"] == 0 and other["turns"]["last_minute"] == 0

    wait_until(lambda: UsageRecord.objects.filter(user=owner).exists(), timeout=10)
    _settle(usage_server)
    after = httpx.get(url, headers=bearer(owner), timeout=10).json()
    assert after["tokens"]["used"] == 120
    assert after["concurrent_turns"]["active"] == 0
    assert after["turns"]["last_minute"] >= 1
    assert after["tokens"]["limit"] == django_settings.CHAT_DAILY_TOKENS
    other = httpx.get(url, headers=bearer(outsider), timeout=10).json()
    assert other["tokens"]["used"] == 0
