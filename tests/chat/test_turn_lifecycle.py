"""The turn's transitions and what attaches to them, in process: metrics, the
drain, the coalesced checkpoint writer (chat.turn, chat.checkpoints)."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from chat import services
from chat.inputs import ChatInput
from chat.models import Conversation, Turn
from chat.runlog import RunInfo, run_log
from chat.turn import ChatTurn, turn_begin
from chatproject import shutdown
from chatproject.errors import ApiError
from tests.fake_openai import hold, text


@pytest.fixture
def turn_env(transactional_db, upstream_settings, inproc_runs, fake, monkeypatch):
    # A drain in one test must not leave the process draining for the next.
    monkeypatch.setattr(shutdown, "_draining", False)
    monkeypatch.setattr(shutdown, "_drained", False)
    monkeypatch.setattr(shutdown, "_live", set())
    monkeypatch.setattr(shutdown, "_readers", set())
    return fake


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def series() -> dict[str, float]:
    return {
        "completed": sample("chat_turns_total", outcome="completed"),
        "interrupted": sample("chat_turns_total", outcome="interrupted"),
        "active": sample("chat_turns_active"),
        "ttft": sample("chat_time_to_first_token_seconds_count"),
        "input": sample("chat_tokens_total", direction="input"),
        "output": sample("chat_tokens_total", direction="output"),
    }


async def begin(user: Any, message: str) -> ChatTurn:
    return await turn_begin(user=user, data=ChatInput(message=message))


async def produce(turn: ChatTurn) -> list[dict[str, Any]]:
    return [
        json.loads(payload)
        async for batch in turn.events(ping_seconds=None)
        if batch is not None
        for payload in batch
    ]


async def test_a_turn_reports_its_start_first_output_and_end_once(turn_env, owner):
    before = series()
    turn_env.push(text("Counted once.", usage=(5, 4)))

    produced = await produce(await begin(owner, "Count me"))

    assert produced[-1] == {"type": "usage", "input_tokens": 5, "output_tokens": 4}
    after = series()
    assert after["completed"] - before["completed"] == 1
    assert after["interrupted"] == before["interrupted"]
    assert after["active"] == before["active"]
    assert after["ttft"] - before["ttft"] == 1
    assert (after["input"] - before["input"], after["output"] - before["output"]) == (5, 4)


async def test_the_drain_interrupts_a_live_turn_and_its_stream_says_so(turn_env, owner):
    before = series()
    held = hold("Cut short by the deploy", after_tokens=2)
    turn_env.push(held)
    turn = await begin(owner, "Long answer please")
    producing = asyncio.ensure_future(produce(turn))
    assert await asyncio.to_thread(held.wait_held, 5)
    assert shutdown.live_count() == 1

    await shutdown.drain(0)
    produced = await producing
    held.release()

    assert produced[-1] == {
        "type": "error",
        "code": "run_interrupted",
        "message": "The reply was interrupted. Retry to generate it again.",
        "retryable": True,
    }
    assert shutdown.live_count() == 0
    row = await Turn.objects.aget(id=turn.start.run_id)
    assert row.status == "interrupted"
    assert not await Conversation.objects.filter(active_run__isnull=False).aexists()
    after = series()
    assert after["interrupted"] - before["interrupted"] == 1
    assert after["active"] == before["active"]
    # Meanwhile, new turns are refused before anything is written.
    with pytest.raises(ApiError) as refused:
        await begin(owner, "One more")
    assert (refused.value.status, refused.value.code) == (503, "shutting_down")
    assert await Turn.objects.acount() == 1


async def test_the_end_of_the_drain_ends_readers_of_runs_driven_elsewhere(turn_env, owner):
    from chat import runs

    log = run_log()
    run_id = str(uuid.uuid4())  # a run no task in this process drives
    await log.create(RunInfo(run_id, str(owner.pk), str(uuid.uuid4()), runs.RUNNING))
    results: list[Any] = []

    async def read() -> None:
        async for result in runs.follow(run_id, 0, 60):
            results.append(result)

    reading = asyncio.ensure_future(read())
    await asyncio.sleep(0.1)
    assert not reading.done()

    await shutdown.drain(0)
    await asyncio.wait_for(reading, 5)

    assert [result.end for result in results] == [runs.SHUTTING_DOWN]


async def test_checkpoints_are_coalesced_not_per_token(turn_env, owner, settings, monkeypatch):
    settings.CHAT_CHECKPOINT_SECONDS = 1
    loop = asyncio.get_running_loop()
    writes: list[tuple[float, list[Any] | None]] = []
    checkpoint = services.aturn_checkpoint

    async def counted(**kwargs: Any) -> bool:
        writes.append((loop.time(), kwargs["items"]))
        return await checkpoint(**kwargs)

    monkeypatch.setattr(services, "aturn_checkpoint", counted)
    tokens = [f"w{n} " for n in range(60)]
    turn_env.push(text(tokens=tokens, interval=0.04))

    produced = await produce(await begin(owner, "Stream slowly"))

    assert sum(event["type"] == "text_delta" for event in produced) == len(tokens)
    assert 1 <= len(writes) < len(tokens) // 10
    times = [at for at, _items in writes]
    assert all(later - earlier >= 0.99 for earlier, later in itertools.pairwise(times))
    # Each checkpoint carried the question and the reply so far.
    first_items = writes[0][1]
    assert first_items is not None
    assert first_items[0] == {"role": "user", "content": "Stream slowly"}
    assert first_items[-1]["role"] == "assistant"
    assert "".join(tokens).startswith(first_items[-1]["content"])
    stored = await sync_to_async(lambda: list(Turn.objects.values_list("status", flat=True)))()
    assert stored == ["complete"]


async def test_a_new_conversation_whose_rows_cannot_be_written_is_refused_and_its_agent_stopped(
    turn_env, owner, monkeypatch
):
    from usage import slots

    turn_env.push(hold("Never relayed", after_tokens=0))
    started: list[ChatTurn] = []
    real_start_agent = ChatTurn.start_agent

    def spy(self: ChatTurn) -> Any:
        started.append(self)
        return real_start_agent(self)

    def database_gone(**_: Any) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(ChatTurn, "start_agent", spy)
    monkeypatch.setattr(services, "_create_conversation", database_gone)
    with pytest.raises(RuntimeError, match="database gone"):
        await begin(owner, "Lost?")
    # The agent had started (its upstream request overlaps the write) and is stopped.
    (turn,) = started
    await asyncio.sleep(0)
    assert turn._pump is not None and turn._pump.done()
    assert not shutdown._live  # never tracked: nothing to record
    assert slots.store().snapshot(owner.pk)[0] == 0  # its usage slot was given back
    assert not await sync_to_async(Conversation.objects.filter(owner=owner).exists)()


def test_a_turn_begun_on_one_event_loop_refuses_to_stream_on_another(turn_env, owner):
    turn_env.push(text("Elsewhere."))

    async def begin_here() -> ChatTurn:
        return await begin(owner, "Which loop?")

    turn = asyncio.run(begin_here())  # that loop is closed once the turn is returned
    with pytest.raises(RuntimeError, match="event loop that began it"):
        asyncio.run(produce(turn))


async def test_a_new_conversation_left_before_it_streams_stops_its_agent(turn_env, owner):
    # Its agent starts in turn_begin; nobody reads its events.
    held = hold("Never read", after_tokens=1)
    turn_env.push(held)
    turn = await begin(owner, "Gone already")
    assert await sync_to_async(held.wait_held)(10)
    await turn.abandon()
    assert turn._pump is not None and turn._pump.done()
    assert turn.status == Turn.Status.INTERRUPTED
    stored = await sync_to_async(Turn.objects.get)(id=turn.start.run_id)
    assert stored.status == Turn.Status.INTERRUPTED


async def test_the_drain_records_a_new_conversation_whose_events_were_never_read(turn_env, owner):
    held = hold("Never read", after_tokens=1)
    turn_env.push(held)
    turn = await begin(owner, "Drained before streaming")
    assert await sync_to_async(held.wait_held)(10)
    turn.interrupt()
    async with asyncio.timeout(10):
        await turn.wait_ended()
    assert turn._pump is not None and turn._pump.done()
    stored = await sync_to_async(Turn.objects.get)(id=turn.start.run_id)
    assert stored.status == Turn.Status.INTERRUPTED
