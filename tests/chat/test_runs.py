"""Background runs: POST /api/runs, resumable GET .../events, cancel -- on real server processes.

In the SQLite pass the server keeps run events in memory; in the PostgreSQL +
Redis pass (REDIS_URL set) the same tests run on Redis Streams, and the
two-process tests show a client moving between workers.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import httpx
import pytest

from chat.models import Conversation, ConversationItem, Turn
from tests.chat.conftest import (
    LIVE_ENV,
    RunStream,
    cancel_run,
    chat,
    read_run,
    start_run,
    wait_until,
)
from tests.conftest import bearer
from tests.fake_openai import hold, stall, text, tool_call

pytestmark = pytest.mark.live

TOKENS = [f"w{index} " for index in range(24)]


def scripted_reply(interval: float = 0.0) -> Any:
    return text(tokens=TOKENS, interval=interval, usage=(9, len(TOKENS)))


def normalized(stream: RunStream) -> list[tuple[int, dict[str, Any]]]:
    """Event ids and events, with what differs between two runs (the new
    conversation's id) blanked out."""
    pairs = []
    for event_id, event in stream.pairs:
        if event["type"] == "conversation":
            event = {**event, "id": "<conversation>"}
        pairs.append((event_id, event))
    return pairs


def test_a_run_goes_on_without_listeners_and_replays_when_finished(chat_server, fake, owner):
    fake.push(text("Hello in the background.", usage=(7, 4)))

    response = start_run(chat_server, bearer(owner), "Anyone?")

    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"runId", "conversation_id"}
    run_id = body["runId"]
    # Nobody listens; the turn is still recorded (the run id is the turn's id).
    turn = wait_until(
        lambda: Turn.objects.filter(id=run_id).exclude(status="running").first(), timeout=10
    )
    assert turn is not None
    assert (turn.status, turn.input_tokens, turn.output_tokens) == ("complete", 7, 4)
    assert str(turn.conversation_id) == body["conversation_id"]
    assert Conversation.objects.get(id=body["conversation_id"]).owner == owner

    replay = read_run(chat_server, bearer(owner), run_id)
    assert replay.status == 200
    assert replay.done
    assert replay.ids == list(range(1, len(replay.events) + 1))
    assert replay.events[0] == {
        "type": "conversation",
        "id": body["conversation_id"],
        "title": "Anyone?",
    }
    assert replay.text == "Hello in the background."
    assert replay.events[-1] == {"type": "usage", "input_tokens": 7, "output_tokens": 4}

    # The same events as /api/chat streams for the same reply.
    fake.push(text("Hello in the background.", usage=(7, 4)))
    direct = chat(chat_server, bearer(owner), "Anyone?")
    assert replay.types == direct.types
    assert replay.events[1:] == direct.events[1:]


def test_reconnecting_with_last_event_id_loses_and_doubles_nothing(chat_server, fake, owner):
    headers = bearer(owner)
    fake.push(scripted_reply())
    reference_run = start_run(chat_server, headers, "Count").json()["runId"]
    reference = read_run(chat_server, headers, reference_run)
    assert reference.done and len(reference.events) == len(TOKENS) + 2

    # Property: whatever event the client dies after, the events it saw before
    # plus what a reconnect with Last-Event-ID replays equal the whole run.
    rng = random.Random(7)  # seeded: the same cut points every run
    cuts = [*sorted(rng.sample(range(1, len(reference.events)), 5)), len(reference.events)]
    for index, cut in enumerate(cuts):
        # The reply trickles in, so most cuts land while the run is still live.
        fake.push(scripted_reply(interval=0.01))
        run_id = start_run(chat_server, headers, "Count").json()["runId"]
        first = read_run(chat_server, headers, run_id, stop_after=cut)
        assert len(first.events) == cut
        resumed = read_run(chat_server, headers, run_id, first.ids[-1], via_query=index % 2 == 1)
        assert resumed.done
        assert resumed.ids == list(range(cut + 1, len(reference.events) + 1))
        joined = RunStream(status=200, ids=first.ids + resumed.ids)
        joined.events = first.events + resumed.events
        assert normalized(joined) == normalized(reference), f"cut after event {cut}"


def test_resuming_a_finished_run_replays_the_rest_then_done(chat_server, fake, owner):
    fake.push(text("One two three."))
    run_id = start_run(chat_server, bearer(owner), "Go").json()["runId"]
    whole = read_run(chat_server, bearer(owner), run_id)
    assert whole.done

    rest = read_run(chat_server, bearer(owner), run_id, 2)
    assert rest.done
    assert rest.pairs == whole.pairs[2:]
    nothing_left = read_run(chat_server, bearer(owner), run_id, whole.ids[-1])
    assert nothing_left.done and nothing_left.events == []


