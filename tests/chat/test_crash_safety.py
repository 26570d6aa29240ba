"""A worker that dies or restarts loses nothing (docs/architecture.md, "Crash safety").

- The user's message is stored when the turn starts; the reply is checkpointed
  while it streams.
- A turn whose lease ran out is recorded as interrupted, its conversation free
  again; retrying it (``replace_last_turn``) does not duplicate the question.
- Two server processes on PostgreSQL + Redis: ``kill -9`` of the worker driving
  a run ends the other worker's reader with ``run_interrupted`` and ``[DONE]``.
- SIGTERM to ``scripts/serve``: a turn that ends within the grace period
  completes, one that does not is interrupted, new turns get 503 meanwhile.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from chat.models import Conversation, ConversationItem, Turn
from tests.chat.conftest import (
    LIVE_ENV,
    RunStream,
    Stream,
    _parse_run_block,
    chat,
    iter_sse,
    read_run,
    start_run,
    wait_until,
)
from tests.conftest import PRODUCTION_ENV, ServerProcess, bearer, collectstatic
from tests.fake_openai import FakeOpenAI, hold, text

pytestmark = pytest.mark.live

# Short leases and checkpoints, so that the tests wait seconds, not minutes.
# Held replies wait longer than LIVE_ENV's upstream timeout.
CRASH_ENV = {
    **LIVE_ENV,
    "CHAT_CHECKPOINT_SECONDS": "1",
    "CHAT_RUN_LEASE_SECONDS": "3",
    "CHAT_UPSTREAM_TIMEOUT_SECONDS": "30",
}


def history(conversation_id: str) -> list[Any]:
    return list(
        ConversationItem.objects.filter(conversation_id=conversation_id)
        .order_by("position")
        .values_list("data", flat=True)
    )


def messages(server: ServerProcess, headers: dict[str, str], conversation_id: str) -> list[Any]:
    response = httpx.get(f"{server.url}/api/conversations/{conversation_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def assistant_text(message: dict[str, Any]) -> str:
    return "".join(part["text"] for part in message["parts"] if part["type"] == "text")


class Reader(threading.Thread):
    """Follows a run's events in the background, as a browser tab would."""

    def __init__(self, server: ServerProcess, headers: dict[str, str], run_id: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{server.url}/api/runs/{run_id}/events"
        self.headers = headers
        self.stream = RunStream(status=0)
        self.cut: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=60) as response:
                self.stream.status = response.status_code
                buffer = ""
                for chunk in response.iter_text():
                    buffer += chunk
                    while "\n\n" in buffer:
                        block, buffer = buffer.split("\n\n", 1)
                        _parse_run_block(block, self.stream)
        except httpx.HTTPError as error:
            self.cut = error


@pytest.fixture(scope="module")
def _crash_server(server_factory, _fake_upstream):
    return server_factory(OPENAI_BASE_URL=_fake_upstream.base_url, **CRASH_ENV)


@pytest.fixture
def crash_server(_crash_server, fake, transactional_db):
    assert _crash_server.process.poll() is None, _crash_server.log()
    yield _crash_server
    wait_until(lambda: not Conversation.objects.filter(active_run__isnull=False).exists())


# --------------------------------------------------------------------------
# One process: what is stored while a turn streams, and after its lease ran out
# --------------------------------------------------------------------------


def test_the_question_is_stored_at_the_start_and_the_reply_checkpointed(crash_server, fake, owner):
    headers = bearer(owner)
    held = hold("First words then a pause", after_tokens=2)
    fake.push(held)
    run_id = start_run(crash_server, headers, "Keep this").json()["runId"]
    assert held.wait_held(5)

    turn = Turn.objects.get(id=run_id)
    assert turn.status == "running"
    conversation_id = str(turn.conversation_id)
    assert history(conversation_id)[0] == {"role": "user", "content": "Keep this"}
    # Within a checkpoint period the partial reply is stored too.
    partial = {"role": "assistant", "content": "First words "}
    assert wait_until(lambda: partial in history(conversation_id), timeout=5), history(
        conversation_id
    )
    shown = messages(crash_server, headers, conversation_id)
    assert [m["role"] for m in shown] == ["user", "assistant"]
    assert shown[1]["status"] == "running"
    held.release()

    assert read_run(crash_server, headers, run_id).done
    Turn.objects.get(id=run_id, status="complete")
    # The checkpoint was replaced by the finished reply: one question, one answer.
    assert [item.get("role") for item in history(conversation_id)] == ["user", "assistant"]
    assert history(conversation_id)[1]["content"][0]["text"] == "".join(held.tokens)


