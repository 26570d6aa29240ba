"""``chat.openai_client.StreamingOpenAI``: the library's requests and stream objects,
without the library's transform and generic builder; odd input still takes the
library's path.

The library's own result is the reference throughout: each payload goes through
a plain ``AsyncOpenAI`` and through ``StreamingOpenAI``, and the results must
be equal -- stream objects in class, values and set fields; requests as the
upstream received them (path, headers, JSON body). The library's ``transform``
and ``construct_type`` are made to fail while the fast paths run, so input that
silently fell back -- or an ``openai`` upgrade that no longer routes requests
or events through here -- fails these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2  # the HTTP client of this openai version
import openai
import openai._base_client
import openai.resources.chat.completions.completions as chat_completions_module
import openai.resources.responses.responses as responses_module
import pytest
import pytest_asyncio
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent

from chat.openai_client import _CHAT_PARAMETERS, StreamingOpenAI, body_as_is, fast_model
from tests.fake_openai import FakeOpenAI, Usage, reasoning, text, tool_call

set_tracing_disabled(True)

RESPONSE = httpx2.Response(200, request=httpx2.Request("POST", "http://upstream.invalid/v1"))

CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1_700_000_000,
    "model": "gpt-4.1-mini",
    "system_fingerprint": None,
}

CHAT_CHUNKS = {
    "role": {**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    "content": {
        **CHUNK,
        "choices": [
            {"index": 0, "delta": {"content": "héllo"}, "logprobs": None, "finish_reason": None}
        ],
    },
    "tool call": {
        **CHUNK,
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "calculator", "arguments": '{"expr'},
                        }
                    ]
                },
            }
        ],
    },
    "finish": {**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    "usage": {
        **CHUNK,
        "choices": [],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 1},
        },
    },
    # What OpenAI-compatible servers add (vLLM, DeepSeek, Ollama): kept as extras.
    "vendor extras": {
        **CHUNK,
        "choices": [{"index": 0, "delta": {"reasoning_content": "think", "content": None}}],
        "x_vendor": {"nested": [1, 2]},
    },
}

RESPONSE_OBJECT: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1_700_000_000,
    "status": "in_progress",
    "model": "gpt-4.1-mini",
    "output": [],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
}

RESPONSE_EVENTS = {
    "created": {"type": "response.created", "sequence_number": 0, "response": RESPONSE_OBJECT},
    "text delta": {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "hi",
        "sequence_number": 3,
        "logprobs": [],
    },
    "function call added": {
        "type": "response.output_item.added",
        "output_index": 0,
        "sequence_number": 1,
        "item": {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "calculator",
            "arguments": "",
            "status": "in_progress",
        },
    },
    "arguments delta": {
        "type": "response.function_call_arguments.delta",
        "item_id": "fc_1",
        "output_index": 0,
        "delta": '{"a":',
        "sequence_number": 2,
    },
    "completed": {
        "type": "response.completed",
        "sequence_number": 9,
        "response": {
            **RESPONSE_OBJECT,
            "status": "completed",
            "output": [
                {
                    "type": "message",
                    "id": "msg_1",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "hi", "annotations": []}],
                }
            ],
            "usage": {
                "input_tokens": 5,
                "output_tokens": 1,
                "total_tokens": 6,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        },
    },
}

# Shapes the validator refuses; the library builds them anyway, and so must we.
ODD_CHAT_CHUNKS = {
    "choices null": {**CHUNK, "choices": None},
    "created not a number": {**CHUNK, "created": "yesterday", "choices": []},
    "object misnamed": {**CHUNK, "object": "chat.completion", "choices": []},
}
ODD_RESPONSE_EVENTS = {
    "unknown type": {"type": "response.future_feature.delta", "sequence_number": 1},
    # This library version requires cache_write_tokens in the usage details.
    "usage detail missing": {
        "type": "response.completed",
        "sequence_number": 9,
        "response": {
            **RESPONSE_OBJECT,
            "status": "completed",
            "usage": {
                "input_tokens": 5,
                "output_tokens": 1,
                "total_tokens": 6,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        },
    },
    "delta missing": {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "sequence_number": 3,
    },
}


def _library(cast_to: Any, data: dict[str, Any]) -> Any:
    client = openai.AsyncOpenAI(api_key="sk-test", base_url="http://upstream.invalid/v1")
    return client._process_response_data(data=data, cast_to=cast_to, response=RESPONSE)


def _ours(cast_to: Any, data: dict[str, Any]) -> Any:
    client = StreamingOpenAI(api_key="sk-test", base_url="http://upstream.invalid/v1")
    return client._process_response_data(data=data, cast_to=cast_to, response=RESPONSE)


def _set_fields(obj: Any) -> Any:
    """Every nested model's class, set fields and extra fields, to compare how objects
    were built. (Pydantic's validator also lists extra keys in ``model_fields_set``,
    the library's builder does not; dumps are the same either way, and compared.)"""
    if isinstance(obj, openai.BaseModel):
        extra = obj.model_extra or {}
        declared = sorted(set(obj.model_fields_set) - set(extra))
        return (
            type(obj).__name__,
            {name: _set_fields(getattr(obj, name)) for name in declared},
            _set_fields(extra),
        )
    if isinstance(obj, list):
        return [_set_fields(item) for item in obj]
    if isinstance(obj, dict):
        return {key: _set_fields(value) for key, value in obj.items()}
    return obj


def _forbid_library_builder(monkeypatch) -> list[Any]:
    """From now on the library's builder fails the test; returns what it was asked for."""
    asked: list[Any] = []

    def refuse(*, type_: Any, value: object, **kw: Any) -> Any:
        asked.append(type_)
        pytest.fail(f"the library's construct_type was used for {type_!r}")

    monkeypatch.setattr(openai._base_client, "construct_type", refuse)
    return asked


def _forbid_library_transform(monkeypatch) -> None:
    """From now on the library's parameter transform fails the test."""

    async def refuse(data: object, expected_type: object) -> Any:
        pytest.fail(f"the library's transform was used for {expected_type!r}")

    for module in (chat_completions_module, responses_module):
        monkeypatch.setattr(module, "async_maybe_transform", refuse)


def _cases(cases: dict[str, dict[str, Any]], cast_to: Any) -> list[Any]:
    return [pytest.param(cast_to, data, id=name) for name, data in cases.items()]


@pytest.mark.parametrize(
    ("cast_to", "data"),
    _cases(CHAT_CHUNKS, ChatCompletionChunk) + _cases(RESPONSE_EVENTS, ResponseStreamEvent),
)
def test_stream_events_match_the_library_without_its_builder(cast_to, data, monkeypatch):
    expected = _library(cast_to, data)
    asked = _forbid_library_builder(monkeypatch)
    ours = _ours(cast_to, data)
    assert asked == []
    assert type(ours) is type(expected)
    assert ours == expected
    assert ours.model_dump() == expected.model_dump()
    assert ours.model_dump(exclude_unset=True) == expected.model_dump(exclude_unset=True)
    assert _set_fields(ours) == _set_fields(expected)


@pytest.mark.parametrize(
    ("cast_to", "data"),
    _cases(ODD_CHAT_CHUNKS, ChatCompletionChunk) + _cases(ODD_RESPONSE_EVENTS, ResponseStreamEvent),
)
def test_odd_shapes_take_the_library_path(cast_to, data):
    expected = _library(cast_to, data)
    ours = _ours(cast_to, data)
    assert type(ours) is type(expected)
    assert _set_fields(ours) == _set_fields(expected)


def test_only_plain_streamed_bodies_skip_the_transform():
    messages = [{"role": "user", "content": "hi"}]
    plain = {"model": "m", "messages": messages, "stream": True, "timeout": 5}
    assert body_as_is(plain, _CHAT_PARAMETERS) == {
        "model": "m",
        "messages": messages,
        "stream": True,
    }
    assert body_as_is({**plain, "temperature": openai.omit}, _CHAT_PARAMETERS) == {
        "model": "m",
        "messages": messages,
        "stream": True,
    }
    refused = {
        "not streamed": {**plain, "stream": False},
        "unknown parameter": {**plain, "temperatur": 0.2},
        "a tuple": {**plain, "messages": tuple(messages)},
        "omit inside a value": {**plain, "stream_options": {"include_usage": openai.omit}},
        "a pydantic object": {**plain, "response_format": ChatCompletionChunk},
        "a non-string key": {**plain, "metadata": {1: "x"}},
    }
    for name, params in refused.items():
        assert body_as_is(params, _CHAT_PARAMETERS) is None, name


async def test_a_refused_body_goes_through_the_library(upstream, clients):
    """A generator of messages is not JSON: the library's create() sends it."""
    upstream.push(text("ok"))
    client = clients(StreamingOpenAI)
    stream = await client.chat.completions.create(
        model="gpt-fake",
        messages=(message for message in [{"role": "user", "content": "hi"}]),
        stream=True,
    )
    assert [chunk async for chunk in stream]
    assert upstream.requests[-1].body["messages"] == [{"role": "user", "content": "hi"}]


def test_only_stream_types_are_fast():
    assert fast_model(ChatCompletionChunk, CHAT_CHUNKS["content"]) is ChatCompletionChunk
    assert fast_model(ResponseStreamEvent, {"type": "nope"}) is None
    assert fast_model(ChatCompletionChunk, ["not", "a", "dict"]) is None
    # A non-streamed completion keeps the library's path.
    assert fast_model(openai.types.chat.ChatCompletion, {"id": "x"}) is None


def test_strict_validation_keeps_the_library_behaviour():
    client = StreamingOpenAI(
        api_key="sk-test", base_url="http://upstream.invalid/v1", _strict_response_validation=True
    )
    with pytest.raises(openai.APIResponseValidationError):
        client._process_response_data(
            data=ODD_CHAT_CHUNKS["choices null"], cast_to=ChatCompletionChunk, response=RESPONSE
        )


def test_copies_keep_the_fast_client():
    client = StreamingOpenAI(api_key="sk-test", base_url="http://upstream.invalid/v1")
    assert type(client.with_options(max_retries=0)) is StreamingOpenAI


# ------------------------------------------------ the whole stream, real HTTP, the SDK


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest_asyncio.fixture
async def clients(upstream):
    made: list[openai.AsyncOpenAI] = []

    def make(cls: type[openai.AsyncOpenAI]) -> openai.AsyncOpenAI:
        made.append(cls(base_url=upstream.base_url, api_key="sk-test", max_retries=0))
        return made[-1]

    upstream.reset()
    yield make
    upstream.reset()
    for client in made:
        await client.close()


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _without_ids(value: Any) -> Any:
    """``value`` without the ids the fake numbers per request."""
    if isinstance(value, dict):
        return {
            key: _without_ids(item)
            for key, item in value.items()
            if not key.endswith("id") and key != "provider_data"
        }
    if isinstance(value, list):
        return [_without_ids(item) for item in value]
    return value


async def _run(client: openai.AsyncOpenAI, api: str, message: str) -> tuple[list[Any], str]:
    model = (
        OpenAIChatCompletionsModel(model="gpt-fake", openai_client=client)
        if api == "chat"
        else OpenAIResponsesModel(model="gpt-fake", openai_client=client)
    )
    agent = Agent(name="assistant", instructions="Be brief.", model=model, tools=[add])
    result = Runner.run_streamed(agent, message)
    seen = []
    async for event in result.stream_events():
        if event.type == "raw_response_event":
            data = event.data.model_dump(exclude={"sequence_number", "response"})
            seen.append((type(event.data).__name__, _without_ids(data)))
        else:
            seen.append((event.type, getattr(event, "name", None)))
    return seen, str(result.final_output)


def _script(upstream: FakeOpenAI) -> None:
    upstream.push(
        tool_call("add", {"a": 2, "b": 3}),
        reasoning("Adding up.", "The sum is 5.", usage=Usage(20, 6)),
    )


# Headers that differ between any two requests of the library itself.
VARYING_HEADERS = {"content-length", "x-stainless-retry-count", "x-stainless-read-timeout"}


def _requests(upstream: FakeOpenAI) -> list[tuple[str, str, dict[str, str], Any]]:
    return [
        (
            request.method,
            request.path,
            {k: v for k, v in request.headers.items() if k.lower() not in VARYING_HEADERS},
            _without_ids(request.body),
        )
        for request in upstream.requests
    ]


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_agent_run_is_the_same_through_both_clients(api, upstream, clients, monkeypatch):
    _script(upstream)
    expected, expected_output = await _run(clients(openai.AsyncOpenAI), api, "2+3?")
    expected_requests = _requests(upstream)
    upstream.reset()

    _script(upstream)
    asked = _forbid_library_builder(monkeypatch)
    _forbid_library_transform(monkeypatch)
    seen, output = await _run(clients(StreamingOpenAI), api, "2+3?")

    assert asked == []
    assert output == expected_output == "The sum is 5."
    assert seen == expected
    assert ("run_item_stream_event", "tool_output") in seen
    # Two model requests (the tool call, then the answer), as the library sends
    # them: same path, headers and JSON body (up to the fake's per-request ids).
    assert len(expected_requests) == 2
    assert _requests(upstream) == expected_requests


async def test_a_plain_text_stream_never_uses_the_library_builder(upstream, clients, monkeypatch):
    upstream.push(text(n_tokens=30))
    _forbid_library_builder(monkeypatch)
    _forbid_library_transform(monkeypatch)
    client = clients(StreamingOpenAI)
    stream = await client.chat.completions.create(
        model="gpt-fake",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    assert "".join(part or "" for part in parts) == "".join(f"t{i} " for i in range(30))


def test_the_agent_talks_through_it():
    from chat.agent import ModelConfig, _client

    for api in ("chat_completions", "responses"):
        config = ModelConfig("gpt-fake", api, "sk-test", "http://upstream.invalid/v1", 30, 0)
        assert type(_client(config)) is StreamingOpenAI


def test_the_installed_openai_matches_what_it_overrides():
    from chat.openai_client import private_api_matches

    assert private_api_matches()


def test_it_falls_back_to_the_stock_client_when_turned_off_or_mismatched(settings, monkeypatch):
    from chat import agent, openai_client

    config = agent.ModelConfig(
        "gpt-fake", "responses", "sk-test", "http://upstream.invalid/v1", 30, 0
    )
    settings.OPENAI_FAST_CLIENT = False
    assert type(agent._client(config)) is openai.AsyncOpenAI

    settings.OPENAI_FAST_CLIENT = True
    monkeypatch.setattr(openai_client, "private_api_matches", lambda: False)
    agent._fast_client_usable.cache_clear()
    try:
        assert type(agent._client(config)) is openai.AsyncOpenAI
    finally:
        agent._fast_client_usable.cache_clear()
    monkeypatch.undo()
    assert type(agent._client(config)) is StreamingOpenAI
