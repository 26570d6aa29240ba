"""A tool added the README's way: one ``@chat_tool`` function in ``chat/custom_tools.py``.

The first two tests are the README's example, verbatim.
"""

from __future__ import annotations

import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from chat.agent import check_tool_settings
from chat.custom_tools import word_count
from chat.tools import ToolInputError, chat_tool, registered_tools
from chatproject.env import EnvError
from tests.chat.conftest import Stream, chat, parse_sse_block
from tests.conftest import bearer
from tests.fake_openai import text, tool_call


def test_word_count_counts():
    assert word_count("the quick  brown fox") == "4 words, 20 characters"


def test_the_agent_calls_word_count(chat_server, fake, owner):
    fake.push(tool_call("word_count", {"text": "one two three"}), text("Three words."))
    stream = chat(chat_server, bearer(owner), "How many words in 'one two three'?")

    assert stream.of_type("tool_call")[0]["tool_name"] == "word_count"
    assert stream.of_type("tool_result")[0]["output"] == "3 words, 13 characters"
    assert stream.text == "Three words."


# --------------------------------------------------------------------------
# Beyond the README
# --------------------------------------------------------------------------


def offered_tools(request) -> list[str]:
    """Names of the tools an upstream request offered the model (either wire API)."""
    tools = request.body.get("tools") or []
    return [tool.get("function", tool)["name"] for tool in tools]


def test_custom_tools_are_registered_at_start_up_after_the_built_in_ones():
    tools = registered_tools()
    assert list(tools)[:3] == ["current_time", "calculate", "word_count"]
    schema = tools["word_count"].params_json_schema
    assert schema["required"] == ["text"]
    assert "verbatim" in schema["properties"]["text"]["description"]
    assert tools["word_count"].description.startswith("Count the words")


def test_word_count_refuses_a_huge_text_with_a_message_for_the_model():
    with pytest.raises(ToolInputError, match="longer than 100,000 characters"):
        word_count("a " * 60_000)


def test_a_second_tool_with_a_taken_name_is_refused():
    before = registered_tools()["word_count"]
    with pytest.raises(ImproperlyConfigured, match="two tools are named 'word_count'"):

        @chat_tool(name="word_count")
        def count_words_differently(text: str) -> str:
            """Count differently."""
            return "0"

    assert registered_tools()["word_count"] is before


def test_the_upstream_request_offers_every_enabled_tool_and_gets_the_result_back(
    chat_server, fake, owner
):
    fake.push(tool_call("word_count", {"text": "a b"}), text("Two."))
    stream = chat(chat_server, bearer(owner), "Count 'a b'")

    first, second = fake.model_requests
    assert offered_tools(first) == ["current_time", "calculate", "word_count"]
    call = stream.of_type("tool_call")[0]
    assert json.loads(call["argument"]) == {"text": "a b"}
    assert second.messages[-1] == {
        "role": "tool",
        "tool_call_id": call["call_id"],
        "content": "2 words, 3 characters",
    }


async def _chat_in_process(owner, message: str) -> Stream:
    headers = await sync_to_async(bearer)(owner)
    response = await AsyncClient().post(
        "/api/chat", {"message": message}, content_type="application/json", headers=headers
    )
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    stream = Stream(status=200, headers=httpx.Headers())
    body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    for block in body.split("\n\n"):
        parse_sse_block(block, stream)
    return stream


@pytest.mark.django_db(transaction=True)
async def test_a_tool_left_out_of_chat_tools_is_not_offered_nor_run(
    owner, upstream_settings, fake, close_db_connections
):
    upstream_settings.CHAT_TOOLS = ["current_time", "calculate"]
    # The model asks for it anyway: the agent has no such tool, so it never runs.
    fake.push(tool_call("word_count", {"text": "a b"}), text("Two."))
    stream = await _chat_in_process(owner, "Count 'a b'")

    assert offered_tools(fake.model_requests[0]) == ["current_time", "calculate"]
    assert stream.of_type("tool_result") == []
    assert stream.of_type("error")[0]["code"] == "upstream_error"
    assert len(fake.model_requests) == 1


@pytest.mark.django_db(transaction=True)
async def test_chat_tools_none_offers_no_tools(
    owner, upstream_settings, fake, close_db_connections
):
    upstream_settings.CHAT_TOOLS = []
    fake.push(text("No tools here."))
    stream = await _chat_in_process(owner, "Hi")

    assert offered_tools(fake.model_requests[0]) == []
    assert stream.text == "No tools here."


def test_an_unknown_name_in_chat_tools_stops_start_up(settings):
    settings.CHAT_TOOLS = ["current_time", "wordcount"]
    with pytest.raises(EnvError, match="CHAT_TOOLS") as raised:
        check_tool_settings()
    assert "word_count" in str(raised.value)  # it lists the names it knows