def _expired_turn(owner, partial: str = "Half an ans") -> Conversation:
    """What a worker killed mid-reply leaves behind: a running turn, its lease gone."""
    now = timezone.now()
    turn_id = uuid.uuid4()
    conversation = Conversation.objects.create(
        owner=owner, title="Crashed", active_run=turn_id, active_run_started_at=now
    )
    Turn.objects.create(
        id=turn_id,
        conversation=conversation,
        model="",
        status="running",
        started_at=now - timedelta(seconds=30),
        lease_expires_at=now - timedelta(seconds=1),
    )
    for position, item in enumerate(
        [{"role": "user", "content": "Lost?"}, {"role": "assistant", "content": partial}]
    ):
        ConversationItem.objects.create(
            conversation=conversation, position=position, turn_id=turn_id, data=item
        )
    return conversation


def test_a_turn_whose_lease_ran_out_frees_its_conversation(crash_server, fake, owner):
    conversation = _expired_turn(owner)
    old_turn = str(conversation.active_run)
    fake.push(text("A new answer."))

    stream = chat(crash_server, bearer(owner), "Next question", str(conversation.id))

    assert stream.status == 200, stream.raw
    assert stream.done and stream.text == "A new answer."
    old = Turn.objects.get(id=old_turn)
    assert (old.status, old.error_code) == ("interrupted", "lease_expired")
    shown = messages(crash_server, bearer(owner), str(conversation.id))
    assert [(m["role"], m.get("status")) for m in shown] == [
        ("user", None),
        ("assistant", "interrupted"),
        ("user", None),
        ("assistant", "complete"),
    ]
    assert assistant_text(shown[1]) == "Half an ans"
    assert fake.last_request.messages[-3:] == [
        {"role": "user", "content": "Lost?"},
        {"role": "assistant", "content": "Half an ans"},
        {"role": "user", "content": "Next question"},
    ]


def test_a_live_lease_still_holds_the_conversation(crash_server, fake, owner):
    conversation = _expired_turn(owner)
    turn_id = str(conversation.active_run)
    Turn.objects.filter(id=turn_id).update(lease_expires_at=timezone.now() + timedelta(seconds=60))
    stream = chat(crash_server, bearer(owner), "Next question", str(conversation.id))
    assert (stream.status, stream.body()["code"]) == (409, "run_in_progress")
    assert Turn.objects.get(id=turn_id).status == "running"
    # Not left for the fixture's wait: release it as its worker would.
    Conversation.objects.filter(id=conversation.id).update(active_run=None)
    Turn.objects.filter(conversation=conversation).update(status="interrupted")


def test_retrying_an_interrupted_turn_resends_the_question_once(crash_server, fake, owner):
    conversation = _expired_turn(owner)
    fake.push(text("The whole answer."))

    response = httpx.post(
        f"{crash_server.url}/api/chat",
        json={
            "message": "Lost?",
            "conversation_id": str(conversation.id),
            "replace_last_turn": True,
        },
        headers=bearer(owner),
        timeout=20,
    )

    assert response.status_code == 200, response.text
    assert response.text.endswith("data: [DONE]\n\n")
    shown = messages(crash_server, bearer(owner), str(conversation.id))
    assert [(m["role"], m.get("status")) for m in shown] == [
        ("user", None),
        ("assistant", "complete"),
    ]
    assert assistant_text(shown[1]) == "The whole answer."
    assert fake.last_request.messages[-1] == {"role": "user", "content": "Lost?"}
    assert [m["role"] for m in fake.last_request.messages].count("user") == 1


