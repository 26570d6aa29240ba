"""The fake OpenAI server, exercised with the real ``openai`` client and the Agents SDK."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncGenerator
from pathlib import Path

import openai
import pytest
import pytest_asyncio
from agents import (
    Agent,
    Model,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai.types.chat import ChatCompletionMessageParam

try:
    from tests.fake_openai import (
        FakeOpenAI,
        Usage,
        benchmark,
        closed_port_url,
        hold,
        http_error,
        malformed,
        rate_limited,
        reasoning,
        server_error,
        stall,
        text,
        tool_call,
        tool_calls,
        truncated,
        unauthorized,
    )
except ImportError:  # tests/ on sys.path but not the repo root
    # The same names again, from a module mypy (run from the root) cannot see.
    from fake_openai import (  # type: ignore[no-redef,import-not-found]
        FakeOpenAI,
        Usage,
        benchmark,
        closed_port_url,
        hold,
        http_error,
        malformed,
        rate_limited,
        reasoning,
        server_error,
        stall,
        text,
        tool_call,
        tool_calls,
        truncated,
        unauthorized,
    )

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-test-fake-key"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]

set_tracing_disabled(True)


@pytest.fixture(scope="module")
def server():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    yield server
    server.reset()


def sync_client(fake: FakeOpenAI, **kw) -> openai.OpenAI:
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=fake.base_url, api_key=KEY, **kw)


@pytest_asyncio.fixture
async def async_client():
    """A factory of AsyncOpenAI clients, closed on the test's own event loop."""
    made: list[openai.AsyncOpenAI] = []

    def make(base_url: str, **kw) -> openai.AsyncOpenAI:
        kw.setdefault("max_retries", 0)
        made.append(openai.AsyncOpenAI(base_url=base_url, api_key=KEY, **kw))
        return made[-1]

    yield make
    for client in made:
        await client.close()


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def make_agent(client: openai.AsyncOpenAI, api: str, **settings) -> Agent:
    model: Model
    if api == "chat":
        model = OpenAIChatCompletionsModel(model="gpt-fake", openai_client=client)
    else:
        model = OpenAIResponsesModel(model="gpt-fake", openai_client=client)
    return Agent(
        name="assistant",
        instructions="Be brief.",
        model=model,
        tools=[add],
        model_settings=ModelSettings(**settings),
    )


# ------------------------------------------------------------- plain openai client


def test_chat_stream_arrives_incrementally_and_request_is_logged(fake):
    fake.push(text("one two three four five", first_token_delay=0.05, interval=0.05))
    client = sync_client(fake)
    start = time.monotonic()
    arrivals, parts = [], []
    stream = client.chat.completions.create(model="gpt-x", messages=MESSAGES, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
            parts.append(chunk.choices[0].delta.content)
    assert "".join(parts) == "one two three four five"
    assert len(arrivals) == 5
    assert arrivals[0] >= 0.04
    assert arrivals[-1] - arrivals[0] >= 0.15  # spread out, not buffered

    (req,) = fake.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.body["model"] == "gpt-x" and req.stream
    assert req.messages == MESSAGES
    assert req.outcome == "completed" and req.deltas_sent == 5


def test_chat_include_usage_sends_final_usage_chunk(fake):
    fake.push(text("a b", usage=(11, 7)), text("c"))
    client = sync_client(fake)
    chunks = list(
        client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 7)
    assert chunks[-2].choices[0].finish_reason == "stop"
    # without include_usage: no usage chunk at all
    chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks) and chunks[-1].choices


def test_non_streaming_endpoints(fake):
    fake.push(
        text("plain answer", usage=(3, 2)),
        tool_call("add", {"a": 1, "b": 2}, call_id="call_1"),
        text("responses answer"),
    )
    client = sync_client(fake)
    done = client.chat.completions.create(model="m", messages=MESSAGES)
    assert done.choices[0].message.content == "plain answer"
    assert done.usage.total_tokens == 5
    done = client.chat.completions.create(model="m", messages=MESSAGES)
    tool_calls = done.choices[0].message.tool_calls
    assert tool_calls
    call = tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_1",
        "add",
        {"a": 1, "b": 2},
    )
    assert done.choices[0].finish_reason == "tool_calls"
    resp = client.responses.create(model="m", input="hi")
    assert resp.output_text == "responses answer" and resp.status == "completed"
    assert [m.id for m in client.models.list()] == ["gpt-fake"]


