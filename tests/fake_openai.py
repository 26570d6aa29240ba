"""A loopback fake OpenAI server that speaks the real streaming wire formats.

The real ``openai`` client and the Agents SDK (``OpenAIChatCompletionsModel``,
``OpenAIResponsesModel``) talk to it through a base URL, so tests exercise the
whole HTTP path (connection handling, SSE parsing, error mapping) with no mocks.

It is a small ASGI app (``FakeOpenAI.__call__``) served by uvicorn, on its own
event loop in a background thread, so sync tests, async tests and a
Django/Daphne subprocess can all use it. It notices a client that closes the
connection mid-stream (ASGI's ``http.disconnect``) and records when.

Endpoints
---------
``POST /v1/chat/completions``
    ``stream=true``: ``chat.completion.chunk`` SSE ending in ``data: [DONE]``;
    a final usage chunk (``choices: []``) when
    ``stream_options.include_usage`` is true. Reasoning is streamed as
    ``delta.reasoning_content`` (what the Agents SDK turns into reasoning
    summary events). ``stream=false``: a ``chat.completion`` JSON.
``POST /v1/responses``
    ``stream=true``: Responses API events (``response.created``,
    ``response.in_progress``, ``response.output_item.added``,
    ``response.reasoning_summary_part.added``,
    ``response.reasoning_summary_text.delta``/``.done``,
    ``response.content_part.added``, ``response.output_text.delta``/``.done``,
    ``response.content_part.done``,
    ``response.function_call_arguments.delta``/``.done``,
    ``response.output_item.done``, ``response.completed`` with usage).
    ``stream=false``: a ``response`` JSON.
``GET /v1/models``
    a model list. ``GET /_fake/stats``: counters (for benchmarks).

Scripting
---------
Each chat/responses request consumes one scripted :class:`Turn` from a FIFO
queue (``fake.push(...)``); when the queue is empty ``fake.default_turn`` is
used (a short plain-text reply unless you set another). Every request is
logged as a :class:`RecordedRequest` (method, path, lower-cased headers, JSON
body, ``deltas_sent``, ``outcome``, ``time.monotonic()`` timestamps
``received_at``/``first_delta_at``/``finished_at``/``disconnected_at``) in
``fake.requests`` (``fake.model_requests``: chat/responses only).
``req.wait_disconnected(timeout)`` (and ``..._async``) waits for a client
that leaves mid-response. ``FakeOpenAI(require_api_key="sk-...")`` answers
401 to any other key; ``framing="close"`` closes the connection after each
response (``Connection: close``; bodies stay chunked: uvicorn frames them);
``fake.env()`` gives ``OPENAI_BASE_URL`` /
``OPENAI_API_KEY`` for an app subprocess; ``fake.reset()`` clears queue and
log; ``fake.cpu_seconds()`` is the server thread's CPU time.

Turn constructors (all keyword options of :func:`text` apply to the others):

- ``text("Hello world", first_token_delay=0.0, interval=0.0)``: plain text
  split into word tokens; or ``text(tokens=["He", "llo"])``;
  or ``text(n_tokens=50)``. ``usage=(input_tokens, output_tokens)`` or
  :class:`Usage` overrides the estimated usage numbers.
- ``tool_call("get_time", {"tz": "UTC"})`` / ``tool_calls(("a", {...}),
  ("b", {...}))``: the model calls tools; the next request (carrying the tool
  output) gets the next scripted turn.
- ``reasoning("thinking...", "answer")``: reasoning summary, then the answer.
- ``http_error(status, ...)``, ``unauthorized()`` (401), ``rate_limited(
  retry_after=1)`` (429 + ``Retry-After``), ``server_error(500|503)``.
- ``stall(seconds)``: accept and answer nothing for ``seconds``;
  ``stall(seconds, after_tokens=K)``: stream K deltas, then go silent.
- ``malformed(after_tokens=K)``: an invalid-JSON ``data:`` line after K deltas.
- ``truncated(after_tokens=K)``: drop the connection after K deltas (no
  ``[DONE]``/``response.completed``; the chunked body is left unterminated).
- ``hold("a b c d", after_tokens=2)``: stream 2 deltas, then wait until the
  test calls ``turn.release()``; ``turn.held`` is a ``threading.Event`` set
  when the hold point is reached.
- ``benchmark(first_token_delay, n_tokens, interval)``: a reusable,
  pre-encoded turn that is cheap enough for hundreds of concurrent streams.
- ``closed_port_url()``: a base URL whose port refuses connections.

"Deltas" are counted in stream order: reasoning deltas, text deltas, then
tool-call deltas (name announcement and argument fragments).

Example::

    from tests.fake_openai import FakeOpenAI, text, tool_call, hold

    with FakeOpenAI() as fake:
        fake.push(tool_call("add", {"a": 1, "b": 2}), text("The sum is 3."))
        client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test")
        ...                              # run the agent
        second = fake.requests[1]        # carries the tool output
        assert second.body["messages"][-1]["role"] == "tool"
        assert second.headers["authorization"] == "Bearer sk-test"

        slow = hold("first second third", after_tokens=1)
        fake.push(slow)
        ...                              # read the first token, then close
        assert slow.wait_held(1.0)       # upstream holds back "second third"
        assert fake.requests[-1].wait_disconnected(1.0)
        slow.release()

Usage numbers: by default ``input_tokens`` is ``len(request body) // 4`` and
``output_tokens`` the number of deltas; pass ``usage=`` for exact numbers.
Note the Agents SDK only asks Chat Completions for usage on a non-OpenAI base
URL when ``ModelSettings(include_usage=True)``.

CLI (benchmarks run the fake as its own process)::

    python -m tests.fake_openai --port 0 --first-token-delay 0.2 \\
        --tokens 50 --interval 0.01

prints ``FAKE_OPENAI_READY http://127.0.0.1:<port>/v1`` once listening and
serves until SIGINT/SIGTERM (``--uvloop``: on uvloop). See ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn

__all__ = [
    "FakeOpenAI",
    "RecordedRequest",
    "ToolCall",
    "Turn",
    "Usage",
    "benchmark",
    "closed_port_url",
    "hold",
    "http_error",
    "malformed",
    "rate_limited",
    "reasoning",
    "server_error",
    "stall",
    "text",
    "tool_call",
    "tool_calls",
    "truncated",
    "unauthorized",
]

DEFAULT_MODEL = "gpt-fake"
DEFAULT_REPLY = "Hello from the fake OpenAI server."

# --------------------------------------------------------------------------- turns


@dataclass
class Usage:
    """Token usage to report (Chat: prompt/completion tokens; Responses: input/output)."""

    input_tokens: int
    output_tokens: int
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def chat(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def responses(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens, "cache_write_tokens": 0},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.total_tokens,
        }


@dataclass
class ToolCall:
    name: str
    arguments: str  # a JSON string, exactly as the model would send it
    call_id: str = ""

    def __post_init__(self) -> None:
        if not self.call_id:
            self.call_id = f"call_{next(_ids):06d}fake"


_ids = itertools.count(1)
_TOKEN_RE = re.compile(r"\s*\S+\s*|\s+")


def _split_tokens(content: str) -> list[str]:
    return _TOKEN_RE.findall(content) if content else []


def _arg_fragments(arguments: str, size: int = 12) -> list[str]:
    if not arguments:
        return []
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


@dataclass(eq=False)
class Turn:
    """One scripted model answer. Build it with the module's constructors."""

    tokens: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    first_token_delay: float = 0.0
    interval: float = 0.0
    usage: Usage | None = None
    # failure modes
    status: int | None = None  # answer with this HTTP error instead of a stream
    error_body: dict[str, Any] | None = None
    error_headers: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = 0.0
    stall_after: int | None = None  # None: stall before the headers (if stall_seconds)
    malformed_after: int | None = None
    truncate_after: int | None = None
    hold_after: int | None = None
    framing: str | None = None  # "chunked" | "close"; None: the server default
    cache: bool = False  # reuse pre-encoded bytes across requests (benchmark turns)

    def __post_init__(self) -> None:
        self.held = threading.Event()  # set when the hold point is reached
        self._released = threading.Event()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()
        self._plan_cache: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}

    # -- hold control --------------------------------------------------------------
    def release(self) -> None:
        """Let a held stream continue (thread-safe, callable from any thread)."""
        with self._lock:
            self._released.set()
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # loop already closed
                pass

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def wait_held(self, timeout: float = 5.0) -> bool:
        return self.held.wait(timeout)

    async def wait_held_async(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not self.held.is_set():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def _release_future(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._released.is_set():
                fut.set_result(None)
            else:
                self._waiters.append((loop, fut))
        return fut

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _as_usage(usage: Usage | Sequence[int] | None) -> Usage | None:
    if usage is None or isinstance(usage, Usage):
        return usage
    return Usage(*usage)


def text(
    content: str | None = None,
    *,
    tokens: Sequence[str] | None = None,
    n_tokens: int | None = None,
    reasoning: str | Sequence[str] | None = None,
    tool_calls: Iterable[ToolCall] = (),
    first_token_delay: float = 0.0,
    interval: float = 0.0,
    usage: Usage | Sequence[int] | None = None,
    hold_after: int | None = None,
    stall_seconds: float = 0.0,
    stall_after: int | None = None,
    malformed_after: int | None = None,
    truncate_after: int | None = None,
    framing: str | None = None,
    cache: bool = False,
) -> Turn:
    """A plain-text answer: ``content`` split into word tokens, an explicit
    ``tokens`` list, or ``n_tokens`` synthetic tokens ("t0 t1 ...")."""
    if tokens is not None:
        toks = list(tokens)
    elif n_tokens is not None:
        toks = [f"t{i} " for i in range(n_tokens)]
    elif content is not None:
        toks = _split_tokens(content)
    else:
        toks = []
    if isinstance(reasoning, str):
        reasoning_tokens = _split_tokens(reasoning)
    else:
        reasoning_tokens = list(reasoning or [])
    return Turn(
        tokens=toks,
        reasoning=reasoning_tokens,
        tool_calls=list(tool_calls),
        first_token_delay=first_token_delay,
        interval=interval,
        usage=_as_usage(usage),
        hold_after=hold_after,
        stall_seconds=stall_seconds,
        stall_after=stall_after,
        malformed_after=malformed_after,
        truncate_after=truncate_after,
        framing=framing,
        cache=cache,
    )


def _make_tool_call(spec: ToolCall | tuple[Any, ...]) -> ToolCall:
    if isinstance(spec, ToolCall):
        return spec
    name, arguments, *rest = spec
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return ToolCall(name, arguments, *rest)


def tool_call(
    name: str, arguments: dict[str, Any] | str | None = None, *, call_id: str = "", **kw: Any
) -> Turn:
    """The model calls one tool (``arguments``: a dict or a JSON string)."""
    return tool_calls((name, arguments if arguments is not None else {}, call_id), **kw)


def tool_calls(*calls: ToolCall | tuple[Any, ...], content: str | None = None, **kw: Any) -> Turn:
    """The model calls several tools at once; each call is ``(name, args[, call_id])``."""
    return text(content, tool_calls=[_make_tool_call(c) for c in calls], **kw)


def reasoning(summary: str, answer: str, **kw: Any) -> Turn:
    """Reasoning summary text (streamed first), then the answer."""
    return text(answer, reasoning=summary, **kw)


_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("You are not allowed to access this resource.", "invalid_request_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: (
        "The engine is currently overloaded, please try again later.",
        "server_error",
        "service_unavailable",
    ),
}


def http_error(
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    type: str | None = None,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
    first_token_delay: float = 0.0,
) -> Turn:
    """Answer with an HTTP error and OpenAI's ``{"error": {...}}`` body."""
    default_msg, default_type, default_code = _ERRORS.get(status, ("Error.", "server_error", None))
    hdrs = dict(headers or {})
    if retry_after is not None:
        hdrs["retry-after"] = f"{retry_after:g}"
        hdrs["retry-after-ms"] = str(int(retry_after * 1000))
    body = {
        "error": {
            "message": message or default_msg,
            "type": type or default_type,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }
    return Turn(
        status=status, error_body=body, error_headers=hdrs, first_token_delay=first_token_delay
    )


def unauthorized(message: str | None = None) -> Turn:
    return http_error(401, message)


def rate_limited(retry_after: float = 1.0, message: str | None = None) -> Turn:
    return http_error(429, message, retry_after=retry_after)


def server_error(status: int = 500, message: str | None = None) -> Turn:
    return http_error(status, message)


def stall(
    seconds: float = 60.0,
    *,
    after_tokens: int | None = None,
    content: str = DEFAULT_REPLY,
    **kw: Any,
) -> Turn:
    """Go silent for ``seconds``: before the headers (``after_tokens=None``: the
    client's timeout fires waiting for a response) or after K deltas."""
    return text(content, stall_seconds=seconds, stall_after=after_tokens, **kw)


def malformed(after_tokens: int = 1, content: str = DEFAULT_REPLY, **kw: Any) -> Turn:
    """Send an invalid-JSON ``data:`` line after K deltas."""
    return text(content, malformed_after=after_tokens, **kw)


def truncated(after_tokens: int = 2, content: str = DEFAULT_REPLY, **kw: Any) -> Turn:
    """Drop the connection after K deltas, without ``[DONE]``/``response.completed``."""
    return text(content, truncate_after=after_tokens, **kw)


def hold(content: str = DEFAULT_REPLY, *, after_tokens: int = 1, **kw: Any) -> Turn:
    """Stream K deltas, then wait for ``turn.release()`` before the rest."""
    return text(content, hold_after=after_tokens, **kw)


def benchmark(
    first_token_delay: float = 0.0,
    n_tokens: int = 50,
    interval: float = 0.01,
    token: str = "tok ",  # noqa: S107
    usage: Usage | Sequence[int] | None = None,
) -> Turn:
    """A cheap reusable turn: N identical tokens, pre-encoded once per (API, model)."""
    return text(
        tokens=[token] * n_tokens,
        first_token_delay=first_token_delay,
        interval=interval,
        usage=usage or Usage(10, n_tokens),
        cache=True,
    )


def closed_port_url(host: str = "127.0.0.1") -> str:
    """A base URL on a port nobody listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    return f"http://{host}:{port}/v1"


# ------------------------------------------------------------------- request log


@dataclass(eq=False)
class RecordedRequest:
    """One request as the server saw it. Times are ``time.monotonic()`` values."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    received_at: float
    turn: Turn | None = None
    status: int | None = None
    first_delta_at: float | None = None
    deltas_sent: int = 0
    finished_at: float | None = None  # whole response written
    disconnected_at: float | None = None  # client closed before the response ended
    # pending | completed | disconnected | dropped (truncated) | error (HTTP >= 400)
    # | server_stopped
    outcome: str = "pending"

    def __post_init__(self) -> None:
        self._disconnected = threading.Event()
        self._done = threading.Event()

    @property
    def json(self) -> Any:
        return self.body

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def messages(self) -> list[Any]:
        """Chat Completions ``messages`` (empty for other endpoints)."""
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def input(self) -> Any:
        """Responses API ``input``."""
        return self.body.get("input") if isinstance(self.body, dict) else None

    @property
    def disconnected(self) -> bool:
        return self._disconnected.is_set()

    def wait_disconnected(self, timeout: float = 5.0) -> bool:
        return self._disconnected.wait(timeout)

    async def wait_disconnected_async(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        return await _poll(self._disconnected, timeout)

    def wait_done(self, timeout: float = 5.0) -> bool:
        """Wait until the server finished with this request (any outcome)."""
        return self._done.wait(timeout)

    def _mark_disconnected(self) -> None:
        # Only a client leaving mid-response counts (not after the last byte).
        if self.disconnected_at is None and self.outcome == "pending":
            self.disconnected_at = time.monotonic()
            self.outcome = "disconnected"
            self._disconnected.set()


async def _poll(event: threading.Event, timeout: float) -> bool:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not event.is_set():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.005)
    return True


# -------------------------------------------------------------- plan building
# A plan is a list of steps ``(kind, at, data, n_deltas)``; ``at`` is seconds
# from the start of the response; uvicorn frames the bytes (chunked).

_W, _HOLD, _STALL, _DROP = "write", "hold", "stall", "drop"
_PREV, _NEXT, _DELTA = 0, 1, 2  # unit timing: with the previous / next delta, or a delta


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _sse(obj: Any, event: str | None = None) -> bytes:
    if event is None:
        return b"data: " + _dumps(obj) + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + _dumps(obj) + b"\n\n"


_MALFORMED_CHAT = (
    b'data: {"id":"chatcmpl-malformed","object":"chat.completion.chunk","choices":[{\n\n'
)
_MALFORMED_RESP = (
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",\n\n'
)


@dataclass
class _Ctx:
    api: str  # "chat" | "responses"
    model: str
    include_usage: bool
    input_estimate: int


def _usage_for(turn: Turn, ctx: _Ctx) -> Usage:
    if turn.usage is not None:
        return turn.usage
    out = len(turn.tokens) + len(turn.reasoning)
    out += sum(1 + len(_arg_fragments(c.arguments)) for c in turn.tool_calls)
    return Usage(ctx.input_estimate, out, reasoning_tokens=len(turn.reasoning))


def _chat_units(turn: Turn, ctx: _Ctx) -> list[tuple[int, bytes]]:
    rid = f"chatcmpl-{next(_ids):08d}"
    created = int(time.time())
    head = (
        f'{{"id":"{rid}","object":"chat.completion.chunk","created":{created},'
        f'"model":{json.dumps(ctx.model)},"system_fingerprint":"fp_fake","choices":['
    ).encode()

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + head + _dumps(choice) + b"]}\n\n"

    units: list[tuple[int, bytes]] = [(_PREV, chunk({"role": "assistant", "content": ""}))]
    units += [(_DELTA, chunk({"reasoning_content": r})) for r in turn.reasoning]
    units += [(_DELTA, chunk({"content": t})) for t in turn.tokens]
    for i, call in enumerate(turn.tool_calls):
        units.append(
            (
                _DELTA,
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": call.call_id,
                                "type": "function",
                                "function": {"name": call.name, "arguments": ""},
                            }
                        ]
                    }
                ),
            )
        )
        units += [
            (_DELTA, chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]}))
            for frag in _arg_fragments(call.arguments)
        ]
    units.append((_PREV, chunk({}, "tool_calls" if turn.tool_calls else "stop")))
    if ctx.include_usage:
        usage = {"usage": _usage_for(turn, ctx).chat()}
        units.append((_PREV, b"data: " + head + b"]," + _dumps(usage)[1:] + b"\n\n"))
    units.append((_PREV, b"data: [DONE]\n\n"))
    return units


