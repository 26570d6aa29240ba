"""The stream's events (docs/api.md, "The stream") and the mapping from SDK events to them.

An event is produced once, as its JSON ``payload`` (bytes), and framed by each
transport: ``chat.sse`` for ``/api/chat`` and a run's events, ``ws_frame``
for the WebSocket (which adds ``runId`` and ``eventId``). Encoding is on the
per-token path, so the common events are built from pre-encoded byte
prefixes around one C-accelerated ``json`` string encode.
Upstream failures become one ``error`` event with a stable code and a message
that is safe to show: never the exception text, which can carry URLs, request
ids or key fragments.
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import openai
from agents import AgentsException, ModelBehaviorError

logger = logging.getLogger(__name__)


def _transport_errors(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from every HTTP library the openai client may sit on: openai 3.x
    uses ``httpx2`` (a separate package), earlier releases ``httpx``."""
    found = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found.append(getattr(module, name))
    return tuple(found)


_CONNECT_ERRORS = _transport_errors("ConnectError")
_TIMEOUT_ERRORS = _transport_errors("TimeoutException")
_TRANSPORT_ERRORS = _transport_errors("TransportError")

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

_TEXT_DELTA = b'{"type":"text_delta","delta":'
_REASONING = b'{"type":"reasoning","text":'
_END = b"}"


def payload(event: dict[str, Any]) -> bytes:
    """One event as compact JSON bytes (what every transport frames)."""
    return _encode(event).encode()


def text_delta(delta: str) -> bytes:
    return _TEXT_DELTA + _encode(delta).encode() + _END


def reasoning(text: str) -> bytes:
    return _REASONING + _encode(text).encode() + _END


def ws_frame(event_payload: bytes, run_id: str, event_id: int) -> str:
    """The payload with ``runId`` and ``eventId`` added (a splice, not a re-encode:
    every payload is a JSON object ending in ``}``)."""
    return f'{event_payload[:-1].decode()},"runId":"{run_id}","eventId":{event_id}}}'


def _output_text(output: Any) -> str:
    return output if isinstance(output, str) else _encode(output)


class EventTranslator:
    """Turns Agents SDK stream events into event payloads and remembers the unfinished reply.

    ``partial_text`` is the text streamed by the model call in progress; if the
    turn is cut short it is saved as the partial reply.
    """

    def __init__(self) -> None:
        self._partial: list[str] = []

    @property
    def partial_text(self) -> str:
        return "".join(self._partial)

    def translate(self, event: Any) -> bytes | None:
        if event.type == "raw_response_event":
            data = event.data
            kind = data.type
            if kind == "response.output_text.delta":
                if data.delta:
                    self._partial.append(data.delta)
                    return text_delta(data.delta)
                return None
            if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
                return reasoning(data.delta) if data.delta else None
            if kind == "response.created":
                # A new model call: the previous call's text is already an item.
                self._partial.clear()
            return None
        if event.type != "run_item_stream_event":
            return None
        name = event.name
        if name == "tool_called":
            raw = event.item.raw_item
            get = raw.get if isinstance(raw, dict) else lambda key, d=None: getattr(raw, key, d)
            return payload(
                {
                    "type": "tool_call",
                    "tool_name": get("name") or get("type") or "tool",
                    "argument": get("arguments") or "{}",
                    "call_id": get("call_id") or get("id") or "",
                }
            )
        if name == "tool_output":
            raw = event.item.raw_item
            call_id = raw.get("call_id") if isinstance(raw, dict) else getattr(raw, "call_id", "")
            return payload(
                {
                    "type": "tool_result",
                    "call_id": call_id,
                    "output": _output_text(event.item.output),
                }
            )
        return None


def conversation_event(conversation_id: object, title: str) -> bytes:
    return payload({"type": "conversation", "id": str(conversation_id), "title": title})


def usage_event(input_tokens: int, output_tokens: int) -> bytes:
    return payload({"type": "usage", "input_tokens": input_tokens, "output_tokens": output_tokens})


@dataclass(frozen=True)
class StreamError:
    code: str
    message: str
    retryable: bool

    def event(self) -> bytes:
        return payload(
            {
                "type": "error",
                "code": self.code,
                "message": self.message,
                "retryable": self.retryable,
            }
        )


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify_error(error: BaseException) -> StreamError:
    """A stable code and a safe message for a failure during a run."""
    chain = _chain(error)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(item, types) for item in chain)

    if has(openai.APITimeoutError, TimeoutError, *_TIMEOUT_ERRORS):
        return StreamError("timeout", "The model took too long to respond.", True)
    if has(openai.AuthenticationError, openai.PermissionDeniedError):
        return StreamError(
            "upstream_auth", "The model provider rejected this server's credentials.", False
        )
    if has(openai.RateLimitError):
        return StreamError(
            "upstream_rate_limited",
            "The model provider is rate limiting requests. Try again shortly.",
            True,
        )
    if has(*_CONNECT_ERRORS):
        return StreamError("upstream_unavailable", "The model provider could not be reached.", True)
    if has(openai.APIStatusError):
        status = next(e.status_code for e in chain if isinstance(e, openai.APIStatusError))
        return StreamError(
            "upstream_error",
            f"The model provider returned an error (HTTP {status}).",
            status >= 500 or status == 408,
        )
    if has(openai.APIConnectionError, *_TRANSPORT_ERRORS):
        return StreamError(
            "upstream_error", "The connection to the model provider broke off mid-reply.", True
        )
    if has(json.JSONDecodeError, ModelBehaviorError, openai.APIResponseValidationError):
        return StreamError(
            "upstream_error", "The model sent a response the server could not read.", True
        )
    if has(AgentsException):
        return StreamError("agent_error", "The agent could not finish this reply.", False)
    logger.error("chat run failed", exc_info=error)
    return StreamError("internal_error", "Something went wrong on the server.", False)