@pytest.mark.asyncio
async def test_responses_stream_event_shapes(async_client, fake):
    fake.push(reasoning("let me think", "the answer", usage=Usage(20, 9, reasoning_tokens=3)))
    client = async_client(fake.base_url)
    stream = await client.responses.create(model="m", input="hi", stream=True)
    events = [ev async for ev in stream]
    types = [ev.type for ev in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    for expected in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
    ):
        assert expected in types
    assert [ev.sequence_number for ev in events] == list(range(len(events)))
    summary = "".join(
        ev.delta for ev in events if ev.type == "response.reasoning_summary_text.delta"
    )
    answer = "".join(ev.delta for ev in events if ev.type == "response.output_text.delta")
    assert (summary, answer) == ("let me think", "the answer")
    final = events[-1].response
    assert final.output_text == "the answer"
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (20, 9)
    assert final.usage.output_tokens_details.reasoning_tokens == 3
    assert fake.requests[0].input == "hi"


@pytest.mark.asyncio
async def test_responses_stream_function_calls(async_client, fake):
    fake.push(tool_calls(("add", {"a": 1, "b": 2}, "call_a"), ("add", '{"a":3,"b":4}', "call_b")))
    client = async_client(fake.base_url)
    stream = await client.responses.create(model="m", input="hi", stream=True)
    events = [ev async for ev in stream]
    done = [ev for ev in events if ev.type == "response.function_call_arguments.done"]
    assert [json.loads(ev.arguments) for ev in done] == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    args = "".join(
        ev.delta
        for ev in events
        if ev.type == "response.function_call_arguments.delta" and ev.output_index == 0
    )
    assert json.loads(args) == {"a": 1, "b": 2}
    calls = [item for item in events[-1].response.output if item.type == "function_call"]
    assert [(c.call_id, c.name) for c in calls] == [("call_a", "add"), ("call_b", "add")]


def test_close_framing_closes_the_connection_after_each_response():
    with FakeOpenAI(framing="close") as fake:
        fake.push(text("x y z", interval=0.01), text("again"))
        stream = sync_client(fake).chat.completions.with_raw_response.create(
            model="m", messages=MESSAGES, stream=True
        )
        assert stream.headers["connection"] == "close"
        chunks = list(stream.parse())
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "x y z"
        # The client opens a new connection for the next request.
        done = sync_client(fake).chat.completions.create(model="m", messages=MESSAGES)
        assert done.choices[0].message.content == "again"


def test_required_api_key():
    with FakeOpenAI(require_api_key="sk-right") as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="m", messages=MESSAGES)
        client = openai.OpenAI(base_url=fake.base_url, api_key="sk-right", max_retries=0)
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices


# ----------------------------------------------------------------------- Agents SDK


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_agents_sdk_text_streams_incrementally(async_client, fake, api):
    # The first token must reach the consumer while the upstream still holds the rest.
    turn = hold("alpha beta gamma delta", after_tokens=1, interval=0.02)
    fake.push(turn)
    agent = make_agent(async_client(fake.base_url), api)
    result = Runner.run_streamed(agent, "hello")
    parts, held_at_first = [], None
    async for ev in result.stream_events():
        if ev.type == "raw_response_event" and ev.data.type == "response.output_text.delta":
            if held_at_first is None:
                held_at_first = turn.held.is_set() and not turn.released
                turn.release()
            parts.append(ev.data.delta)
    assert held_at_first is True
    assert "".join(parts) == "alpha beta gamma delta"
    assert result.final_output == "alpha beta gamma delta"
    req = fake.model_requests[0]
    assert req.path == ("/v1/chat/completions" if api == "chat" else "/v1/responses")
    assert req.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_agents_sdk_tool_call_round_trip(async_client, fake, api):
    fake.push(
        tool_call("add", {"a": 2, "b": 3}, call_id="call_add_1", usage=(30, 5)),
        text("The sum is 5.", interval=0.01, usage=(50, 4)),
    )
    settings = {"include_usage": True} if api == "chat" else {}
    agent = make_agent(async_client(fake.base_url), api, **settings)
    result = Runner.run_streamed(agent, "what is 2+3?")
    names = []
    async for ev in result.stream_events():
        if ev.type == "run_item_stream_event":
            names.append(ev.name)
    assert result.final_output == "The sum is 5."
    assert (
        names.index("tool_called")
        < names.index("tool_output")
        < names.index("message_output_created")
    )
    outputs = [item.output for item in result.new_items if item.type == "tool_call_output_item"]
    assert outputs == [5]

    first, second = fake.model_requests
    if api == "chat":
        tool_msg = second.messages[-1]
        assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_add_1"
        assert tool_msg["content"] == "5"
        assert second.messages[0]["role"] == "system"
        assert any(m.get("content") == "what is 2+3?" for m in second.messages)
        assert first.body["stream_options"] == {"include_usage": True}
    else:
        outputs = [i for i in second.input if i.get("type") == "function_call_output"]
        assert outputs and outputs[0]["call_id"] == "call_add_1" and outputs[0]["output"] == "5"
    usage = result.context_wrapper.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 80, 9)


