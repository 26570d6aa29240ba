"""The start gate (chat.start_gate): at most CHAT_STARTING_TURNS turns starting at
once, and every way a start ends gives its place back -- the first model request
(the httpx hook), the demo model's first answer, a refused start, the turn's
record, the time bound -- on the SSE view, background runs and the WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from chat import start_gate
from chat.inputs import ChatInput
from chat.turn import turn_begin
from tests.chat.conftest import make_conversation
from tests.chat.test_websocket import access_token, communicator, frames_until
from tests.conftest import bearer
from tests.fake_openai import hold, text


@pytest.fixture
def one_place(settings, monkeypatch):
    """One turn may start at a time, and the time bound is far away: a place that
    is not given back keeps the next start waiting for the whole test."""
    settings.CHAT_STARTING_TURNS = 1
    monkeypatch.setattr(start_gate, "MAX_HOLD_SECONDS", 60)
    monkeypatch.setattr(start_gate, "MAX_WAIT_SECONDS", 60)
    return settings


async def enters(within: float = 2.0) -> bool:
    """Does a new start get a place within ``within`` seconds? (It gives it back.)"""

    async def enter() -> None:
        async with start_gate.starting() as place:
            start_gate.release(place)

    try:
        await asyncio.wait_for(enter(), within)
    except TimeoutError:
        return False
    return True


# -- the gate itself ----------------------------------------------------------


async def test_a_start_waits_while_the_places_are_held(one_place):
    async with start_gate.starting() as first:
        assert first is not None and first.held
        assert start_gate.current() is first
        assert not await enters(0.1)
        first.release()
        first.release()  # a second release gives nothing back twice
        assert not first.held and start_gate.current() is None
        assert await enters(1)
    assert start_gate.current() is None


async def test_a_start_that_raises_gives_its_place_back(one_place):
    with pytest.raises(RuntimeError):
        async with start_gate.starting():
            raise RuntimeError("refused")
    assert await enters(1)


async def test_a_place_never_given_back_lapses_after_the_time_bound(one_place, monkeypatch):
    monkeypatch.setattr(start_gate, "MAX_HOLD_SECONDS", 0.2)
    async with start_gate.starting() as place:
        assert place is not None
    assert place.held
    assert not await enters(0.05)
    assert await enters(1)
    assert not place.held


async def test_the_gate_is_off_at_zero(settings):
    settings.CHAT_STARTING_TURNS = 0
    async with start_gate.starting() as place:
        assert place is None
        assert await enters(0.1)


# -- the paths that give it back ---------------------------------------------


@pytest.fixture
def gate_env(transactional_db, upstream_settings, inproc_runs, fake, one_place):
    return fake


async def test_the_first_model_request_gives_the_place_back(gate_env, owner):
    held = hold("Still answering", after_tokens=1)
    gate_env.push(held)
    async with start_gate.starting():
        turn = await turn_begin(user=owner, data=ChatInput(message="Hi"))
    assert turn.place is not None and turn.place.held
    producing = asyncio.ensure_future(_drain(turn.events(ping_seconds=None)))

    assert await asyncio.to_thread(held.wait_held, 5)
    # The upstream has the request and the turn is still streaming: the place is free.
    assert not turn.place.held and await enters()
    held.release()
    await producing


async def test_the_demo_model_gives_the_place_back_when_it_starts(
    transactional_db, demo_settings, inproc_runs, one_place, owner
):
    demo_settings.CHAT_DEMO_TOKEN_MS = 200  # long enough to look while it streams
    async with start_gate.starting():
        turn = await turn_begin(user=owner, data=ChatInput(message="Hi demo"))
    produced = turn.events(ping_seconds=None)
    batches = 0
    async for _batch in produced:
        batches += 1
        if batches == 3:  # past the conversation event and the tool call
            break
    assert not turn.state.ended
    assert turn.place is not None and not turn.place.held
    assert await enters()
    await produced.aclose()


async def test_a_turn_that_ends_before_its_model_request_gives_it_back(gate_env, owner):
    # An existing conversation: its agent starts with the stream, not in turn_begin.
    conversation = await sync_to_async(make_conversation)(owner)
    async with start_gate.starting():
        turn = await turn_begin(
            user=owner, data=ChatInput(message="Never mind", conversation_id=conversation.id)
        )
    turn.cancel()  # a stop before the agent ran: nothing is sent upstream
    await _drain(turn.events(ping_seconds=None))
    assert gate_env.model_requests == []
    assert turn.place is not None and not turn.place.held
    assert await enters()


async def test_refused_requests_give_their_place_back(gate_env, owner):
    client = AsyncClient()
    headers = bearer(owner)
    for body in ("{not json", json.dumps({"message": 5}), json.dumps({"message": "x" * 10**5})):
        response = await asyncio.wait_for(
            client.post("/api/chat", data=body, content_type="application/json", headers=headers),
            5,
        )
        assert response.status_code in (400, 413)
    response = await asyncio.wait_for(
        client.post("/api/runs", data="[]", content_type="application/json", headers=headers), 5
    )
    assert response.status_code == 400
    anonymous = await asyncio.wait_for(
        client.post("/api/chat", data="{}", content_type="application/json"), 5
    )
    assert anonymous.status_code == 401
    assert await enters()


async def test_a_streamed_reply_gives_its_place_back_at_its_model_request(gate_env, owner):
    held = hold("Streaming over SSE", after_tokens=1)
    gate_env.push(held)
    response: Any = await AsyncClient().post(
        "/api/chat",
        data=json.dumps({"message": "Hi"}),
        content_type="application/json",
        headers=bearer(owner),
    )
    assert response.status_code == 200
    reading = asyncio.ensure_future(_drain(response.streaming_content))
    assert await asyncio.to_thread(held.wait_held, 5)
    assert await enters()
    held.release()
    await reading


async def test_a_background_run_and_a_socket_turn_give_it_back(gate_env, owner):
    first = hold("A background run", after_tokens=1)
    gate_env.push(first)
    response = await AsyncClient().post(
        "/api/runs",
        data=json.dumps({"message": "Run"}),
        content_type="application/json",
        headers=bearer(owner),
    )
    assert response.status_code == 202
    assert await asyncio.to_thread(first.wait_held, 5)
    assert await enters()

    second = hold("Over the socket", after_tokens=1)
    gate_env.push(second)
    ws = communicator(access_token(owner))
    assert (await ws.connect(timeout=5))[0]
    await ws.send_json_to({"message": "Socket"})
    await frames_until(ws, 2)  # the conversation and the first delta
    assert await enters()
    first.release()
    second.release()
    await ws.disconnect()


async def test_a_finished_reply_leaves_the_gate_free(gate_env, owner):
    gate_env.push(text("Done quickly.", usage=(3, 2)))
    response: Any = await AsyncClient().post(
        "/api/chat",
        data=json.dumps({"message": "Quick"}),
        content_type="application/json",
        headers=bearer(owner),
    )
    await _drain(response.streaming_content)
    assert await enters()


async def _drain(iterator: Any) -> None:
    async for _ in iterator:
        pass


async def test_a_start_that_waited_too_long_goes_on_without_a_place(one_place, monkeypatch):
    monkeypatch.setattr(start_gate, "MAX_WAIT_SECONDS", 0.05)
    async with start_gate.starting() as held:
        async with start_gate.starting() as late:
            assert late is None
        assert held is not None and held.held and start_gate.current() is held
