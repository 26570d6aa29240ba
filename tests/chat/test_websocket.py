"""WS /ws/chat: authentication and Origin at the handshake, token expiry, start/stop/resume frames.

Consumer tests drive the real ASGI application (Origin validator, router,
consumer) with ``WebsocketCommunicator``; the run behind them goes on in this
test's event loop against the fake upstream. The end-to-end tests use a real
Daphne process and the ``websockets`` client, as a browser would.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from chat.models import Turn
from chatproject.asgi import application
from tests.fake_openai import hold, text

ORIGIN = "http://127.0.0.1:8000"


def access_token(user, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


def communicator(
    token: str | None = None, origin: str | None = ORIGIN, protocols: list[str] | None = None
) -> WebsocketCommunicator:
    headers: list[tuple[bytes, bytes]] = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if protocols is None and token is not None:
        protocols = ["bearer", token]
    if protocols:
        headers.append((b"sec-websocket-protocol", ", ".join(protocols).encode()))
    return WebsocketCommunicator(application, "/ws/chat", headers=headers, subprotocols=protocols)


async def frames_until_done(ws: WebsocketCommunicator) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await ws.receive_json_from(timeout=10)
        frames.append(frame)
        if frame["type"] == "done":
            return frames


async def frames_until(ws: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    return [await ws.receive_json_from(timeout=10) for _ in range(count)]


def text_of(frames: list[dict[str, Any]]) -> str:
    return "".join(frame["delta"] for frame in frames if frame["type"] == "text_delta")


@pytest.fixture
def ws_env(transactional_db, upstream_settings, inproc_runs, fake):
    """A consumer test: committed rows, the fake upstream, runs awaited at the end."""
    return fake


# --------------------------------------------------------------------------
# Handshake
# --------------------------------------------------------------------------


async def test_a_valid_token_is_accepted_with_bearer_and_a_message_streams_a_run(ws_env, owner):
    ws_env.push(text("Hello over the socket.", usage=(5, 4)))
    ws = communicator(access_token(owner))
    connected, subprotocol = await ws.connect(timeout=5)
    assert (connected, subprotocol) == (True, "bearer")

    await ws.send_json_to({"message": "Hi socket"})
    frames = await frames_until_done(ws)
    await ws.disconnect()

    run_id = frames[0]["runId"]
    assert frames[0]["type"] == "conversation" and frames[0]["title"] == "Hi socket"
    assert all(frame["runId"] == run_id for frame in frames)
    assert [frame["eventId"] for frame in frames[:-1]] == list(range(1, len(frames)))
    assert text_of(frames) == "Hello over the socket."
    assert frames[-2] == {
        "type": "usage",
        "input_tokens": 5,
        "output_tokens": 4,
        "runId": run_id,
        "eventId": len(frames) - 1,
    }
    assert frames[-1] == {"type": "done", "runId": run_id}
    turn = await Turn.objects.aget(id=run_id)
    assert (turn.status, str(turn.conversation_id)) == ("complete", frames[0]["id"])


def _expired(user) -> str:
    return access_token(user, lifetime=timedelta(minutes=-5))


def _refresh(user) -> str:
    return str(RefreshToken.for_user(user))


@pytest.mark.parametrize(
    ("make_protocols", "reason"),
    [
        pytest.param(lambda user: None, "not_authenticated", id="missing"),
        pytest.param(lambda user: ["bearer", "not.a.jwt"], "token_not_valid", id="bad"),
        pytest.param(lambda user: ["bearer", _expired(user)], "token_not_valid", id="expired"),
        pytest.param(lambda user: ["bearer", _refresh(user)], "token_not_valid", id="refresh"),
    ],
)
async def test_a_bad_credential_is_accepted_then_closed_with_4401(
    ws_env, owner, make_protocols, reason
):
    protocols = await _in_thread(make_protocols, owner)
    ws = communicator(protocols=protocols)
    connected, subprotocol = await ws.connect(timeout=5)
    # Accepted first: a close before the accept reaches the client as HTTP 403.
    assert connected
    assert subprotocol == ("bearer" if protocols else None)
    closed = await ws.receive_output(timeout=5)
    assert closed["type"] == "websocket.close"
    assert closed["code"] == 4401
    assert closed.get("reason") == reason
    await ws.disconnect()


async def _in_thread(function, *args):
    from asgiref.sync import sync_to_async

    return await sync_to_async(function)(*args)


@pytest.mark.parametrize(
    "origin", [pytest.param("https://evil.example", id="foreign"), pytest.param(None, id="none")]
)
async def test_a_wrong_origin_is_refused(ws_env, owner, origin):
    ws = communicator(access_token(owner), origin=origin)
    connected, _code = await ws.connect(timeout=5)
    assert not connected


async def test_the_socket_closes_with_4401_when_the_token_expires(ws_env, owner):
    # ``exp`` is whole seconds: this token expires 1-2 s from now.
    ws = communicator(access_token(owner, lifetime=timedelta(seconds=2)))
    opened_at = time.monotonic()
    connected, _subprotocol = await ws.connect(timeout=5)
    assert connected
    closed = await ws.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401
    assert 0.9 < time.monotonic() - opened_at < 3.5
    await ws.disconnect()


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------


async def test_a_stop_frame_cancels_the_run_and_keeps_the_partial_reply(ws_env, owner):
    held = hold("Partial answer that never finishes", after_tokens=2)
    ws_env.push(held)
    ws = communicator(access_token(owner))
    assert (await ws.connect(timeout=5))[0]
    await ws.send_json_to({"message": "Go"})
    seen = await frames_until(ws, 3)
    assert [frame["type"] for frame in seen] == ["conversation", "text_delta", "text_delta"]

    await ws.send_json_to({"type": "stop"})
    rest = await frames_until_done(ws)
    await ws.disconnect()

    assert rest == [{"type": "done", "runId": seen[0]["runId"]}]
    assert await ws_env.model_requests[-1].wait_disconnected_async(1.0)
    turn = await Turn.objects.aget(id=seen[0]["runId"])
    assert turn.status == "interrupted"
    held.release()


async def test_a_resume_frame_continues_after_the_last_event_seen(ws_env, owner):
    held = hold("one two three four five six", after_tokens=2)
    ws_env.push(held)
    first = communicator(access_token(owner))
    assert (await first.connect(timeout=5))[0]
    await first.send_json_to({"message": "Count"})
    seen = await frames_until(first, 3)
    await first.disconnect()  # the connection drops; the run goes on
    held.release()

    second = communicator(access_token(owner))
    assert (await second.connect(timeout=5))[0]
    run_id = seen[-1]["runId"]
    await second.send_json_to({"runId": run_id, "lastEventId": seen[-1]["eventId"]})
    rest = await frames_until_done(second)
    await second.disconnect()

    assert [frame["eventId"] for frame in rest[:-1]] == list(range(4, 4 + len(rest) - 1))
    assert text_of(seen + rest) == "one two three four five six"
    assert rest[-2]["type"] == "usage" and rest[-1] == {"type": "done", "runId": run_id}


async def test_refused_frames_get_an_error_frame_and_the_socket_stays_open(ws_env, owner, outsider):
    ws_env.push(text("Private."))
    other = communicator(access_token(outsider))
    assert (await other.connect(timeout=5))[0]
    await other.send_json_to({"message": "Outsider's question"})
    outsider_run = (await frames_until_done(other))[0]["runId"]
    await other.disconnect()

    ws = communicator(access_token(owner))
    assert (await ws.connect(timeout=5))[0]
    await ws.send_to(text_data="{not json")
    assert (await ws.receive_json_from(timeout=5))["code"] == "parse_error"
    await ws.send_json_to({"message": "   "})
    assert (await ws.receive_json_from(timeout=5))["code"] == "invalid"
    await ws.send_json_to({"runId": outsider_run, "lastEventId": 0})
    refused = await ws.receive_json_from(timeout=5)
    assert refused == {"type": "error", "code": "not_found", "message": "Run not found."}
    await ws.send_json_to({"hello": "there"})
    assert (await ws.receive_json_from(timeout=5))["code"] == "invalid"

    held = hold("Busy", after_tokens=1)
    ws_env.push(held)
    await ws.send_json_to({"message": "First"})
    assert (await ws.receive_json_from(timeout=5))["type"] == "conversation"
    await ws.send_json_to({"message": "Second"})
    frames = [await ws.receive_json_from(timeout=5) for _ in range(2)]
    assert {"type": "error", "code": "run_in_progress"}.items() <= next(
        frame for frame in frames if frame["type"] == "error"
    ).items()
    held.release()
    await frames_until_done(ws)
    await ws.disconnect()


# --------------------------------------------------------------------------
# End to end: a Daphne process and a real WebSocket client
# --------------------------------------------------------------------------


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/ws/chat"


def open_socket(server, token: str | None, origin: str | None = None):
    return connect(
        ws_url(server),
        origin=Origin(origin or server.url),
        subprotocols=[Subprotocol("bearer"), Subprotocol(token)] if token else None,
        open_timeout=5,
        proxy=None,
    )


def receive_until_done(socket) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(socket.recv(timeout=10))
        frames.append(frame)
        if frame["type"] in ("done",):
            return frames


@pytest.mark.live
def test_end_to_end_a_browser_like_client_streams_a_reply(chat_server, fake, owner):
    fake.push(text("Straight from Daphne."))
    with open_socket(chat_server, access_token(owner)) as socket:
        assert socket.subprotocol == "bearer"
        socket.send(json.dumps({"message": "Hello Daphne"}))
        frames = receive_until_done(socket)
    assert frames[0]["type"] == "conversation"
    assert text_of(frames) == "Straight from Daphne."
    assert frames[-1] == {"type": "done", "runId": frames[0]["runId"]}
    assert Turn.objects.get(id=frames[0]["runId"]).status == "complete"


@pytest.mark.live
def test_end_to_end_missing_token_closes_4401_and_wrong_origin_is_rejected(chat_server, owner):
    with open_socket(chat_server, None) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd.code == 4401

    with pytest.raises(InvalidStatus) as rejected:
        open_socket(chat_server, access_token(owner), origin="https://evil.example")
    assert rejected.value.response.status_code == 403


@pytest.mark.live
def test_end_to_end_token_expiring_mid_stream_then_resume_with_a_fresh_one(
    chat_server, fake, owner
):
    held = hold("alpha beta gamma delta", after_tokens=1)
    fake.push(held)
    short = access_token(owner, lifetime=timedelta(seconds=2))
    with open_socket(chat_server, short) as socket:
        socket.send(json.dumps({"message": "Slowly"}))
        seen = [json.loads(socket.recv(timeout=5)) for _ in range(2)]
        assert [frame["type"] for frame in seen] == ["conversation", "text_delta"]
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                socket.recv(timeout=5)
    assert closed.value.rcvd.code == 4401
    held.release()

    with open_socket(chat_server, access_token(owner)) as socket:
        socket.send(json.dumps({"runId": seen[0]["runId"], "lastEventId": seen[-1]["eventId"]}))
        rest = receive_until_done(socket)
    assert rest[0]["eventId"] == seen[-1]["eventId"] + 1
    assert text_of(seen + rest) == "alpha beta gamma delta"
    assert Turn.objects.get(id=seen[0]["runId"]).status == "complete"