@pytest.mark.asyncio
async def test_agents_sdk_chat_usage_is_zero_without_include_usage(async_client, fake):
    """A non-OpenAI base URL gets no usage unless the request asks for it."""
    fake.push(text("hi there", usage=(12, 2)))
    agent = make_agent(async_client(fake.base_url), "chat")
    result = Runner.run_streamed(agent, "hello")
    async for _ in result.stream_events():
        pass
    assert "stream_options" not in fake.model_requests[0].body
    assert result.context_wrapper.usage.input_tokens == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_agents_sdk_reasoning(async_client, fake, api):
    fake.push(reasoning("First I consider the question.", "Forty-two.", interval=0.005))
    agent = make_agent(async_client(fake.base_url), api, include_usage=True)
    result = Runner.run_streamed(agent, "meaning of life?")
    summary_deltas, item_names = [], []
    async for ev in result.stream_events():
        if (
            ev.type == "raw_response_event"
            and ev.data.type == "response.reasoning_summary_text.delta"
        ):
            summary_deltas.append(ev.data.delta)
        elif ev.type == "run_item_stream_event":
            item_names.append(ev.name)
    assert "".join(summary_deltas) == "First I consider the question."
    assert "reasoning_item_created" in item_names
    assert result.final_output == "Forty-two."
    (item,) = [i for i in result.new_items if i.type == "reasoning_item"]
    assert item.raw_item.summary[0].text == "First I consider the question."


# -------------------------------------------------------------------- failure modes


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize(
    ("turn", "exc"),
    [
        (unauthorized(), openai.AuthenticationError),
        (rate_limited(retry_after=7), openai.RateLimitError),
        (server_error(500), openai.InternalServerError),
        (server_error(503), openai.InternalServerError),
        (http_error(400, "bad"), openai.BadRequestError),
    ],
    ids=["401", "429", "500", "503", "400"],
)
async def test_http_errors_map_to_openai_exceptions(async_client, fake, api, turn, exc):
    fake.push(turn)
    client = async_client(fake.base_url)
    with pytest.raises(exc) as info:
        if api == "chat":
            await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        else:
            await client.responses.create(model="m", input="hi", stream=True)
    assert info.value.status_code == turn.status
    if turn.status == 429:
        assert info.value.response.headers["retry-after"] == "7"
        assert info.value.code == "rate_limit_exceeded"


@pytest.mark.asyncio
async def test_connection_refused(async_client):
    client = async_client(closed_port_url())
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_timeout_before_headers(async_client, fake, api):
    fake.push(stall(30))
    client = async_client(fake.base_url, timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        if api == "chat":
            await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        else:
            await client.responses.create(model="m", input="hi", stream=True)
    assert time.monotonic() - t0 < 2
    # the client gave up, so the server records the disconnect
    assert await fake.model_requests[0].wait_disconnected_async(1.0)


@pytest.mark.asyncio
async def test_stall_mid_stream_times_out(async_client, fake):
    fake.push(stall(30, after_tokens=2, content="a b c d"))
    client = async_client(fake.base_url, timeout=0.3)
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    got = []
    with pytest.raises(openai.APITimeoutError):
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)
    assert got == ["a ", "b "]


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_malformed_chunk_raises(async_client, fake, api):
    fake.push(malformed(after_tokens=1))
    client = async_client(fake.base_url)
    with pytest.raises(ValueError):  # json.JSONDecodeError from the SSE data line
        if api == "chat":
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        else:
            stream = await client.responses.create(model="m", input="hi", stream=True)
        async for _ in stream:
            pass


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_truncated_stream_raises(async_client, fake, api):
    fake.push(truncated(after_tokens=2, content="one two three four"))
    client = async_client(fake.base_url)
    seen = 0
    with pytest.raises(openai.APIConnectionError):
        if api == "chat":
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        else:
            stream = await client.responses.create(model="m", input="hi", stream=True)
        async for _ev in stream:
            seen += 1
    assert seen >= 2
    assert fake.model_requests[0].outcome == "dropped"


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("mode", ["truncated", "malformed", "500", "refused"])
async def test_agents_sdk_surfaces_failures(async_client, fake, api, mode):
    base_url = fake.base_url
    if mode == "truncated":
        fake.push(truncated(after_tokens=1))
    elif mode == "malformed":
        fake.push(malformed(after_tokens=1))
    elif mode == "500":
        fake.push(server_error(500))
    else:
        base_url = closed_port_url()
    agent = make_agent(async_client(base_url), api)
    result = Runner.run_streamed(agent, "hello")
    with pytest.raises(Exception) as info:
        async for _ in result.stream_events():
            pass
    if mode == "500":
        assert isinstance(info.value, openai.InternalServerError)
    if mode == "refused":
        assert isinstance(info.value, openai.APIConnectionError)