# --------------------------------------------------------------------------
# Two processes, PostgreSQL + Redis: kill -9 of the run's worker
# --------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
def test_kill_9_of_the_runs_worker_ends_the_other_workers_reader(
    server_factory, fake, transactional_db, owner
):
    env = {**CRASH_ENV, "OPENAI_BASE_URL": fake.base_url}
    doomed, survivor = server_factory(**env), server_factory(**env)
    headers = bearer(owner)
    held = hold("Partial words before the crash and never the rest", after_tokens=3)
    fake.push(held)
    started = start_run(doomed, headers, "Survive this")
    assert started.status_code == 202, started.text
    run_id, conversation_id = started.json()["runId"], started.json()["conversation_id"]
    assert held.wait_held(5)
    reader = Reader(survivor, headers, run_id)
    reader.start()
    partial = "Partial words before "
    assert wait_until(lambda: {"role": "assistant", "content": partial} in history(conversation_id))

    doomed.process.kill()
    doomed.process.wait(timeout=10)
    reader.join(timeout=30)
    held.release()

    assert not reader.is_alive(), "the reader did not end"
    assert reader.cut is None, f"connection cut: {reader.cut!r}\n{survivor.log()}"
    stream = reader.stream
    assert stream.done
    assert stream.types[:4] == ["conversation", "text_delta", "text_delta", "text_delta"]
    assert stream.events[-1]["type"] == "error"
    assert (stream.events[-1]["code"], stream.events[-1]["retryable"]) == ("run_interrupted", True)
    assert Turn.objects.get(id=run_id).status == "interrupted"
    shown = messages(survivor, headers, conversation_id)
    assert shown[0]["parts"] == [{"type": "text", "text": "Survive this"}]
    assert (assistant_text(shown[1]), shown[1]["status"]) == (partial, "interrupted")
    # A reader that arrives later gets the same end, at once.
    again = read_run(survivor, headers, run_id)
    assert again.done and again.events[-1]["code"] == "run_interrupted"

    fake.push(text("Back again."))
    after = chat(survivor, headers, "Are you there?", conversation_id)
    assert after.status == 200, after.raw
    assert after.done and after.text == "Back again."


# --------------------------------------------------------------------------
# SIGTERM to scripts/serve with turns in flight
# --------------------------------------------------------------------------


def _stream_in_thread(server: ServerProcess, headers: dict[str, str], message: str) -> Any:
    result: dict[str, Any] = {"stream": Stream(status=0, headers=httpx.Headers())}

    def run() -> None:
        try:
            with httpx.stream(
                "POST",
                f"{server.url}/api/chat",
                json={"message": message},
                headers=headers,
                timeout=60,
            ) as response:
                stream = result["stream"] = Stream(
                    status=response.status_code, headers=response.headers
                )
                for _event in iter_sse(response, stream):
                    pass
        except httpx.HTTPError as error:
            result["cut"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    result["thread"] = thread
    return result


def test_sigterm_finishes_short_turns_interrupts_long_ones_and_refuses_new_ones(
    server_factory, fake: FakeOpenAI, transactional_db, owner
):
    collectstatic()
    server = server_factory(
        production_entrypoint=True,
        **PRODUCTION_ENV,
        DJANGO_SECURE_SSL_REDIRECT="0",
        OPENAI_BASE_URL=fake.base_url,
        **CRASH_ENV,
        SHUTDOWN_GRACE_SECONDS="3",
        # The test's tokens are signed with its own key.
        JWT_SIGNING_KEY=settings.JWT_SIGNING_KEY,
    )
    headers = bearer(owner)
    short = text(tokens=[f"w{n} " for n in range(10)], interval=0.1)
    long = hold("Never finished here", after_tokens=1)
    fake.push(short)
    quick = _stream_in_thread(server, headers, "Short one")
    assert wait_until(lambda: quick["stream"].of_type("text_delta"), timeout=10)
    fake.push(long)
    run = start_run(server, headers, "Long one")
    assert run.status_code == 202, run.text
    run_id = run.json()["runId"]
    assert long.wait_held(5)
    reader = Reader(server, headers, run_id)
    reader.start()
    wait_until(lambda: reader.stream.events, timeout=5)

    server.process.send_signal(signal.SIGTERM)
    refused = wait_until(
        lambda: (
            (r := httpx.post(f"{server.url}/api/chat", json={"message": "New"}, headers=headers))
            and r.status_code == 503
            and r
        ),
        timeout=5,
    )
    try:
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    except subprocess.TimeoutExpired:
        pytest.fail(f"server still running after SIGTERM:\n{server.log()}")
    quick["thread"].join(timeout=5)
    reader.join(timeout=5)
    long.release()

    assert refused, server.log()
    assert refused.json()["code"] == "shutting_down"
    assert refused.headers["Retry-After"].isdigit()
    # The short turn finished within the grace period.
    assert "cut" not in quick, quick.get("cut")
    finished = quick["stream"]
    assert finished.done and finished.text == "".join(short.tokens)
    assert finished.types[-1] == "usage"
    assert Turn.objects.get(conversation_id=finished.conversation_id).status == "complete"
    # The long one was interrupted, its reader told so.
    assert reader.cut is None, reader.cut
    assert reader.stream.done
    assert reader.stream.events[-1]["code"] == "run_interrupted"
    turn = Turn.objects.get(id=run_id)
    assert turn.status == "interrupted"
    assert not Conversation.objects.filter(active_run__isnull=False).exists()
