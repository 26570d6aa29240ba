"""WS /ws/chat limits: frame size and rate, the credential checked again, key expiry,
and every frame field validated (a bad frame gets an error frame, the socket stays)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from accounts.api_key_services import api_key_create, api_key_revoke
from accounts.models import User
from chat.models import Conversation
from chatproject.asgi import application
from tests.chat.conftest import LIVE_ENV
from tests.chat.test_websocket import ORIGIN, access_token, communicator, frames_until_done
from tests.fake_openai import text


@pytest.fixture
def ws_env(transactional_db, upstream_settings, inproc_runs, fake):
    return fake


def key_communicator(plaintext: str) -> WebsocketCommunicator:
    headers = [(b"origin", ORIGIN.encode()), (b"x-api-key", plaintext.encode())]
    return WebsocketCommunicator(application, "/ws/chat", headers=headers)


async def closed_with(ws: WebsocketCommunicator) -> tuple[int, str | None]:
    output = await ws.receive_output(timeout=5)
    assert output["type"] == "websocket.close", output
    return output["code"], output.get("reason")


# --------------------------------------------------------------------------
# Frames: every field validated, the socket stays usable
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        pytest.param({"runId": "x", "lastEventId": "²"}, "lastEventId", id="superscript-digit"),
        pytest.param({"runId": "x", "lastEventId": "٣"}, "lastEventId", id="arabic-digit"),
        pytest.param({"runId": "x", "lastEventId": "-1"}, "lastEventId", id="negative-string"),
        pytest.param({"runId": "x", "lastEventId": -1}, "lastEventId", id="negative"),
        pytest.param({"runId": "x", "lastEventId": True}, "lastEventId", id="boolean"),
        pytest.param({"runId": "x", "lastEventId": 1.5}, "lastEventId", id="float"),
        pytest.param({"runId": "x", "lastEventId": "9" * 30}, "lastEventId", id="huge"),
        pytest.param({"runId": 7}, "runId", id="runid-number"),
        pytest.param({"type": "start", "message": "hi"}, "type", id="unknown-type"),
        pytest.param({"message": 5}, "message", id="message-number"),
        pytest.param({"message": "hi", "conversation_id": 3}, "conversation_id", id="id-number"),
        pytest.param({"message": "hi", "replace_last_turn": "yes"}, "replace_last_turn", id="flag"),
    ],
)
async def test_a_bad_field_gets_an_error_frame_and_the_socket_stays_usable(
    ws_env, owner, frame, field
):
    ws = communicator(await sync_to_async(access_token)(owner))
    assert (await ws.connect(timeout=5))[0]
    await ws.send_json_to(frame)
    refused = await ws.receive_json_from(timeout=5)
    assert (refused["type"], refused["code"]) == ("error", "invalid")
    assert list(refused["errors"]) == [field]

    ws_env.push(text("Still here."))
    await ws.send_json_to({"message": "Still there?"})
    frames = await frames_until_done(ws)
    await ws.disconnect()
    assert "".join(f["delta"] for f in frames if f["type"] == "text_delta") == "Still here."


async def test_more_frames_than_the_minute_allows_close_the_socket_with_4429(
    ws_env, owner, settings
):
    settings.WS_MAX_FRAMES_PER_MINUTE = 3
    ws = communicator(await sync_to_async(access_token)(owner))
    assert (await ws.connect(timeout=5))[0]
    for _ in range(3):
        await ws.send_json_to({"type": "stop"})  # nothing to stop: no answer
    assert await ws.receive_nothing(timeout=0.2)
    await ws.send_json_to({"type": "stop"})
    assert await closed_with(ws) == (4429, "too_many_frames")
    await ws.disconnect()


# --------------------------------------------------------------------------
# The credential, checked again
# --------------------------------------------------------------------------


async def test_a_key_revoked_while_the_socket_is_open_cannot_start_a_run(ws_env, owner):
    key, plaintext = await sync_to_async(api_key_create)(user=owner, name="socket")
    ws = key_communicator(plaintext)
    assert (await ws.connect(timeout=5))[0]
    await sync_to_async(api_key_revoke)(api_key=key)

    await ws.send_json_to({"message": "Still allowed?"})
    assert await closed_with(ws) == (4401, "api_key_invalid")
    await ws.disconnect()
    assert not await Conversation.objects.aexists()


async def test_a_user_deactivated_while_the_socket_is_open_cannot_resume(ws_env, owner):
    ws_env.push(text("Before."))
    ws = communicator(await sync_to_async(access_token)(owner))
    assert (await ws.connect(timeout=5))[0]
    await ws.send_json_to({"message": "Hello"})
    run_id = (await frames_until_done(ws))[0]["runId"]
    await User.objects.filter(pk=owner.pk).aupdate(is_active=False)

    await ws.send_json_to({"runId": run_id, "lastEventId": 0})
    assert await closed_with(ws) == (4401, "user_inactive")
    await ws.disconnect()


async def test_the_socket_closes_with_4401_when_its_api_key_expires(ws_env, owner):
    _key, plaintext = await sync_to_async(api_key_create)(
        user=owner, name="short", expires_at=timezone.now() + timedelta(seconds=1)
    )
    ws = key_communicator(plaintext)
    assert (await ws.connect(timeout=5))[0]
    assert await closed_with(ws) == (4401, "token_expired")
    await ws.disconnect()


# --------------------------------------------------------------------------
# Frame size: the servers enforce WS_MAX_FRAME_BYTES
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _uvicorn_server(server_factory, _fake_upstream):
    return server_factory(production_entrypoint=True, **LIVE_ENV)


def _close_after_an_oversized_frame(server, owner) -> ConnectionClosed:
    with connect(
        server.url.replace("http://", "ws://") + "/ws/chat",
        origin=Origin(server.url),
        subprotocols=[Subprotocol("bearer"), Subprotocol(access_token(owner))],
        open_timeout=5,
        proxy=None,
    ) as socket:
        # Just under the limit: read and refused by the app (the message is too long).
        socket.send(json.dumps({"message": "x" * 60_000}))
        assert json.loads(socket.recv(timeout=5))["code"] == "invalid"
        socket.send(json.dumps({"message": "x" * 70_000}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    return closed.value


@pytest.mark.live
def test_a_frame_over_the_limit_closes_with_1009_under_uvicorn(
    _uvicorn_server, fake, transactional_db, owner
):
    closed = _close_after_an_oversized_frame(_uvicorn_server, owner)
    assert closed.rcvd is not None and closed.rcvd.code == 1009


@pytest.mark.live
def test_a_frame_over_the_limit_ends_the_socket_under_daphne(chat_server, owner):
    # Daphne's WebSocket library drops the TCP connection on an oversized frame
    # (autobahn's failByDrop, which Daphne does not expose) instead of sending 1009.
    closed = _close_after_an_oversized_frame(chat_server, owner)
    assert closed.rcvd is None  # no close frame: 1006 at the client