def test_a_last_event_id_past_the_end_of_a_finished_run_ends_at_once(chat_server, fake, owner):
    # A stale or forged Last-Event-ID must not leave the client on pings forever.
    fake.push(text("Short."))
    run_id = start_run(chat_server, bearer(owner), "Go").json()["runId"]
    whole = read_run(chat_server, bearer(owner), run_id)
    assert whole.done
    started = time.monotonic()
    headers = {**bearer(owner), "Last-Event-ID": str(whole.ids[-1] + 50)}
    url = f"{chat_server.url}/api/runs/{run_id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=5) as response:
        assert response.status_code == 200
        body = ""
        for chunk in response.iter_text():
            body += chunk
            if "[DONE]" in body or time.monotonic() - started > 3:
                break
    assert body.endswith("data: [DONE]\n\n"), body
    assert "text_delta" not in body


def test_an_idle_run_sends_pings(chat_server, fake, owner):
    # The live servers ping after 300 ms of silence.
    fake.push(text("Finally.", first_token_delay=1.0))
    run_id = start_run(chat_server, bearer(owner), "Take your time").json()["runId"]
    stream = read_run(chat_server, bearer(owner), run_id)
    assert stream.pings >= 2
    assert stream.text == "Finally."
    assert stream.done


def test_cancel_stops_the_run_closes_upstream_and_keeps_the_partial_reply(chat_server, fake, owner):
    held = hold("Partial answer that never finishes", after_tokens=2)
    fake.push(held)
    headers = bearer(owner)
    run_id = start_run(chat_server, headers, "Go").json()["runId"]
    seen = read_run(chat_server, headers, run_id, stop_after=3)
    assert seen.types == ["conversation", "text_delta", "text_delta"]
    assert held.wait_held(5)

    cancelled_at = time.monotonic()
    response = cancel_run(chat_server, headers, run_id)

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "interrupted"
    upstream = fake.model_requests[-1]
    assert upstream.wait_disconnected(1.0), "upstream still open 1 s after the cancel"
    assert upstream.disconnected_at - cancelled_at < 1.0
    turn = Turn.objects.get(id=run_id)
    assert turn.status == "interrupted"
    items = list(
        ConversationItem.objects.filter(conversation_id=turn.conversation_id).values_list(
            "data", flat=True
        )
    )
    assert items == [
        {"role": "user", "content": "Go"},
        {"role": "assistant", "content": "Partial answer "},
    ]
    assert Conversation.objects.get(id=turn.conversation_id).active_run is None
    # A listener sees what was produced, then the end.
    rest = read_run(chat_server, headers, run_id, seen.ids[-1])
    assert rest.done and rest.events == []

    # Cancel is idempotent: again, and on the finished run, it is 202 with the outcome.
    again = cancel_run(chat_server, headers, run_id)
    assert (again.status_code, again.json()["status"]) == (202, "interrupted")
    held.release()


def test_cancel_after_the_run_finished_is_202_and_changes_nothing(chat_server, fake, owner):
    fake.push(text("Done already."))
    run_id = start_run(chat_server, bearer(owner), "Quick").json()["runId"]
    assert read_run(chat_server, bearer(owner), run_id).done

    response = cancel_run(chat_server, bearer(owner), run_id)

    assert response.status_code == 202
    assert response.json()["status"] == "complete"
    assert Turn.objects.get(id=run_id).status == "complete"


def test_a_failing_run_ends_with_an_error_event(chat_server, fake, owner):
    fake.push(stall(10))  # longer than the live servers' 2 s upstream timeout
    run_id = start_run(chat_server, bearer(owner), "Hello?").json()["runId"]
    stream = read_run(chat_server, bearer(owner), run_id)
    assert stream.types == ["conversation", "error"]
    assert stream.events[-1]["code"] == "timeout"
    assert stream.done
    assert Turn.objects.get(id=run_id).status == "failed"


def test_a_tool_run_streams_tool_events_with_ids(chat_server, fake, owner):
    fake.push(tool_call("calculate", {"expression": "6*7"}), text("42."))
    run_id = start_run(chat_server, bearer(owner), "Six times seven?").json()["runId"]
    stream = read_run(chat_server, bearer(owner), run_id)
    assert stream.types[:3] == ["conversation", "tool_call", "tool_result"]
    assert stream.events[2]["output"] == "42"
    assert stream.ids == list(range(1, len(stream.events) + 1))