def _response_obj(
    rid: str, ctx: _Ctx, status: str, output: list[Any], usage: Usage | None, created: int
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": ctx.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage.responses() if usage is not None else None,
        "user": None,
        "metadata": {},
    }


def _responses_items(turn: Turn) -> list[dict[str, Any]]:
    """The completed output items of a turn (used by streaming and non-streaming)."""
    items: list[dict[str, Any]] = []
    n = next(_ids)
    if turn.reasoning:
        items.append(
            {
                "id": f"rs_{n:08d}",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "".join(turn.reasoning)}],
            }
        )
    if turn.tokens or not turn.tool_calls:
        items.append(
            {
                "id": f"msg_{n:08d}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": turn.text, "annotations": [], "logprobs": []}
                ],
            }
        )
    for i, call in enumerate(turn.tool_calls):
        items.append(
            {
                "id": f"fc_{n:08d}_{i}",
                "type": "function_call",
                "status": "completed",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            }
        )
    return items


def _responses_units(turn: Turn, ctx: _Ctx) -> list[tuple[int, bytes]]:
    rid = f"resp_{next(_ids):08d}"
    created = int(time.time())
    seq = itertools.count()
    items = _responses_items(turn)

    def ev(kind: str, **fields: Any) -> bytes:
        fields = {"type": kind, "sequence_number": next(seq), **fields}
        return _sse(fields, kind)

    units: list[tuple[int, bytes]] = [
        (
            _PREV,
            ev(
                "response.created",
                response=_response_obj(rid, ctx, "in_progress", [], None, created),
            ),
        ),
        (
            _PREV,
            ev(
                "response.in_progress",
                response=_response_obj(rid, ctx, "in_progress", [], None, created),
            ),
        ),
    ]
    for idx, item in enumerate(items):
        iid = item["id"]
        if item["type"] == "reasoning":
            units.append(
                (
                    _NEXT,
                    ev(
                        "response.output_item.added",
                        output_index=idx,
                        item={"id": iid, "type": "reasoning", "summary": []},
                    ),
                )
            )
            units.append(
                (
                    _NEXT,
                    ev(
                        "response.reasoning_summary_part.added",
                        item_id=iid,
                        output_index=idx,
                        summary_index=0,
                        part={"type": "summary_text", "text": ""},
                    ),
                )
            )
            units += [
                (
                    _DELTA,
                    ev(
                        "response.reasoning_summary_text.delta",
                        item_id=iid,
                        output_index=idx,
                        summary_index=0,
                        delta=r,
                    ),
                )
                for r in turn.reasoning
            ]
            full = item["summary"][0]["text"]
            units.append(
                (
                    _PREV,
                    ev(
                        "response.reasoning_summary_text.done",
                        item_id=iid,
                        output_index=idx,
                        summary_index=0,
                        text=full,
                    ),
                )
            )
            units.append(
                (
                    _PREV,
                    ev(
                        "response.reasoning_summary_part.done",
                        item_id=iid,
                        output_index=idx,
                        summary_index=0,
                        part={"type": "summary_text", "text": full},
                    ),
                )
            )
        elif item["type"] == "message":
            units.append(
                (
                    _NEXT,
                    ev(
                        "response.output_item.added",
                        output_index=idx,
                        item={**item, "status": "in_progress", "content": []},
                    ),
                )
            )
            units.append(
                (
                    _NEXT,
                    ev(
                        "response.content_part.added",
                        item_id=iid,
                        output_index=idx,
                        content_index=0,
                        part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
                    ),
                )
            )
            units += [
                (
                    _DELTA,
                    ev(
                        "response.output_text.delta",
                        item_id=iid,
                        output_index=idx,
                        content_index=0,
                        delta=t,
                        logprobs=[],
                    ),
                )
                for t in turn.tokens
            ]
            units.append(
                (
                    _PREV,
                    ev(
                        "response.output_text.done",
                        item_id=iid,
                        output_index=idx,
                        content_index=0,
                        text=turn.text,
                        logprobs=[],
                    ),
                )
            )
            units.append(
                (
                    _PREV,
                    ev(
                        "response.content_part.done",
                        item_id=iid,
                        output_index=idx,
                        content_index=0,
                        part=item["content"][0],
                    ),
                )
            )
        else:  # function_call
            units.append(
                (
                    _DELTA,
                    ev(
                        "response.output_item.added",
                        output_index=idx,
                        item={**item, "status": "in_progress", "arguments": ""},
                    ),
                )
            )
            units += [
                (
                    _DELTA,
                    ev(
                        "response.function_call_arguments.delta",
                        item_id=iid,
                        output_index=idx,
                        delta=frag,
                    ),
                )
                for frag in _arg_fragments(item["arguments"])
            ]
            units.append(
                (
                    _PREV,
                    ev(
                        "response.function_call_arguments.done",
                        item_id=iid,
                        output_index=idx,
                        name=item["name"],
                        arguments=item["arguments"],
                    ),
                )
            )
        units.append((_PREV, ev("response.output_item.done", output_index=idx, item=item)))
    done = _response_obj(rid, ctx, "completed", items, _usage_for(turn, ctx), created)
    done["completed_at"] = int(time.time())
    units.append((_PREV, ev("response.completed", response=done)))
    return units


