"""The agent's tools and the offline demo model."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from chat.models import Conversation, Turn
from chat.tools import TOOLS, ToolInputError, evaluate_expression
from tests.chat.conftest import Stream, parse_sse_block
from tests.conftest import bearer


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(17.5 * 3) / 4", 13.125),
        ("2 ** 32", 4294967296),
        ("-(3 - 5) % 3", 2),
        ("7 // 2", 3),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(pi, 2)", 3.14),
        ("max(1, 5, 3)", 5),
    ],
)
def test_calculator_does_arithmetic(expression, expected):
    assert evaluate_expression(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1/0", "division by zero"),
        ("__import__('os').system('true')", "only numbers"),
        ("(1).__class__", "only numbers"),
        ("open('/etc/passwd')", "only numbers"),
        ("x + 1", "only numbers"),
        ("'a' * 3", "only numbers"),
        ("[1, 2]", "only numbers"),
        ("lambda: 1", "only numbers"),
        ("2 ** 100000", "exponent larger"),
        ("99999 ** 999", "too large"),
        ("10.0 ** 999", "math error"),
        ("sqrt(-1)", "math error"),
        ("1 +", "not a valid"),
        ("1" + "+1" * 150, "longer than"),
        ("1+" * 60 + "1", "too complex"),
    ],
)
def test_calculator_refuses_anything_else_with_a_safe_message(expression, message):
    with pytest.raises(ToolInputError, match=message):
        evaluate_expression(expression)


def test_the_tool_registry_lists_the_tools_with_schemas():
    names = {tool.name: tool for tool in TOOLS}
    assert set(names) == {"current_time", "calculate"}
    assert "timezone" in names["current_time"].params_json_schema["properties"]
    assert names["calculate"].params_json_schema["required"] == ["expression"]


@pytest.fixture
def no_network(monkeypatch):
    """Refuse every outgoing TCP connection except to the test database (and Redis,
    which holds the usage limits when configured)."""
    db = django_settings.DATABASES["default"]
    allowed = {(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432))}
    if django_settings.REDIS_URL:
        redis_url = urlsplit(django_settings.REDIS_URL)
        allowed.add((redis_url.hostname or "127.0.0.1", redis_url.port or 6379))
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and tuple(address[:2]) not in allowed:
            raise OSError(f"network disabled in this test: {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.mark.django_db(transaction=True)
async def test_the_demo_model_answers_with_a_tool_call_and_no_network(
    owner, settings, no_network, close_db_connections
):
    settings.OPENAI_API_KEY = None
    settings.OPENAI_BASE_URL = None
    settings.CHAT_DEMO_TOKEN_MS = 0
    headers = await sync_to_async(bearer)(owner)
    client = AsyncClient()

    response = await client.post(
        "/api/chat",
        {"message": "What can you do?"},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    stream = Stream(status=200, headers=httpx.Headers())
    body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    for block in body.split("\n\n"):
        parse_sse_block(block, stream)

    assert stream.types[:3] == ["conversation", "tool_call", "tool_result"]
    call = stream.events[1]
    assert call["tool_name"] == "current_time"
    assert json.loads(call["argument"]) == {"timezone": "UTC"}
    assert "UTC" in stream.events[2]["output"]
    text = stream.text
    assert "offline demo" in text
    assert "OPENAI_API_KEY" in text and "OPENAI_BASE_URL" in text
    assert stream.events[2]["output"] in text  # it used the tool's result
    assert "What can you do?" in text
    assert len(stream.of_type("text_delta")) > 50  # token by token
    assert stream.types[-1] == "usage" and stream.done

    conversation = await Conversation.objects.aget(id=stream.conversation_id)
    turn = await Turn.objects.aget(conversation=conversation)
    assert (turn.model, turn.status) == ("offline-demo", "complete")
    assert turn.output_tokens > 0

    # A second turn works too, and the history shows both.
    response = await client.post(
        "/api/chat",
        {"message": "Again", "conversation_id": stream.conversation_id},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert (b"".join([c async for c in response.streaming_content])).endswith(b"data: [DONE]\n\n")
    detail = await client.get(f"/api/conversations/{stream.conversation_id}", headers=headers)
    messages = detail.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1]["parts"][0]["type"] == "tool_call"
    assert messages[1]["parts"][1] == {"type": "text", "text": text}


@pytest.mark.django_db(transaction=True)
async def test_the_demo_model_skips_its_tool_call_when_current_time_is_disabled(
    owner, demo_settings, no_network, close_db_connections
):
    demo_settings.CHAT_TOOLS = ["calculate"]
    headers = await sync_to_async(bearer)(owner)
    response = await AsyncClient().post(
        "/api/chat", {"message": "Hi"}, content_type="application/json", headers=headers
    )
    assert isinstance(response, StreamingHttpResponse)
    stream = Stream(status=200, headers=httpx.Headers())
    body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    for block in body.split("\n\n"):
        parse_sse_block(block, stream)

    assert stream.types[0] == "conversation" and stream.types[-1] == "usage" and stream.done
    assert stream.of_type("tool_call") == [] and stream.of_type("error") == []
    assert "offline demo" in stream.text and "`current_time` tool is not enabled" in stream.text