def test_another_users_run_is_404_on_every_run_endpoint(
    chat_server, fake, owner, outsider, outsider_key
):
    held = hold("Private reply", after_tokens=1)
    fake.push(held)
    run_id = start_run(chat_server, bearer(owner), "Mine").json()["runId"]
    try:
        for headers in (bearer(outsider), {"X-API-Key": outsider_key}):
            events = httpx.get(f"{chat_server.url}/api/runs/{run_id}/events", headers=headers)
            assert (events.status_code, events.json()["code"]) == (404, "not_found")
            cancel = cancel_run(chat_server, headers, run_id)
            assert (cancel.status_code, cancel.json()["code"]) == (404, "not_found")
        for unknown in (str(uuid.uuid4()), "not-a-uuid"):
            response = httpx.get(
                f"{chat_server.url}/api/runs/{unknown}/events", headers=bearer(owner)
            )
            assert response.status_code == 404
        # The outsider's attempts changed nothing: the turn is still running.
        assert Turn.objects.get(id=run_id).status == "running"
    finally:
        held.release()
    assert read_run(chat_server, bearer(owner), run_id).done


def test_run_requests_are_refused_like_chat_requests(chat_server, fake, owner, outsider):
    url = f"{chat_server.url}/api/runs"
    anonymous = httpx.post(url, json={"message": "hi"})
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    blank = httpx.post(url, json={"message": "  "}, headers=bearer(owner))
    assert (blank.status_code, blank.json()["code"]) == (400, "invalid")
    assert httpx.get(url, headers=bearer(owner)).status_code == 405
    huge = httpx.post(url, content=b'{"message":"' + b"x" * 1_000_001 + b'"}')
    assert huge.status_code == 413

    fake.push(text("Ready."))
    first = chat(chat_server, bearer(owner), "Start")
    foreign = start_run(chat_server, bearer(outsider), "Mine now", first.conversation_id)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")

    held = hold("Still going", after_tokens=1)
    fake.push(held)
    running = start_run(chat_server, bearer(owner), "Next", first.conversation_id)
    assert running.status_code == 202
    try:
        assert held.wait_held(5)
        busy = start_run(chat_server, bearer(owner), "Also", first.conversation_id)
        assert (busy.status_code, busy.json()["code"]) == (409, "run_in_progress")
        # And /api/chat sees the same lock.
        chat_busy = chat(chat_server, bearer(owner), "Also", first.conversation_id)
        assert chat_busy.status == 409
    finally:
        held.release()
    assert read_run(chat_server, bearer(owner), running.json()["runId"]).done

    for bad in ("soon", "²", "٣", "-1", "+3", "1_0", "9" * 30):
        bad_id = httpx.get(
            f"{chat_server.url}/api/runs/{running.json()['runId']}/events",
            headers=[(k.encode(), v.encode()) for k, v in bearer(owner).items()]
            + [(b"Last-Event-ID", bad.encode())],
        )
        assert (bad_id.status_code, bad_id.json()["code"]) == (400, "invalid"), bad


# --------------------------------------------------------------------------
# Two server processes, one Redis
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _two_chat_servers(server_factory, _fake_upstream):
    env = {**LIVE_ENV, "OPENAI_BASE_URL": _fake_upstream.base_url}
    return server_factory(**env), server_factory(**env)


@pytest.fixture
def two_chat_servers(_two_chat_servers, fake, transactional_db):
    yield _two_chat_servers
    wait_until(lambda: not Conversation.objects.filter(active_run__isnull=False).exists())


@pytest.mark.redis
@pytest.mark.postgres
def test_a_client_resumes_on_another_worker_through_redis(two_chat_servers, fake, owner):
    first_worker, second_worker = two_chat_servers
    headers = bearer(owner)
    held = hold(" ".join(f"part{index}" for index in range(12)), after_tokens=3)
    fake.push(held)
    run_id = start_run(first_worker, headers, "Long one").json()["runId"]

    seen = read_run(first_worker, headers, run_id, stop_after=3)
    assert seen.types == ["conversation", "text_delta", "text_delta"]
    held.release()
    rest = read_run(second_worker, headers, run_id, seen.ids[-1])

    assert rest.done
    assert rest.ids == list(range(4, 4 + len(rest.events)))
    assert "".join(
        e["delta"] for e in seen.events[1:] + rest.events if e["type"] == "text_delta"
    ) == "".join(held.tokens)
    assert rest.events[-1]["type"] == "usage"
    assert Turn.objects.get(id=run_id).status == "complete"


@pytest.mark.redis
@pytest.mark.postgres
def test_a_cancel_on_another_worker_stops_the_run(two_chat_servers, fake, owner):
    owner_worker, other_worker = two_chat_servers
    headers = bearer(owner)
    held = hold("Never finishes here", after_tokens=1)
    fake.push(held)
    run_id = start_run(owner_worker, headers, "Stop me").json()["runId"]
    assert held.wait_held(5)

    response = cancel_run(other_worker, headers, run_id)

    assert response.status_code == 202
    assert response.json()["status"] == "interrupted"
    assert fake.model_requests[-1].wait_disconnected(1.0)
    assert Turn.objects.get(id=run_id).status == "interrupted"
    stream = read_run(other_worker, headers, run_id)
    assert stream.done and stream.types == ["conversation", "text_delta"]
    held.release()
