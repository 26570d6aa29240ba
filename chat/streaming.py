"""One assistant turn: run the agent, produce its events, record the outcome.

``ChatTurn.events()`` is the one producer of a turn's events, shared by both
ways of delivering them: ``/api/chat`` frames them as SSE straight into the
response (``TurnStream``), and a background run (``chat.runs``) appends them
to the run's event log.

Shape (DESIGN.md traps):

- A pump task iterates ``result.stream_events()`` and puts event payloads on
  an ``asyncio.Queue``; the producer reads the queue with a ping timeout.
  Never ``wait_for`` on the stream iterator itself: its timeout would cancel
  the run.
- Whatever was queued while the consumer was busy is handed over as one batch,
  so a slow reader (or a slow Redis) costs fewer writes, not more.
- Client gone: Django cancels the response task (``CancelledError`` in the
  generator) or closes the generator (``GeneratorExit``). Either way the
  ``finally`` cancels the run -- an un-cancelled run keeps streaming from the
  upstream in the background -- and saves the partial reply as
  ``interrupted``, shielded so the cancellation cannot cut the write short.
  ``cancel()`` (a background run's stop) ends the turn the same way, without
  cancelling anybody's task.
- The turn is written before the producer returns, so a client that reloads
  the conversation right after ``[DONE]`` sees it. A new conversation's row
  is written after the first output batch, not before the first token
  (``services.turn_start``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncGenerator
from typing import Any

from agents import Runner
from django.conf import settings

from chat import events
from chat.agent import get_agent, model_config
from chat.events import StreamError
from chat.models import Turn
from chat.services import TurnStart, aturn_finish

logger = logging.getLogger(__name__)

# Strong references to finishing writes that outlive their request task.
_background: set[asyncio.Task[Any]] = set()


class _End:
    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Cancel:
    """Queue sentinel: stop the turn (``ChatTurn.cancel``)."""


_CANCEL = _Cancel()


class ChatTurn:
    def __init__(self, start: TurnStart, message: str) -> None:
        self.start = start
        self.message = message
        self.session = start.session()
        self.translator = events.EventTranslator()
        # The configured model, for a turn that ends before the agent is built.
        self.model_name = model_config().name
        # How the turn ended (a ``Turn.Status``), once ``events()`` has returned.
        self.status: str = Turn.Status.INTERRUPTED
        self._result: Any = None
        self._generator_started = False
        self._cancelled = False
        self._queue: asyncio.Queue[Any] | None = None
        self._finish_task: asyncio.Task[Any] | None = None
        self._loop = asyncio.get_running_loop()

    def cancel(self) -> None:
        """Stop the turn: the producer stops reading, cancels the agent run (closing
        the upstream request) and records the partial reply as ``interrupted``."""
        self._cancelled = True
        if self._queue is not None:
            self._queue.put_nowait(_CANCEL)

    # -- the producer ------------------------------------------------------------

    async def events(
        self, ping_seconds: float | None = None
    ) -> AsyncGenerator[list[bytes] | None, None]:
        """Yield batches (lists) of event payloads, ``conversation`` first; ``None``
        after ``ping_seconds`` of silence. Returns once the turn is recorded."""
        self._generator_started = True
        status = Turn.Status.INTERRUPTED
        error: events.StreamError | None = None
        pump: asyncio.Task[Any] | None = None
        try:
            if self._cancelled:  # stopped before it began: keep the question asked
                self.start.begin_saving()
                return
            # Ask the model first; a new conversation's row is written once the
            # first output is out (below), off the path to the first token.
            queue: asyncio.Queue[Any] = asyncio.Queue()
            self._queue = queue
            pump = asyncio.create_task(self._pump(queue))
            yield [
                events.payload(
                    {
                        "type": "conversation",
                        "id": str(self.start.conversation_id),
                        "title": self.start.title,
                    }
                )
            ]
            end: _End | _Cancel | None = None
            while end is None:
                if queue.empty():
                    try:
                        async with asyncio.timeout(ping_seconds):
                            item = await queue.get()
                    except TimeoutError:
                        yield None
                        continue
                else:
                    item = queue.get_nowait()
                batch: list[bytes] = []
                while True:
                    if isinstance(item, _End | _Cancel):
                        end = item
                        break
                    batch.append(item)
                    if queue.empty():
                        break
                    item = queue.get_nowait()
                if batch:
                    yield batch
                    self.start.begin_saving()  # no-op after the first time

            if isinstance(end, _Cancel):
                return  # interrupted: the finally records it
            if end.error is None:
                status = Turn.Status.COMPLETE
                usage = self._result.context_wrapper.usage
                yield [events.usage_event(usage.input_tokens, usage.output_tokens)]
            else:
                status = Turn.Status.FAILED
                error = events.classify_error(end.error)
                # The details stay in the server log; the client gets the safe message.
                logger.warning(
                    "chat turn failed: %s (%s: %.300s)",
                    error.code,
                    type(end.error).__name__,
                    end.error,
                )
                yield [error.event()]
            try:
                await self._finish(status, error)
            except Exception:
                logger.exception("could not record a chat turn")
                yield [
                    events.StreamError(
                        "internal_error", "The reply could not be saved.", False
                    ).event()
                ]
        finally:
            self.status = status
            if pump is not None and not pump.done():
                pump.cancel()
            if self._result is not None and not self._result.is_complete:
                # Stops the run loop and closes the upstream request now.
                self._result.cancel()
            if self._finish_task is None:
                try:
                    await self._finish(status, error)
                except Exception:
                    logger.exception("could not record an interrupted chat turn")

    async def _pump(self, queue: asyncio.Queue[Any]) -> None:
        put = queue.put_nowait
        error: BaseException | None = None
        try:
            agent, config = await get_agent()
            self.model_name = config.name
            self._result = Runner.run_streamed(
                agent, self.message, session=self.session, max_turns=settings.CHAT_MAX_TURNS
            )
            translate = self.translator.translate
            async for event in self._result.stream_events():
                chunk = translate(event)
                if chunk is not None:
                    put(chunk)
        except Exception as exc:
            error = exc
        finally:
            put(_End(error))

    # -- recording the outcome -----------------------------------------------------

    # ``StreamError``, not ``events.StreamError``: in this class ``events`` is the method.
    async def _finish(self, status: str, error: StreamError | None) -> None:
        if self._finish_task is None:
            result = self._result
            usage = result.context_wrapper.usage if result is not None else None
            self._finish_task = asyncio.ensure_future(
                self._record(
                    start=self.start,
                    session=self.session,
                    # Taken here, on the loop: a cancelled run's late callbacks
                    # cannot change the list while a thread writes it.
                    items=self.session.take_pending(),
                    message=self.message,
                    status=status,
                    model=self.model_name,
                    input_tokens=usage.input_tokens if usage else 0,
                    output_tokens=usage.output_tokens if usage else 0,
                    error_code=error.code if error else "",
                    partial_text=(
                        self.translator.partial_text if status != Turn.Status.COMPLETE else ""
                    ),
                )
            )
            _background.add(self._finish_task)
            self._finish_task.add_done_callback(_background.discard)
        # Shielded: a second cancellation must not abandon the write half-way.
        await asyncio.shield(self._finish_task)

    async def _record(self, **turn: Any) -> None:
        if self._generator_started:
            # A turn that ended before its first output still keeps the question.
            self.start.begin_saving()
        if await self.start.saved():
            await aturn_finish(**turn)

    def close(self, iterator: Any) -> None:
        """Django's response ``close()``: from a worker thread, after the response ended.

        Normally the generator has finished by then. Two cases need help: the client
        left before the generator ever ran (no ``finally`` will release the run
        lock), or it left while Django was writing a chunk, which leaves the
        generator suspended at a ``yield`` -- close it now rather than whenever the
        garbage collector finalizes it.
        """
        if self._finish_task is not None:
            return
        try:
            # A fresh context: this thread's one says "inside the request's sync
            # executor", which is shutting down; the finish must not queue there.
            self._loop.call_soon_threadsafe(
                self._finish_abandoned, iterator, context=contextvars.Context()
            )
        except RuntimeError:  # the loop is gone (a sync test client's throwaway loop)
            pass

    def _finish_abandoned(self, iterator: Any) -> None:
        if self._finish_task is not None:
            return
        if self._generator_started:
            task = asyncio.ensure_future(iterator.aclose())
        else:
            # A new conversation that never started has no row: _record skips it.
            task = asyncio.ensure_future(self._finish(Turn.Status.INTERRUPTED, None))
        _background.add(task)
        task.add_done_callback(_background.discard)
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("could not record an abandoned chat turn", exc_info=task.exception())


class TurnStream:
    """``/api/chat``'s response content: the turn's events as SSE, with pings and a
    final ``[DONE]``; an async iterable with a ``close()`` Django will call."""

    def __init__(self, turn: ChatTurn) -> None:
        self._turn = turn
        self._iterator = self._sse()

    async def _sse(self) -> AsyncGenerator[bytes, None]:
        produced = self._turn.events(settings.CHAT_PING_MS / 1000)
        try:
            async for batch in produced:
                if batch is None:
                    yield events.PING
                elif len(batch) == 1:
                    yield events.sse(batch[0])
                else:
                    yield b"".join([events.sse(item) for item in batch])
            yield events.DONE
        finally:
            # Closed at a yield (client gone): the producer's finally cancels the run.
            await produced.aclose()

    def __aiter__(self) -> AsyncGenerator[bytes, None]:
        return self._iterator

    def close(self) -> None:
        self._turn.close(self._iterator)