def _build_plan(turn: Turn, ctx: _Ctx) -> list[tuple[Any, ...]]:
    units = _chat_units(turn, ctx) if ctx.api == "chat" else _responses_units(turn, ctx)
    n_deltas = sum(1 for k, _ in units if k == _DELTA)

    # When does each unit go out? Delta i at first_token_delay + i * interval;
    # other units with the previous delta (or the next one, for "added" events).
    times: list[float] = []
    delta_times = [turn.first_token_delay + i * turn.interval for i in range(n_deltas)]
    seen = 0
    for kind, _ in units:
        if kind == _DELTA:
            times.append(delta_times[seen])
            seen += 1
        elif kind == _NEXT and seen < n_deltas:
            times.append(delta_times[seen])
        else:
            times.append(delta_times[seen - 1] if seen else 0.0)

    # Where does the control point (hold/stall/malformed/truncate) go?
    controls: dict[int, list[tuple[Any, ...]]] = {}  # unit index -> steps inserted before it

    def place(after: int, steps: list[tuple[Any, ...]]) -> None:
        if after <= 0:
            pos = next((i for i, (k, _) in enumerate(units) if k != _PREV), len(units))
        else:
            count, pos = 0, len(units)
            last_delta = None
            for i, (k, _) in enumerate(units):
                if k == _DELTA:
                    count += 1
                    last_delta = i
                    if count == after:
                        pos = i + 1
                        break
            else:
                pos = (last_delta + 1) if last_delta is not None else pos
        controls.setdefault(pos, []).extend(steps)

    bad = _MALFORMED_CHAT if ctx.api == "chat" else _MALFORMED_RESP
    if turn.malformed_after is not None:
        place(turn.malformed_after, [(_W, None, bad, 0)])
    if turn.hold_after is not None:
        place(turn.hold_after, [(_HOLD, None, None, 0)])
    if turn.stall_after is not None and turn.stall_seconds:
        place(turn.stall_after, [(_STALL, None, turn.stall_seconds, 0)])
    if turn.truncate_after is not None:
        place(turn.truncate_after, [(_DROP, None, None, 0)])

    # Merge consecutive same-time units into one framed write.
    steps: list[tuple[Any, ...]] = []
    buf: list[bytes] = []
    buf_at = 0.0
    buf_n = 0

    def flush() -> None:
        nonlocal buf, buf_n
        if buf:
            steps.append((_W, buf_at, b"".join(buf), buf_n))
            buf, buf_n = [], 0

    for i, (kind, data) in enumerate(units):
        if i in controls:
            flush()
            for step in controls[i]:
                if step[0] == _W and step[1] is None:  # malformed: at the time of its neighbour
                    step = (_W, steps[-1][1] if steps else 0.0, step[2], 0)
                steps.append(step)
        if buf and times[i] != buf_at:
            flush()
        buf_at = times[i]
        buf.append(data)
        buf_n += kind == _DELTA
    if len(units) in controls:
        flush()
        steps.extend(
            (_W, steps[-1][1] if steps else 0.0, s[2], 0) if s[0] == _W and s[1] is None else s
            for s in controls[len(units)]
        )
    flush()
    # A drop ends the plan.
    for i, step in enumerate(steps):
        if step[0] == _DROP:
            del steps[i + 1 :]
            break
    return steps


