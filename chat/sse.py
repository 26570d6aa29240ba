"""Server-Sent Events framing, for ``/api/chat`` and for a run's events.

Both streams carry the same event payloads (``chat.events``), one ``data:``
line each (a run's events also carry ``id:``, the ``Last-Event-ID`` to resume
after), ``: ping`` comments while nothing happens, and a final
``data: [DONE]``. See docs/api.md, "The stream".
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse

from chat import events, runs
from chat.turn import ChatTurn

DONE = b"data: [DONE]\n\n"
PING = b": ping\n\n"

# How a run's events can end other than with the run: one error event, then [DONE].
END_ERRORS = {
    runs.GONE: events.StreamError(
        "run_expired", "This run's events are no longer available.", False
    ),
    runs.SHUTTING_DOWN: events.StreamError(
        "shutting_down", "This server is shutting down. Reconnect to resume.", True
    ),
    runs.UNAVAILABLE: events.StreamError(
        "runs_unavailable", "The run's events could not be read. Reconnect to resume.", True
    ),
}


def frame(event_payload: bytes, event_id: int | None = None) -> bytes:
    if event_id is None:
        return b"data: " + event_payload + b"\n\n"
    return b"id: %d\ndata: %s\n\n" % (event_id, event_payload)


def response(content: Any) -> StreamingHttpResponse:
    stream = StreamingHttpResponse(content, content_type="text/event-stream; charset=utf-8")
    stream["Cache-Control"] = "no-cache"
    # nginx and friends: do not buffer this response.
    stream["X-Accel-Buffering"] = "no"
    return stream


def _ping_seconds() -> float:
    return settings.CHAT_PING_MS / 1000


class TurnStream:
    """``/api/chat``'s response content: the turn's events as they are produced;
    an async iterable with the ``close()`` Django calls when the response ends."""

    def __init__(self, turn: ChatTurn) -> None:
        self._turn = turn
        self._iterator = self._frames()

    async def _frames(self) -> AsyncGenerator[bytes, None]:
        produced = self._turn.events(_ping_seconds())
        try:
            async for batch in produced:
                if batch is None:
                    yield PING
                else:
                    yield b"".join([frame(item) for item in batch])
            yield DONE
        finally:
            # Closed at a yield (client gone): the producer's finally cancels the run.
            await produced.aclose()

    def __aiter__(self) -> AsyncGenerator[bytes, None]:
        return self._iterator

    def close(self) -> None:
        self._turn.abandon_from_thread(self._iterator)


async def run_stream(run_id: str, after: int) -> AsyncIterator[bytes]:
    """A run's events after event ``after``, live until it ends."""
    async for result in runs.follow(run_id, after, _ping_seconds()):
        if result.entries:
            yield b"".join([frame(item, n) for n, item in result.entries])
        elif result.end is None:
            yield PING
        error = END_ERRORS.get(result.end or "")
        if error is not None:
            yield frame(error.event())
    yield DONE
