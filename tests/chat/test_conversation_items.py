"""GET /api/conversations/<id>/items: the stored Agents SDK input items, owner only."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.api_key_services import api_key_create
from tests.chat.conftest import make_conversation
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

TOOL_TURN: list[dict[str, Any]] = [
    {"role": "user", "content": "6*7?"},
    {
        "type": "function_call",
        "call_id": "c1",
        "name": "calculate",
        "arguments": '{"expression": "6*7"}',
    },
    {"type": "function_call_output", "call_id": "c1", "output": "42"},
    {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "42."}],
    },
]


def url(conversation) -> str:
    return f"/api/conversations/{conversation.id}/items"


def test_the_owner_gets_the_items_oldest_first_as_stored(client, owner):
    conversation = make_conversation(owner, items=TOOL_TURN)
    response = client.get(url(conversation), headers=bearer(owner))
    assert response.status_code == 200
    assert response.json() == TOOL_TURN
    assert "X-Items-Truncated" not in response


def test_an_empty_conversation_is_an_empty_array(client, owner):
    response = client.get(url(make_conversation(owner)), headers=bearer(owner))
    assert (response.status_code, response.json()) == (200, [])


def test_a_chat_key_may_read_them_and_another_scope_may_not(client, owner, owner_key):
    conversation = make_conversation(owner, items=TOOL_TURN)
    assert client.get(url(conversation), headers={"X-API-Key": owner_key}).json() == TOOL_TURN
    _key, reader = api_key_create(user=owner, name="keys only", scopes=["keys:read"])
    refused = client.get(url(conversation), headers={"X-API-Key": reader})
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")


def test_anyone_else_gets_404_and_anonymous_401(client, owner, outsider, outsider_key):
    conversation = make_conversation(owner, items=TOOL_TURN)
    for headers in (bearer(outsider), {"X-API-Key": outsider_key}):
        response = client.get(url(conversation), headers=headers)
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert client.get(url(conversation)).status_code == 401
    assert (
        client.get("/api/conversations/not-a-uuid/items", headers=bearer(owner)).status_code == 404
    )


def test_a_long_history_keeps_the_newest_items_from_a_user_message(client, owner, settings):
    turns = [
        [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n}"}]
        for n in range(3)
    ]
    items = [item for turn in turns for item in turn] + TOOL_TURN  # 10 items
    conversation = make_conversation(owner, items=items)

    settings.CHAT_ITEMS_MAX = 5  # the last 5 start inside the tool turn's predecessor
    response = client.get(url(conversation), headers=bearer(owner))
    assert response.status_code == 200
    assert response["X-Items-Truncated"] == "1"
    assert response.json() == TOOL_TURN  # from the user message on, never half a turn

    settings.CHAT_ITEMS_MAX = 6
    response = client.get(url(conversation), headers=bearer(owner))
    assert response.json() == [*turns[2], *TOOL_TURN]
    assert response["X-Items-Truncated"] == "1"

    settings.CHAT_ITEMS_MAX = 10
    response = client.get(url(conversation), headers=bearer(owner))
    assert response.json() == items
    assert "X-Items-Truncated" not in response