# ----------------------------------------------------------------- the ASGI app


class _Drop(Exception):
    """Raised mid-response to make uvicorn cut the connection (``truncated``)."""


class _QuietDrops(logging.Filter):
    """uvicorn logs an exception that ends a response; a scripted drop is no error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _Drop))


_quiet_drops = _QuietDrops()


def _json_error(message: str, code: str | None = None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }


async def _read_body(receive: Any) -> bytes | None:
    """The whole request body; None when the client left before sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


class FakeOpenAI:
    """The fake server. ``start()`` runs it in a background thread; ``stop()`` ends it.

    ``require_api_key``: when set, requests without ``Authorization: Bearer <key>``
    get a 401 (without consuming a turn). ``framing``: ``"chunked"`` (default,
    keep-alive) or ``"close"`` (the connection closes after each response).
    ``keep_log=False`` keeps only counters (long benchmark runs). ``uvloop``: serve
    on uvloop's event loop (when installed), as the production server does.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default_turn: Turn | None = None,
        model: str = DEFAULT_MODEL,
        framing: str = "chunked",
        require_api_key: str | None = None,
        keep_log: bool = True,
        uvloop: bool = False,
    ) -> None:
        if framing not in ("chunked", "close"):
            raise ValueError("framing must be 'chunked' or 'close'")
        self.host = host
        self.port = port
        self.model = model
        self.framing = framing
        self.require_api_key = require_api_key
        self.keep_log = keep_log
        self.uvloop = uvloop
        self.default_turn = default_turn if default_turn is not None else text(DEFAULT_REPLY)
        self._turns: deque[Turn] = deque()
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self.request_count = 0
        self.active_streams = 0
        self.max_active_streams = 0

    # -- lifecycle -----------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def env(self, api_key: str = "sk-fake-test-key") -> dict[str, str]:
        """Environment variables pointing an app process at this server."""
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": api_key}

    def _bind(self) -> tuple[socket.socket, uvicorn.Server]:
        """The listening socket (so the port is known at once) and a uvicorn server."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(_quiet_drops)
        config = uvicorn.Config(
            self,
            lifespan="off",
            ws="none",
            # uvicorn's loggers propagate to the host's logging (pytest captures them).
            log_config=None,
            log_level="warning",
            access_log=False,
            backlog=4096,
            # Clients (the app's pooled connections) decide when to close.
            timeout_keep_alive=3600,
        )
        return sock, uvicorn.Server(config)

    def start(self) -> FakeOpenAI:
        if self._thread is not None:
            return self
        sock, server = self._bind()
        self._server = server

        def run() -> None:
            loop = _new_event_loop(self.uvloop)
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
                # Streams still open when the server stopped (held, stalled).
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            finally:
                loop.close()
                sock.close()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._thread = None
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        for turn in self._all_turns():
            turn.release()
        # Open streams are cancelled rather than waited for.
        server.should_exit = server.force_exit = True
        thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve_forever(self) -> None:
        """Serve on the current event loop until cancelled."""
        self._loop = asyncio.get_running_loop()
        sock, self._server = self._bind()
        try:
            await self._server.serve(sockets=[sock])
        finally:
            sock.close()

    # -- scripting -----------------------------------------------------------------
    def push(self, *turns: Turn) -> FakeOpenAI:
        """Queue turns; each chat/responses request consumes the next one."""
        with self._lock:
            self._turns.extend(turns)
        return self

    add = push

    @property
    def pending_turns(self) -> int:
        with self._lock:
            return len(self._turns)

    def _all_turns(self) -> list[Turn]:
        with self._lock:
            return [*self._turns, self.default_turn, *(r.turn for r in self._log if r.turn)]

    def _next_turn(self) -> Turn:
        with self._lock:
            return self._turns.popleft() if self._turns else self.default_turn

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        """Only chat/responses requests (the ones that consume turns)."""
        return [r for r in self.requests if r.path.endswith(("/chat/completions", "/responses"))]

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._log[-1] if self._log else None

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests
            if len(reqs) >= n or time.monotonic() >= deadline:
                return reqs
            time.sleep(0.005)

    async def wait_for_requests_async(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests
            if len(reqs) >= n or time.monotonic() >= deadline:
                return reqs
            await asyncio.sleep(0.005)

    def reset(self) -> None:
        """Forget queued turns and the request log (releases held turns)."""
        for turn in self._all_turns():
            if turn.hold_after is not None:
                turn.release()
        with self._lock:
            self._turns.clear()
            self._log.clear()

    def cpu_seconds(self) -> float:
        """CPU time used by the server's event-loop thread so far (``start()`` mode)."""
        loop = self._loop
        if loop is None or self._thread is None:
            return time.process_time()

        async def probe() -> float:
            return time.thread_time()

        return asyncio.run_coroutine_threadsafe(probe(), loop).result(5)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.request_count,
            "active_streams": self.active_streams,
            "max_active_streams": self.max_active_streams,
            "process_cpu_seconds": time.process_time(),
        }

    # -- HTTP (ASGI) -----------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        received_at = time.monotonic()
        raw = await _read_body(receive)
        if raw is None:
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        req = RecordedRequest(scope["method"], scope["path"], headers, body, raw, received_at)
        self.request_count += 1
        if self.keep_log:
            with self._lock:
                self._log.append(req)
        watch = asyncio.ensure_future(self._watch(receive, req, asyncio.current_task()))
        try:
            await self._dispatch(req, send)
        except asyncio.CancelledError:
            if not req.disconnected:  # the server is stopping, not the client leaving
                if req.outcome == "pending":
                    req.outcome = "server_stopped"
                raise
        finally:
            watch.cancel()
            if req.finished_at is None:
                req.finished_at = time.monotonic()
            if req.outcome == "pending":
                req.outcome = "completed"
            req._done.set()

    async def _watch(self, receive: Any, req: RecordedRequest, task: Any) -> None:
        """Stop answering when the client closes the connection mid-response."""
        message = await receive()
        if message["type"] == "http.disconnect" and req.outcome == "pending":
            req._mark_disconnected()
            task.cancel()

    async def _dispatch(self, req: RecordedRequest, send: Any) -> None:
        path = req.path.rstrip("/")
        if path in ("/v1/models", "/models") and req.method == "GET":
            data = [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                for m in dict.fromkeys([self.model, DEFAULT_MODEL])
            ]
            return await self._send_json(send, req, 200, {"object": "list", "data": data})
        if path == "/_fake/stats" and req.method == "GET":
            return await self._send_json(send, req, 200, self.stats())
        if path.endswith("/chat/completions"):
            api = "chat"
        elif path.endswith("/responses"):
            api = "responses"
        else:
            error = _json_error(f"Unknown path {req.path}", "unknown_url")
            return await self._send_json(send, req, 404, error)
        if req.method != "POST":
            return await self._send_json(send, req, 405, _json_error("Method not allowed"))
        if self.require_api_key is not None and (
            req.headers.get("authorization") != f"Bearer {self.require_api_key}"
        ):
            return await self._send_json(send, req, 401, unauthorized().error_body)
        if not isinstance(req.body, dict):
            error = _json_error("We could not parse the JSON body of your request.")
            return await self._send_json(send, req, 400, error)
        turn = self._next_turn()
        req.turn = turn
        await self._answer(send, req, api, turn)

    def _headers(
        self, extra: dict[str, str], framing: str | None = None
    ) -> list[tuple[bytes, bytes]]:
        headers = {"x-request-id": f"req_fake{next(_ids)}", **extra}
        if (framing or self.framing) == "close":
            headers["connection"] = "close"
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def _send_json(
        self,
        send: Any,
        req: RecordedRequest,
        status: int,
        obj: Any,
        extra: dict[str, str] | None = None,
    ) -> None:
        body = _dumps(obj)
        headers = {"content-type": "application/json", "content-length": str(len(body))}
        req.status = status
        req.outcome = "error" if status >= 400 else "completed"
        req.finished_at = time.monotonic()
        start = {"type": "http.response.start", "status": status}
        await send({**start, "headers": self._headers({**headers, **(extra or {})})})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, send: Any, req: RecordedRequest, api: str, turn: Turn) -> None:
        if turn.status is not None:
            if turn.first_token_delay:
                await asyncio.sleep(turn.first_token_delay)
            await self._send_json(send, req, turn.status, turn.error_body or {}, turn.error_headers)
            return
        if turn.stall_seconds and turn.stall_after is None:
            await asyncio.sleep(turn.stall_seconds)

        body = req.body
        ctx = _Ctx(
            api=api,
            model=str(body.get("model") or self.model),
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            input_estimate=max(1, len(req.raw_body) // 4),
        )
        if not body.get("stream"):
            return await self._answer_plain(send, req, turn, ctx)

        if turn.cache:
            key = (api, ctx.model, ctx.include_usage)
            steps = turn._plan_cache.get(key)
            if steps is None:
                steps = turn._plan_cache[key] = _build_plan(turn, ctx)
        else:
            steps = _build_plan(turn, ctx)

        headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "openai-processing-ms": "1",
        }
        req.status = 200
        start = {"type": "http.response.start", "status": 200}
        await send({**start, "headers": self._headers(headers, turn.framing)})
        self.active_streams += 1
        self.max_active_streams = max(self.max_active_streams, self.active_streams)
        try:
            await self._stream(send, req, turn, steps)
        finally:
            self.active_streams -= 1

    async def _stream(
        self, send: Any, req: RecordedRequest, turn: Turn, steps: list[tuple[Any, ...]]
    ) -> None:
        """Send a plan's bytes on time: step ``at`` seconds after the start, the
        spacing kept relative to the end of a hold or a stall."""
        loop = asyncio.get_running_loop()
        base, last_at, last = loop.time(), 0.0, len(steps) - 1
        for i, (kind, at, data, deltas) in enumerate(steps):
            if kind is _W:
                delay = base + at - loop.time()
                if delay > 0.0005:
                    await asyncio.sleep(delay)
                # Update the record before the client can see these bytes.
                if deltas:
                    if req.first_delta_at is None:
                        req.first_delta_at = time.monotonic()
                    req.deltas_sent += deltas
                if i == last:
                    req.finished_at = time.monotonic()
                    req.outcome = "completed"
                elif steps[i + 1][0] is _HOLD:
                    turn.held.set()
                await send({"type": "http.response.body", "body": data, "more_body": i < last})
                last_at = at
            elif kind is _DROP:
                req.outcome = "dropped"
                req.finished_at = time.monotonic()
                raise _Drop
            else:
                if kind is _HOLD:
                    turn.held.set()
                    await turn._release_future(loop)
                else:  # _STALL
                    await asyncio.sleep(data)
                base = loop.time() - last_at
                if i == last:
                    await send({"type": "http.response.body", "body": b""})

    async def _answer_plain(self, send: Any, req: RecordedRequest, turn: Turn, ctx: _Ctx) -> None:
        loop = asyncio.get_running_loop()
        delay = turn.first_token_delay + turn.interval * max(0, len(turn.tokens) - 1)
        if delay:
            await asyncio.sleep(delay)
        if turn.hold_after is not None:
            turn.held.set()
            await turn._release_future(loop)
        if turn.stall_after is not None and turn.stall_seconds:
            await asyncio.sleep(turn.stall_seconds)
        usage = _usage_for(turn, ctx)
        if ctx.api == "chat":
            message: dict[str, Any] = {
                "role": "assistant",
                "content": turn.text if (turn.tokens or not turn.tool_calls) else None,
                "refusal": None,
            }
            if turn.reasoning:
                message["reasoning_content"] = "".join(turn.reasoning)
            if turn.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": c.call_id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in turn.tool_calls
                ]
            obj: dict[str, Any] = {
                "id": f"chatcmpl-{next(_ids):08d}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": ctx.model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": "tool_calls" if turn.tool_calls else "stop",
                    }
                ],
                "usage": usage.chat(),
            }
        else:
            obj = _response_obj(
                f"resp_{next(_ids):08d}",
                ctx,
                "completed",
                _responses_items(turn),
                usage,
                int(time.time()),
            )
        body = _dumps(obj)
        if turn.malformed_after is not None:
            body = body[: len(body) // 2] + b"}{"
        headers = {"content-type": "application/json", "content-length": str(len(body))}
        req.status = 200
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": self._headers(headers, turn.framing),
        }
        if turn.truncate_after is not None:
            req.outcome = "dropped"
            await send(start)
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            raise _Drop
        req.deltas_sent = len(turn.tokens)
        req.outcome = "completed"
        req.finished_at = time.monotonic()
        await send(start)
        await send({"type": "http.response.body", "body": body})


def _new_event_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        try:
            import uvloop

            return uvloop.new_event_loop()
        except ImportError:
            print("uvloop not installed; using asyncio", file=sys.stderr)
    return asyncio.new_event_loop()


# ------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_openai",
        description="Run the fake OpenAI server as its own process (benchmarks). Every "
        "chat/responses request gets the same pre-encoded reply.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: pick a free port")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds")
    parser.add_argument("--tokens", type=int, default=50, help="tokens per reply")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between tokens")
    parser.add_argument("--token", default="tok ", help="the token text")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--framing", choices=("chunked", "close"), default="chunked")
    parser.add_argument("--api-key", default=None, help="require this Bearer key (else 401)")
    parser.add_argument("--uvloop", action="store_true", help="use uvloop if installed")
    args = parser.parse_args(argv)

    fake = FakeOpenAI(
        args.host,
        args.port,
        default_turn=benchmark(args.first_token_delay, args.tokens, args.interval, args.token),
        model=args.model,
        framing=args.framing,
        require_api_key=args.api_key,
        keep_log=False,
        uvloop=args.uvloop,
    )
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    fake.start()
    print(f"FAKE_OPENAI_READY {fake.base_url}", flush=True)
    while not stopping.wait(0.5):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
