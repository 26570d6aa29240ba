"""``replace_last_turn``: regenerate, edit-and-resend and retry replace the last turn.

The same input contract on ``POST /api/chat``, ``POST /api/runs`` and the
WebSocket's message frame; refusals are plain HTTP errors (or error frames)
and change nothing.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from django.utils import timezone
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from chat.models import Conversation, ConversationItem, Turn
from tests.chat.conftest import (
    chat,
    make_conversation,
    post_json,
    read_run,
    start_run,
    stream_post,
)
from tests.conftest import bearer
from tests.fake_openai import hold, text

CHAT = "/api/chat"


def history(conversation_id) -> list[dict]:
    return list(
        ConversationItem.objects.filter(conversation_id=conversation_id)
        .order_by("position")
        .values_list("data", flat=True)
    )


def detail(server, headers, conversation_id) -> list[tuple[str, list]]:
    response = httpx.get(f"{server.url}/api/conversations/{conversation_id}", headers=headers)
    assert response.status_code == 200, response.text
    return [(m["role"], m["parts"]) for m in response.json()["messages"]]


def said(role: str, words: str) -> tuple[str, list]:
    return (role, [{"type": "text", "text": words}])


# --------------------------------------------------------------------------
# Refusals (the test client, the offline demo model)
# --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
class TestRefusals:
    def test_without_a_conversation_id_is_400_on_the_field(self, client, owner):
        response = post_json(
            client, CHAT, {"message": "hi", "replace_last_turn": True}, bearer(owner)
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert list(response.json()["errors"]) == ["replace_last_turn"]
        assert not Conversation.objects.exists()

    @pytest.mark.parametrize("value", ["true", 1, None])
    def test_a_non_boolean_is_400(self, client, owner, value):
        conversation = make_conversation(owner, items=[{"role": "user", "content": "hi"}])
        body = {
            "message": "hi",
            "conversation_id": str(conversation.id),
            "replace_last_turn": value,
        }
        response = post_json(client, CHAT, body, bearer(owner))
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["replace_last_turn"]
        assert len(history(conversation.id)) == 1

    def test_a_conversation_without_a_user_message_is_409_nothing_to_replace(self, client, owner):
        conversation = make_conversation(owner)
        body = {"message": "hi", "conversation_id": str(conversation.id), "replace_last_turn": True}
        response = post_json(client, CHAT, body, bearer(owner))
        assert (response.status_code, response.json()["code"]) == (409, "nothing_to_replace")
        conversation.refresh_from_db()
        assert conversation.active_run is None  # the claim was rolled back with it

    def test_a_live_turn_is_409_run_in_progress_and_nothing_is_dropped(self, client, owner):
        items = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
        conversation = make_conversation(owner, items=items)
        Conversation.objects.filter(id=conversation.id).update(
            active_run=uuid.uuid4(), active_run_started_at=timezone.now()
        )
        body = {"message": "Q", "conversation_id": str(conversation.id), "replace_last_turn": True}
        response = post_json(client, CHAT, body, bearer(owner))
        assert (response.status_code, response.json()["code"]) == (409, "run_in_progress")
        assert history(conversation.id) == items

    def test_another_users_conversation_is_404_and_untouched(
        self, client, owner, outsider, outsider_key
    ):
        items = [{"role": "user", "content": "Mine"}, {"role": "assistant", "content": "Yes"}]
        conversation = make_conversation(owner, items=items)
        body = {"message": "x", "conversation_id": str(conversation.id), "replace_last_turn": True}
        for headers in (bearer(outsider), {"X-API-Key": outsider_key}):
            response = post_json(client, CHAT, body, headers)
            assert (response.status_code, response.json()["code"]) == (404, "not_found")
        assert history(conversation.id) == items

    def test_regenerating_replaces_the_last_turn_only(self, client, owner, demo_settings):
        stream_post(CHAT, {"message": "One"}, bearer(owner))
        conversation = Conversation.objects.get()
        stream_post(
            CHAT, {"message": "Two", "conversation_id": str(conversation.id)}, bearer(owner)
        )
        assert Turn.objects.filter(conversation=conversation).count() == 2
        kept = history(conversation.id)[:2]

        body = {
            "message": "Two, again",
            "conversation_id": str(conversation.id),
            "replace_last_turn": True,
        }
        stream_post(CHAT, body, bearer(owner))

        items = history(conversation.id)
        assert items[:2] == kept
        users = [item["content"] for item in items if item.get("role") == "user"]
        assert users == ["One", "Two, again"]
        assert Turn.objects.filter(conversation=conversation).count() == 2
        assert list(
            ConversationItem.objects.filter(conversation=conversation)
            .values_list("position", flat=True)
            .order_by("position")
        ) == list(range(len(items)))


# --------------------------------------------------------------------------
# A live server: what the model is sent, and the other two transports
# --------------------------------------------------------------------------


@pytest.mark.live
def test_editing_the_last_message_sends_the_edit_instead_and_shows_one_turn(
    chat_server, fake, owner
):
    fake.push(text("Paris."), text("Four."), text("Eight."))
    first = chat(chat_server, bearer(owner), "Capital of France?")
    chat(chat_server, bearer(owner), "2+2?", first.conversation_id)

    body = {"message": "4+4?", "conversation_id": first.conversation_id, "replace_last_turn": True}
    response = httpx.post(f"{chat_server.url}/api/chat", json=body, headers=bearer(owner))
    assert response.status_code == 200
    assert response.text.endswith("data: [DONE]\n\n")

    sent = [(m["role"], m["content"]) for m in fake.requests[-1].messages if m["role"] != "system"]
    assert sent == [("user", "Capital of France?"), ("assistant", "Paris."), ("user", "4+4?")]
    assert detail(chat_server, bearer(owner), first.conversation_id) == [
        said("user", "Capital of France?"),
        said("assistant", "Paris."),
        said("user", "4+4?"),
        said("assistant", "Eight."),
    ]
    assert Turn.objects.filter(conversation_id=first.conversation_id).count() == 2


@pytest.mark.live
def test_a_run_retries_an_interrupted_turn_in_its_place(chat_server, fake, owner):
    held = hold("Half an answer that never ends", after_tokens=1)
    fake.push(held)
    run_id = start_run(chat_server, bearer(owner), "Tell me").json()["runId"]
    assert held.wait_held(5)
    httpx.post(f"{chat_server.url}/api/runs/{run_id}/cancel", headers=bearer(owner))
    held.release()
    conversation_id = str(Turn.objects.get(id=run_id).conversation_id)
    assert Turn.objects.get(id=run_id).status == "interrupted"

    fake.push(text("The whole answer."))
    body = {"message": "Tell me", "conversation_id": conversation_id, "replace_last_turn": True}
    retried = httpx.post(f"{chat_server.url}/api/runs", json=body, headers=bearer(owner))
    assert retried.status_code == 202, retried.text
    assert read_run(chat_server, bearer(owner), retried.json()["runId"]).done

    assert detail(chat_server, bearer(owner), conversation_id) == [
        said("user", "Tell me"),
        said("assistant", "The whole answer."),
    ]
    assert not Turn.objects.filter(id=run_id).exists()
    assert Turn.objects.get(conversation_id=conversation_id).status == "complete"


@pytest.mark.live
def test_the_websocket_message_frame_takes_replace_last_turn(chat_server, fake, owner):
    fake.push(text("First try."), text("Second try."))
    first = chat(chat_server, bearer(owner), "Try")
    token = bearer(owner)["Authorization"].split(" ", 1)[1]
    with connect(
        chat_server.url.replace("http://", "ws://") + "/ws/chat",
        origin=Origin(chat_server.url),
        subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
        open_timeout=5,
        proxy=None,
    ) as socket:
        socket.send(
            json.dumps(
                {
                    "message": "Try",
                    "conversation_id": first.conversation_id,
                    "replace_last_turn": True,
                }
            )
        )
        while json.loads(socket.recv(timeout=10))["type"] != "done":
            pass
        socket.send(json.dumps({"message": "Try", "replace_last_turn": True}))
        refused = json.loads(socket.recv(timeout=10))
    assert (refused["type"], refused["code"]) == ("error", "invalid")
    assert list(refused["errors"]) == ["replace_last_turn"]
    assert detail(chat_server, bearer(owner), first.conversation_id) == [
        said("user", "Try"),
        said("assistant", "Second try."),
    ]
