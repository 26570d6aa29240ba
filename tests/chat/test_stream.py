"""POST /api/chat end to end: a real Daphne process, the real openai client, the fake upstream."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from chat.models import Conversation, ConversationItem, Turn
from tests.chat.conftest import Stream, chat, iter_sse, wait_until
from tests.conftest import bearer
from tests.fake_openai import (
    hold,
    malformed,
    rate_limited,
    reasoning,
    server_error,
    stall,
    text,
    tool_call,
    truncated,
    unauthorized,
)

pytestmark = pytest.mark.live


def conversation_detail(server, headers, conversation_id: str) -> dict:
    response = httpx.get(f"{server.url}/api/conversations/{conversation_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_reply_streams_in_order_and_is_saved(chat_server, fake, owner):
    fake.push(text("Hello there, friend.", usage=(11, 4)))

    stream = chat(chat_server, bearer(owner), "Hi!")

    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.headers["x-accel-buffering"] == "no"
    assert stream.types[0] == "conversation"
    assert set(stream.types[1:-1]) == {"text_delta"}
    assert stream.types[-1] == "usage"
    assert stream.done
    assert stream.text == "Hello there, friend."
    assert stream.events[-1] == {"type": "usage", "input_tokens": 11, "output_tokens": 4}
    assert stream.events[0]["title"] == "Hi!"

    conversation = Conversation.objects.get(id=stream.conversation_id)
    assert conversation.owner == owner
    assert conversation.active_run is None
    turn = Turn.objects.get(conversation=conversation)
    assert (turn.status, turn.input_tokens, turn.output_tokens) == ("complete", 11, 4)
    assert turn.model == "gpt-fake-test"
    detail = conversation_detail(chat_server, bearer(owner), stream.conversation_id)
    assert [(m["role"], m["parts"]) for m in detail["messages"]] == [
        ("user", [{"type": "text", "text": "Hi!"}]),
        ("assistant", [{"type": "text", "text": "Hello there, friend."}]),
    ]
    # Chat Completions was asked to include usage (0 on non-OpenAI servers otherwise).
    assert fake.requests[-1].path == "/v1/chat/completions"
    assert fake.requests[-1].body["model"] == "gpt-fake-test"
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    assert fake.requests[-1].authorization == "Bearer test-key"


def test_response_is_never_compressed(chat_server, fake, owner):
    fake.push(text("Plain bytes."))
    stream_headers = {**bearer(owner), "Accept-Encoding": "gzip, deflate, br"}
    stream = chat(chat_server, stream_headers, "Hi")
    assert "content-encoding" not in stream.headers
    assert stream.text == "Plain bytes."


def test_first_token_arrives_while_upstream_still_holds_the_rest(chat_server, fake, owner):
    held = hold("first second third fourth", after_tokens=1)
    fake.push(held)
    stream = Stream(status=0, headers=httpx.Headers())
    with httpx.stream(
        "POST", f"{chat_server.url}/api/chat", json={"message": "go"}, headers=bearer(owner)
    ) as response:
        events = iter_sse(response, stream)
        first = next(event for event in events if event and event["type"] == "text_delta")
        # The upstream has sent one token and is holding the others back.
        assert first == {"type": "text_delta", "delta": "first "}
        assert held.held.is_set() and not held.released
        held.release()
        for _event in events:
            pass
    assert stream.done
    assert stream.text == "first second third fourth"


def test_each_turn_sends_the_earlier_conversation_upstream(chat_server, fake, owner):
    fake.push(text("Nice to meet you, Ada."), text("Your name is Ada."))
    first = chat(chat_server, bearer(owner), "My name is Ada.")
    second = chat(chat_server, bearer(owner), "What is my name?", first.conversation_id)

    assert second.status == 200
    assert second.conversation_id == first.conversation_id
    messages = fake.requests[-1].messages
    assert [(m["role"], m["content"]) for m in messages if m["role"] != "system"] == [
        ("user", "My name is Ada."),
        ("assistant", "Nice to meet you, Ada."),
        ("user", "What is my name?"),
    ]
    assert messages[0]["role"] == "system"  # the instructions
    assert ConversationItem.objects.filter(conversation_id=first.conversation_id).count() == 4
    assert Turn.objects.filter(conversation_id=first.conversation_id).count() == 2


def test_tool_call_is_streamed_and_history_matches_the_stream(chat_server, fake, owner):
    fake.push(
        tool_call("current_time", {"timezone": "Europe/Paris"}),
        text("It is late in Paris."),
    )
    stream = chat(chat_server, bearer(owner), "What time is it in Paris?")

    assert stream.types[:3] == ["conversation", "tool_call", "tool_result"]
    call, result = stream.events[1], stream.events[2]
    assert call["tool_name"] == "current_time"
    assert json.loads(call["argument"]) == {"timezone": "Europe/Paris"}
    assert result["call_id"] == call["call_id"]
    assert "Europe/Paris" in result["output"]
    assert stream.text == "It is late in Paris."
    # The tool's output went back to the model.
    tool_message = fake.requests[-1].messages[-1]
    assert tool_message == {
        "role": "tool",
        "tool_call_id": call["call_id"],
        "content": result["output"],
    }

    messages = conversation_detail(chat_server, bearer(owner), stream.conversation_id)["messages"]
    assert messages[1]["role"] == "assistant"
    assert messages[1]["status"] == "complete"
    assert messages[1]["parts"] == [
        {
            "type": "tool_call",
            "tool_name": "current_time",
            "argument": call["argument"],
            "callId": call["call_id"],
            "result": result["output"],
        },
        {"type": "text", "text": stream.text},
    ]


def test_a_tool_that_raises_gives_the_model_an_error_and_the_stream_goes_on(
    chat_server, fake, owner
):
    fake.push(tool_call("calculate", {"expression": "1/0"}), text("That is undefined."))
    stream = chat(chat_server, bearer(owner), "What is 1/0?")

    result = stream.of_type("tool_result")[0]
    assert result["output"] == "Error: division by zero"
    assert fake.requests[-1].messages[-1]["content"] == "Error: division by zero"
    assert stream.text == "That is undefined."
    assert stream.types[-1] == "usage" and stream.done
    assert Turn.objects.get(conversation_id=stream.conversation_id).status == "complete"


def test_responses_api_streams_reasoning_text_and_usage(responses_server, fake, owner):
    fake.push(reasoning("Thinking about greetings.", "Hello!", usage=(20, 7)))
    stream = chat(responses_server, bearer(owner), "Say hello")

    assert fake.requests[-1].path == "/v1/responses"
    assert stream.types[0] == "conversation"
    assert "".join(e["text"] for e in stream.of_type("reasoning")) == "Thinking about greetings."
    assert stream.types.index("reasoning") < stream.types.index("text_delta")
    assert stream.text == "Hello!"
    assert stream.events[-1] == {"type": "usage", "input_tokens": 20, "output_tokens": 7}
    messages = conversation_detail(responses_server, bearer(owner), stream.conversation_id)[
        "messages"
    ]
    assert messages[1]["parts"] == [
        {"type": "reasoning", "text": "Thinking about greetings."},
        {"type": "text", "text": "Hello!"},
    ]


def test_responses_api_runs_tools_and_keeps_context(responses_server, fake, owner):
    fake.push(tool_call("calculate", {"expression": "6*7"}), text("42."), text("Still 42."))
    first = chat(responses_server, bearer(owner), "What is six times seven?")
    assert first.of_type("tool_result")[0]["output"] == "42"
    assert first.text == "42."

    chat(responses_server, bearer(owner), "Sure?", first.conversation_id)
    sent = fake.requests[-1].input
    kinds = [item.get("type") or item.get("role") for item in sent]
    assert kinds.count("function_call") == 1 and kinds.count("function_call_output") == 1
    assert sent[-1]["role"] == "user" and sent[-1]["content"] == "Sure?"


def test_pings_keep_a_silent_stream_alive(chat_server, fake, owner):
    # The live servers ping after 300 ms of silence.
    fake.push(text("Finally.", first_token_delay=0.8))
    stream = chat(chat_server, bearer(owner), "Take your time")
    assert stream.pings >= 2
    assert stream.text == "Finally."
    assert stream.done


def test_client_disconnect_closes_upstream_and_saves_partial_reply(chat_server, fake, owner):
    held = hold("Partial answer that never finishes", after_tokens=2)
    fake.push(held)
    stream = Stream(status=0, headers=httpx.Headers())
    with httpx.stream(
        "POST", f"{chat_server.url}/api/chat", json={"message": "Go"}, headers=bearer(owner)
    ) as response:
        events = iter_sse(response, stream)
        deltas = 0
        for event in events:
            if event and event["type"] == "text_delta":
                deltas += 1
                if deltas == 2:
                    break
        assert held.wait_held(2)
    left_at = time.monotonic()  # the with-block closed the connection

    upstream = fake.requests[-1]
    assert upstream.wait_disconnected(1.0), "upstream request still open 1 s after the client left"
    assert upstream.disconnected_at - left_at < 1.0

    turn = wait_until(
        lambda: (
            Turn.objects.filter(conversation_id=stream.conversation_id)
            .exclude(status="running")
            .first()
        ),
        timeout=5,
    )
    assert turn is not None and turn.status == "interrupted"
    conversation = Conversation.objects.get(id=stream.conversation_id)
    assert conversation.active_run is None
    items = list(
        ConversationItem.objects.filter(conversation=conversation).values_list("data", flat=True)
    )
    assert items == [
        {"role": "user", "content": "Go"},
        {"role": "assistant", "content": "Partial answer "},
    ]
    messages = conversation_detail(chat_server, bearer(owner), stream.conversation_id)["messages"]
    assert messages[1]["status"] == "interrupted"
    # The conversation is free again.
    fake.push(text("Back."))
    again = chat(chat_server, bearer(owner), "Again", stream.conversation_id)
    assert again.status == 200 and again.text == "Back."


FAILURES = [
    pytest.param(unauthorized(), "upstream_auth", False, "", id="401"),
    pytest.param(rate_limited(retry_after=1), "upstream_rate_limited", True, "", id="429"),
    pytest.param(server_error(500), "upstream_error", True, "", id="500"),
    pytest.param(server_error(503), "upstream_error", True, "", id="503"),
    pytest.param(stall(10), "timeout", True, "", id="timeout"),
    pytest.param(
        stall(10, after_tokens=2, content="Half a thought"),
        "timeout",
        True,
        "Half a ",
        id="timeout-mid-stream",
    ),
    pytest.param(
        malformed(after_tokens=2, content="Broken reply here"),
        "upstream_error",
        True,
        "Broken reply ",
        id="malformed",
    ),
    pytest.param(
        truncated(after_tokens=2, content="Cut short reply"),
        "upstream_error",
        True,
        "Cut short ",
        id="truncated",
    ),
]


@pytest.mark.parametrize(("turn", "code", "retryable", "partial"), FAILURES)
def test_upstream_failure_gives_one_error_event_then_done(
    chat_server, fake, owner, turn, code, retryable, partial
):
    fake.push(turn)
    stream = chat(chat_server, bearer(owner), "Hello?")

    assert stream.status == 200
    assert stream.types[0] == "conversation"
    assert stream.types[-1] == "error"
    assert stream.of_type("error") == [stream.events[-1]]
    error = stream.events[-1]
    assert (error["code"], error["retryable"]) == (code, retryable)
    assert "test-key" not in stream_text(stream) and "Traceback" not in stream_text(stream)
    assert stream.done
    assert stream.text == partial

    turn_row = Turn.objects.get(conversation_id=stream.conversation_id)
    assert (turn_row.status, turn_row.error_code) == ("failed", code)
    items = list(
        ConversationItem.objects.filter(conversation_id=stream.conversation_id).values_list(
            "data", flat=True
        )
    )
    assert items[0] == {"role": "user", "content": "Hello?"}
    if partial:
        assert items[1:] == [{"role": "assistant", "content": partial}]
    else:
        assert items[1:] == []
    assert Conversation.objects.get(id=stream.conversation_id).active_run is None


def stream_text(stream: Stream) -> str:
    return json.dumps(stream.events)


def test_unreachable_upstream_is_upstream_unavailable(unreachable_server, owner):
    stream = chat(unreachable_server, bearer(owner), "Anyone there?")
    assert stream.types == ["conversation", "error"]
    assert stream.events[1] == {
        "type": "error",
        "code": "upstream_unavailable",
        "message": "The model provider could not be reached.",
        "retryable": True,
    }
    assert stream.done
    items = ConversationItem.objects.filter(conversation_id=stream.conversation_id)
    assert [item.data for item in items] == [{"role": "user", "content": "Anyone there?"}]


def test_a_second_post_while_a_reply_streams_gets_409(chat_server, fake, owner):
    fake.push(text("Ready."))
    first = chat(chat_server, bearer(owner), "Start")
    held = hold("Still going on", after_tokens=1)
    fake.push(held)
    url = f"{chat_server.url}/api/chat"
    body = {"message": "Next", "conversation_id": first.conversation_id}
    with httpx.stream("POST", url, json=body, headers=bearer(owner)) as running:
        assert running.status_code == 200
        assert held.wait_held(5)
        response = httpx.post(
            url,
            json={"message": "Also", "conversation_id": first.conversation_id},
            headers=bearer(owner),
        )
        assert response.status_code == 409
        assert response.json()["code"] == "run_in_progress"
        assert response.headers["content-type"] == "application/json"
        held.release()
        running.read()
    # A new conversation is never blocked by another one's run.
    fake.push(text("Other."))
    assert chat(chat_server, bearer(owner), "Elsewhere").status == 200


def test_concurrent_posts_on_one_conversation_start_exactly_one_run(chat_server, fake, owner):
    fake.push(text("Ready."))
    first = chat(chat_server, bearer(owner), "Start")
    held = hold("Slow reply", after_tokens=1)
    fake.push(held)
    headers = bearer(owner)
    start, answered = threading.Barrier(8), threading.Barrier(8)

    def post(_index: int) -> int:
        body = {"message": "Race", "conversation_id": first.conversation_id}
        start.wait()
        with httpx.stream(
            "POST", f"{chat_server.url}/api/chat", json=body, headers=headers, timeout=10
        ) as response:
            # Keep every stream open until all have answered: a winner that left
            # early would free the conversation for a latecomer.
            answered.wait(10)
            return response.status_code

    try:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, range(8)))
    finally:
        held.release()
    assert sorted(statuses) == [200] + [409] * 7


def test_a_reply_with_characters_postgresql_refuses_is_still_saved(chat_server, fake, owner):
    fake.push(text(tokens=["nul\x00", " ok"]))
    stream = chat(chat_server, bearer(owner), "Say something odd")
    assert stream.text == "nul\x00 ok"  # relayed as sent
    assert stream.types[-1] == "usage"
    assert Turn.objects.get(conversation_id=stream.conversation_id).status == "complete"
    messages = conversation_detail(chat_server, bearer(owner), stream.conversation_id)["messages"]
    assert messages[1]["parts"] == [{"type": "text", "text": "nul\ufffd ok"}]


def test_a_new_conversation_exists_before_its_first_token(chat_server, fake, owner):
    held = hold("Slow start", after_tokens=0)
    fake.push(held)
    stream = Stream(status=0, headers=httpx.Headers())
    with httpx.stream(
        "POST", f"{chat_server.url}/api/chat", json={"message": "Hi"}, headers=bearer(owner)
    ) as response:
        events = iter_sse(response, stream)
        first = next(events)
        assert first is not None and first["type"] == "conversation"
        assert held.wait_held(5)
        # No token yet, and the conversation is there: listed, readable, locked.
        listed = httpx.get(f"{chat_server.url}/api/conversations", headers=bearer(owner))
        assert [c["id"] for c in listed.json()["results"]] == [stream.conversation_id]
        assert (
            conversation_detail(chat_server, bearer(owner), stream.conversation_id)["title"] == "Hi"
        )
        assert Conversation.objects.get(id=stream.conversation_id).active_run is not None
        held.release()
        for _event in events:
            pass
    assert stream.text == "Slow start"
