"""GET/PATCH/DELETE /api/conversations, the history's Message shape, and GET /api/config."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import Conversation, ConversationItem, Turn
from chat.services import title_from_message
from tests.chat.conftest import make_conversation
from tests.conftest import bearer


def _age(conversation: Conversation, minutes: int) -> None:
    Conversation.objects.filter(id=conversation.id).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_list_shows_only_own_conversations_newest_first(client, owner, outsider):
    older = make_conversation(owner, "older")
    newer = make_conversation(owner, "newer")
    make_conversation(outsider, "not yours")
    _age(older, 10)
    _age(newer, 1)

    response = client.get("/api/conversations", headers=bearer(owner))

    assert response.status_code == 200
    body = response.json()
    assert [c["title"] for c in body["results"]] == ["newer", "older"]
    assert set(body["results"][0]) == {"id", "title", "created_at", "updated_at"}
    assert body["next"] is None and body["previous"] is None


def test_list_is_cursor_paginated(client, owner):
    for minutes in range(5):
        _age(make_conversation(owner, f"chat {minutes}"), minutes)
    first = client.get("/api/conversations?page_size=2", headers=bearer(owner)).json()
    assert [c["title"] for c in first["results"]] == ["chat 0", "chat 1"]
    assert first["next"] and first["previous"] is None
    second = client.get(first["next"], headers=bearer(owner)).json()
    assert [c["title"] for c in second["results"]] == ["chat 2", "chat 3"]
    third = client.get(second["next"], headers=bearer(owner)).json()
    assert [c["title"] for c in third["results"]] == ["chat 4"]
    assert third["next"] is None and third["previous"]


def test_list_needs_credentials_and_accepts_a_chat_key(client, owner, owner_key):
    make_conversation(owner, "mine")
    assert client.get("/api/conversations").status_code == 401
    response = client.get("/api/conversations", headers={"X-API-Key": owner_key})
    assert [c["title"] for c in response.json()["results"]] == ["mine"]


def test_outsider_gets_404_on_every_method(client, owner, outsider, outsider_key):
    conversation = make_conversation(owner)
    url = f"/api/conversations/{conversation.id}"
    for headers in (bearer(outsider), {"X-API-Key": outsider_key}):
        assert client.get(url, headers=headers).status_code == 404
        patch = client.patch(
            url, {"title": "mine now"}, content_type="application/json", headers=headers
        )
        assert patch.status_code == 404
        assert client.delete(url, headers=headers).status_code == 404
    conversation.refresh_from_db()
    assert conversation.title == "A chat"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "8d0b3a53-4d35-4a4e-9f3a-00000000000"])
def test_a_malformed_id_is_404(client, owner, bad_id):
    response = client.get(f"/api/conversations/{bad_id}", headers=bearer(owner))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_trailing_slash_is_404(client, owner):
    conversation = make_conversation(owner)
    response = client.get(f"/api/conversations/{conversation.id}/", headers=bearer(owner))
    assert response.status_code == 404


def test_detail_turns_items_into_messages(client, owner):
    conversation = make_conversation(
        owner,
        "Time",
        [
            {"role": "user", "content": "What time is it?"},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Use the tool."}],
            },
            {
                "type": "function_call",
                "name": "current_time",
                "arguments": '{"timezone":"UTC"}',
                "call_id": "c1",
            },
            {"type": "function_call_output", "call_id": "c1", "output": "Monday 12:00"},
            {
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "It is noon.", "annotations": []}],
            },
            {"role": "user", "content": "Thanks"},
            {"role": "assistant", "content": "You're wel"},
        ],
    )
    now = timezone.now()
    turn = Turn.objects.create(
        conversation=conversation, model="m", status="interrupted", started_at=now, finished_at=now
    )
    ConversationItem.objects.filter(conversation=conversation, position__gte=5).update(turn=turn)

    body = client.get(f"/api/conversations/{conversation.id}", headers=bearer(owner)).json()

    assert body["id"] == str(conversation.id) and body["title"] == "Time"
    assert {"created_at", "updated_at"} <= set(body)
    messages = body["messages"]
    assert [(m["role"], m["parts"]) for m in messages] == [
        ("user", [{"type": "text", "text": "What time is it?"}]),
        (
            "assistant",
            [
                {"type": "reasoning", "text": "Use the tool."},
                {
                    "type": "tool_call",
                    "tool_name": "current_time",
                    "argument": '{"timezone":"UTC"}',
                    "callId": "c1",
                    "result": "Monday 12:00",
                },
                {"type": "text", "text": "It is noon."},
            ],
        ),
        ("user", [{"type": "text", "text": "Thanks"}]),
        ("assistant", [{"type": "text", "text": "You're wel"}]),
    ]
    assert messages[3]["status"] == "interrupted"
    assert len({m["id"] for m in messages}) == 4


@pytest.mark.parametrize("status", ["running", "failed"])
def test_a_reply_with_nothing_checkpointed_yet_shows_only_while_running(client, owner, status):
    """The question is stored when a turn starts and its reply only at the first
    checkpoint. In between, a running turn still shows an (empty) assistant message
    with its status, so a reloaded page resumes the run instead of taking the turn
    for one that ended with no output (which shows no reply)."""
    conversation = make_conversation(
        owner,
        "Live",
        [
            {"role": "user", "content": "Earlier"},
            {"role": "assistant", "content": "Old answer"},
            {"role": "user", "content": "In progress?"},
        ],
    )
    turn = Turn.objects.create(
        conversation=conversation, model="m", status=status, started_at=timezone.now()
    )
    ConversationItem.objects.filter(conversation=conversation, position=2).update(turn=turn)

    body = client.get(f"/api/conversations/{conversation.id}", headers=bearer(owner)).json()

    shown = [(m["role"], m["parts"], m.get("status")) for m in body["messages"]]
    question = ("user", [{"type": "text", "text": "In progress?"}], None)
    if status == "running":
        assert shown[2:] == [question, ("assistant", [], "running")]
    else:
        assert shown[2:] == [question]
    assert len({m["id"] for m in body["messages"]}) == len(shown)


def test_patch_renames(client, owner):
    conversation = make_conversation(owner)
    response = client.patch(
        f"/api/conversations/{conversation.id}",
        {"title": "  Holiday plans  "},
        content_type="application/json",
        headers=bearer(owner),
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Holiday plans"
    assert response.json()["messages"] == []
    conversation.refresh_from_db()
    assert conversation.title == "Holiday plans"


@pytest.mark.parametrize("title", ["", "   ", None, 42, True, ["x"], "x" * 201])
def test_patch_refuses_a_bad_title(client, owner, title):
    conversation = make_conversation(owner, "Keep me")
    response = client.patch(
        f"/api/conversations/{conversation.id}",
        {"title": title},
        content_type="application/json",
        headers=bearer(owner),
    )
    assert response.status_code == 400
    assert "title" in response.json()["errors"]
    conversation.refresh_from_db()
    assert conversation.title == "Keep me"


def test_delete_removes_the_conversation_and_its_history(client, owner):
    conversation = make_conversation(owner, items=[{"role": "user", "content": "hi"}])
    response = client.delete(f"/api/conversations/{conversation.id}", headers=bearer(owner))
    assert response.status_code == 204
    assert not Conversation.objects.exists()
    assert not ConversationItem.objects.exists()
    assert (
        client.get(f"/api/conversations/{conversation.id}", headers=bearer(owner)).status_code
        == 404
    )


def test_delete_during_a_live_run_is_409_and_keeps_everything(client, owner):
    conversation = make_conversation(owner, items=[{"role": "user", "content": "hi"}])
    Conversation.objects.filter(id=conversation.id).update(
        active_run=uuid.uuid4(), active_run_started_at=timezone.now()
    )
    response = client.delete(f"/api/conversations/{conversation.id}", headers=bearer(owner))
    assert response.status_code == 409
    assert response.json()["code"] == "run_in_progress"
    assert ConversationItem.objects.filter(conversation=conversation).count() == 1


def test_delete_after_a_stale_run_lock_succeeds(client, owner, settings):
    conversation = make_conversation(owner)
    long_ago = timezone.now() - timedelta(seconds=settings.CHAT_RUN_STALE_SECONDS + 60)
    Conversation.objects.filter(id=conversation.id).update(
        active_run=uuid.uuid4(), active_run_started_at=long_ago
    )
    response = client.delete(f"/api/conversations/{conversation.id}", headers=bearer(owner))
    assert response.status_code == 204
    assert not Conversation.objects.filter(id=conversation.id).exists()


def test_title_is_the_first_message_trimmed():
    assert title_from_message("  Hello\n  world  ") == "Hello world"
    long = "Please help me plan a three week trip through Japan in the spring with kids"
    title = title_from_message(long)
    assert len(title) <= 60 and title.endswith("…")
    assert long.startswith(title[:-1])


def test_config_says_offline_demo_when_no_model_is_configured(client, settings):
    settings.OPENAI_API_KEY = None
    settings.OPENAI_BASE_URL = None
    settings.ALLOW_SIGNUP = True
    body = client.get("/api/config").json()
    assert body == {
        "signup_enabled": True,
        "model": {"name": "offline-demo", "api": "offline_demo", "offline_demo": True},
    }


def test_config_names_the_configured_model(client, settings):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = None
    settings.OPENAI_MODEL = "gpt-test"
    settings.CHAT_MODEL_API = "responses"
    settings.ALLOW_SIGNUP = False
    body = client.get("/api/config").json()
    assert body == {
        "signup_enabled": False,
        "model": {"name": "gpt-test", "api": "responses", "offline_demo": False},
    }
    assert "sk-test" not in str(body)