# --------------------------------------------------------------- hold and disconnect


@pytest.mark.asyncio
async def test_hold_streams_first_tokens_then_waits_for_release(async_client, fake):
    turn = hold("first second third", after_tokens=1)
    fake.push(turn)
    client = async_client(fake.base_url)
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    it = stream.__aiter__()
    tokens: list[str] = []
    while not tokens:
        chunk = await it.__anext__()
        if chunk.choices and chunk.choices[0].delta.content:
            tokens.append(chunk.choices[0].delta.content)
    assert tokens == ["first "]
    assert await turn.wait_held_async(1.0)
    nxt = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.3)
    assert not nxt.done()  # upstream is still holding the rest back
    turn.release()
    chunk = await asyncio.wait_for(nxt, 2)
    rest = [chunk.choices[0].delta.content or ""] + [
        c.choices[0].delta.content or "" async for c in it if c.choices
    ]
    assert "".join(tokens + rest) == "first second third"
    assert fake.model_requests[0].outcome == "completed"


@pytest.mark.asyncio
@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_disconnect_recorded_within_a_second(async_client, fake, api):
    turn = hold("a b c d e", after_tokens=2)
    fake.push(turn)
    client = async_client(fake.base_url)
    if api == "chat":
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    else:
        stream = await client.responses.create(model="m", input="hi", stream=True)
    it = stream.__aiter__()
    await it.__anext__()
    assert await turn.wait_held_async(2.0)
    closed_at = time.monotonic()
    await stream.close()
    req = fake.model_requests[0]
    assert await req.wait_disconnected_async(1.0)
    assert req.disconnected_at - closed_at < 1.0
    assert req.outcome == "disconnected" and req.deltas_sent == 2
    turn.release()


@pytest.mark.asyncio
async def test_agents_sdk_cancel_closes_upstream(async_client, fake):
    turn = hold("one two three four", after_tokens=1)
    fake.push(turn)
    agent = make_agent(async_client(fake.base_url), "chat")
    result = Runner.run_streamed(agent, "hello")
    events = result.stream_events()
    async for ev in events:
        if ev.type == "raw_response_event" and ev.data.type == "response.output_text.delta":
            break
    closed_at = time.monotonic()
    result.cancel()
    assert isinstance(events, AsyncGenerator)  # typed as a plain AsyncIterator
    await events.aclose()
    req = fake.model_requests[0]
    assert await req.wait_disconnected_async(1.0)
    assert req.disconnected_at - closed_at < 1.0
    turn.release()


# ------------------------------------------------------------------ benchmark mode


async def _raw_stream(port: int, body: bytes) -> tuple[float, float, int]:
    """A minimal HTTP client: returns (first data time, end time, data events)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    start = time.monotonic()
    first, events, buf = None, 0, b""
    while not buf.endswith(b"0\r\n\r\n"):
        data = await reader.read(65536)
        assert data, "server closed early"
        if first is None and b'"content":"tok' in data:
            first = time.monotonic() - start
        buf = buf[-8:] + data
        events += data.count(b"data: ")
    writer.close()
    return first or 0.0, time.monotonic() - start, events


def test_benchmark_turn_carries_500_streams_cheaply():
    with FakeOpenAI(default_turn=benchmark(0.05, 50, 0.01), keep_log=False) as fake:
        body = json.dumps({"model": "m", "messages": MESSAGES, "stream": True}).encode()

        async def run() -> list[tuple[float, float, int]]:
            return await asyncio.gather(*(_raw_stream(fake.port, body) for _ in range(500)))

        cpu0 = fake.cpu_seconds()
        results = asyncio.run(run())
        cpu = fake.cpu_seconds() - cpu0
        assert fake.request_count == 500 and fake.max_active_streams > 100
    ideal = 0.05 + 49 * 0.01
    completions = sorted(r[1] for r in results)
    # 50 tokens + role chunk + finish chunk + [DONE]
    assert all(r[2] == 53 for r in results)
    assert min(r[0] for r in results) >= 0.04
    print(
        f"\n500 streams: p50 {completions[250]:.3f}s p99 {completions[495]:.3f}s "
        f"(ideal {ideal:.2f}s), server CPU {cpu:.3f}s = {cpu / 25:.4f}s per 1000 tokens"
    )
    assert cpu < 2.5  # 25,000 tokens; the server must not be the bottleneck


def test_cli_entry_point():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_openai",
            "--port",
            "0",
            "--tokens",
            "3",
            "--interval",
            "0",
            "--token",
            "hey ",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("FAKE_OPENAI_READY http://127.0.0.1:"), line
        base_url = line.split()[1]
        client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
        chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hey " * 3
        events = list(client.responses.create(model="m", input="x", stream=True))
        assert events[-1].type == "response.completed"
        assert events[-1].response.output_text == "hey " * 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
