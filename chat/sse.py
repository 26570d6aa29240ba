"""Server-Sent Events framing, for ``/api/chat`` and for a run's events.

Both streams carry the same event payloads (``chat.events``), one ``data:``
line each (a run's events also carry ``id:``, the ``Last-Event-ID`` to resume
after), ``: ping`` comments while nothing happens, and a final
``data: [DONE]``. See docs/api.md, "The stream".
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse

from chat import checkpoints, events, runs
from chat.turn import ChatTurn, TurnState

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
        """Django's response ``close()``, from a worker thread once the response ended.

        Normally the producer has finished by then. Two cases need help: the client
        left before the stream ever started (no ``finally`` will release the run
        lock), or while Django was writing a chunk, which leaves ``_iterator`` (the
        generator reading ``events()``) suspended at a ``yield``: close it now rather
        than whenever the garbage collector finalizes it.
        """
        if self._turn.recording:
            return
        try:
            # A fresh context: this thread's one says "inside the request's sync
            # executor", which is shutting down; the work must not queue there.
            self._turn.loop.call_soon_threadsafe(self._abandon, context=contextvars.Context())
        except RuntimeError:  # the loop is gone (a sync test client's throwaway loop)
            pass

    def _abandon(self) -> None:
        turn = self._turn
        if turn.recording:
            return
        if turn.state is TurnState.STARTING:
            task = asyncio.ensure_future(turn.abandon())
        else:
            task = asyncio.ensure_future(self._iterator.aclose())  # its finally records
        checkpoints.keep(task)


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
