"""One assistant turn: run the agent, produce its events, record the outcome once.

A turn is a small state machine::

    starting --> streaming --> completed | failed | cancelled | interrupted
        \\--> cancelled | interrupted          (ended before it produced anything)

``_enter`` is the only place the state changes and ``_record`` the only place the
outcome is written (one transaction: ``services.turn_finish``); it runs once,
however many paths reach it. Work that must happen at a transition attaches
there:

- ``turn_begin`` refuses new turns while the process drains (503
  ``shutting_down``) and the claim stores the user's message with the
  ``running`` Turn row; from then on the turn is tracked by
  ``chatproject.shutdown`` (``wait_ended``, ``interrupt``) until recorded.
- Entering ``streaming`` starts the checkpoint writer
  (``chat.checkpoints``): the reply so far and the turn's lease, renewed
  while it streams.
- ``_record`` stops the writer and reports the outcome to ``chatproject.metrics``.

``turn_begin`` starts every turn -- ``/api/chat``, ``/api/runs`` and the
WebSocket -- and ``ChatTurn.events()`` is the one producer of its events:
``chat.sse`` frames them for ``/api/chat``; a background run (``chat.runs``)
appends them to the run's log.

The producer's shape: a pump task iterates ``result.stream_events()`` into an
``asyncio.Queue`` that the producer reads with a ping timeout (never ``wait_for``
on the stream iterator: its timeout would cancel the run), taking whatever
queued up as one batch. However the turn ends -- the client gone
(``CancelledError`` or ``GeneratorExit`` in the generator), ``cancel()`` (a
background run's stop), ``interrupt()`` (the drain: readers get
``run_interrupted``) -- the ``finally`` cancels the agent run (an un-cancelled
run keeps streaming from the upstream) and the outcome is written, shielded,
before the producer returns, so a reload right after ``[DONE]`` sees it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from agents import RunConfig, Runner
from django.conf import settings

from chat import checkpoints, events, hold, services
from chat.agent import get_agent, model_config
from chat.events import StreamError
from chat.inputs import ChatInput
from chat.models import Turn
from chat.services import TurnStart
from chat.session import DjangoSession
from chat.turn_state import RECORDED_AS, TRANSITIONS, TurnState
from chatproject import metrics, shutdown
from usage.history import session_input
from usage.selectors import AdmissionFacts
from usage.turns import TurnSlot, turn_admit

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _End:
    """Queue sentinel: the agent run is over (``error`` None: it completed)."""

    error: BaseException | None


@dataclass(slots=True)
class _Stop:
    """Queue sentinel: end the turn now, as ``state`` (``cancel``, ``interrupt``)."""

    state: TurnState


RUN_INTERRUPTED = StreamError(
    "run_interrupted", "The reply was interrupted. Retry to generate it again.", True
)


def turn_prepare(data: ChatInput) -> ChatTurn | None:
    """A new conversation's turn, its agent started before admission and its model
    requests held until ``turn_begin`` admits it (``chat.hold``); None for an existing
    conversation (its history is read once claimed). Only for credentials that look
    real (a verified access token); hand it to ``turn_begin`` or ``discard`` it."""
    if data.conversation_id is not None:
        return None
    turn = ChatTurn(services.new_conversation_start(message=data.message), data.message, held=True)
    turn.start_agent()
    return turn


async def turn_begin(
    *,
    user: Any,
    data: ChatInput,
    api_key: Any = None,
    facts: AdmissionFacts | None = None,
    prepared: ChatTurn | None = None,
) -> ChatTurn:
    """Admit the turn (usage limits; ``facts`` if read already), claim or create the
    conversation, return the turn with its rows stored; ``ApiError`` (503, 429, 404,
    409 ...) before any byte is streamed. A new conversation's agent starts while
    its rows are written (docs/architecture.md, "Crash safety"), or earlier:
    ``prepared``, from ``turn_prepare``."""
    turn, slot = prepared, None
    try:
        shutdown.refuse_if_draining()
        slot = await turn_admit(
            user=user, api_key=api_key, conversation_id=data.conversation_id, facts=facts
        )
        if data.conversation_id is None:
            if turn is None:
                turn = ChatTurn(services.new_conversation_start(message=data.message), data.message)
            turn.start_agent()
            turn.admit(slot)
            await services.conversation_create(user=user, start=turn.start, message=data.message)
        else:
            start = await services.turn_claim(
                user=user,
                message=data.message,
                conversation_id=data.conversation_id,
                replace_last_turn=data.replace_last_turn,
            )
            turn = ChatTurn(start, data.message)
            turn.admit(slot)
    except BaseException:
        if turn is not None:
            turn.discard()  # nothing was stored: nothing to record
        if slot is not None:
            await slot.abandon()
        raise
    shutdown.track(turn)
    return turn


class ChatTurn:
    def __init__(self, start: TurnStart, message: str, *, held: bool = False) -> None:
        self.start = start
        self.message = message
        self.loop = asyncio.get_running_loop()
        # The usage slot (``admit``): released, with the ledger row, by the recording path.
        self.slot: TurnSlot | None = None
        # ``held``: its requests to the model wait until ``admit`` (``chat.hold``).
        self._admitted: asyncio.Future[None] | None = self.loop.create_future() if held else None
        self.state = TurnState.STARTING
        self.error: StreamError | None = None
        self.session = DjangoSession(start.conversation_id, stored=list(start.history))
        self.translator = events.EventTranslator()
        # The configured model, for a turn that ends before the agent is built.
        self.model_name = model_config().name
        self._result: Any = None
        self._pump: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[Any] | None = None
        self._stop: TurnState | None = None
        self._recording: asyncio.Future[bool] | None = None
        self._ended = asyncio.Event()
        self._streaming_since: float | None = None
        self._first_output = False
        self._checkpoints: asyncio.Task[None] | None = None

    def admit(self, slot: TurnSlot) -> None:
        """The turn may go on: it holds ``slot``, and its requests to the model go out."""
        self.slot = slot
        if self._admitted is not None and not self._admitted.done():
            self._admitted.set_result(None)

    def discard(self) -> None:
        """Stop a turn that was never stored (refused, or its start failed): its agent
        stops, a request it held is never sent; there is nothing to record."""
        if self._admitted is not None:
            self._admitted.cancel()
        self._stop_agent()

    @property
    def recording(self) -> bool:
        """The outcome's write has started (``_record`` ran): nothing is left to end."""
        return self._recording is not None

    @property
    def status(self) -> str:
        """The ``Turn.Status`` it was recorded with (``interrupted`` until it ended)."""
        return RECORDED_AS.get(self.state, Turn.Status.INTERRUPTED)

    # -- the state machine -------------------------------------------------------

    def _enter(self, state: TurnState, error: StreamError | None = None) -> None:
        if state not in TRANSITIONS.get(self.state, frozenset()):
            raise RuntimeError(f"turn {self.start.run_id}: {self.state} -> {state}")
        self.state = state
        self.error = error
        if state is TurnState.STREAMING:
            self._streaming_since = self.loop.time()
            metrics.turn_started()
            self._checkpoints = asyncio.create_task(checkpoints.write_checkpoints(self))

    def _record(self) -> asyncio.Future[bool]:
        """Write the outcome (once; later calls wait for the same write). True if saved.

        Shielded: a second cancellation must not abandon the write half-way."""
        if self._recording is None:
            if not self.state.ended:
                self._enter(TurnState.INTERRUPTED)
            if self._checkpoints is not None:
                self._checkpoints.cancel()
            self._recording = asyncio.ensure_future(self._write())
            checkpoints.keep(self._recording)
        return asyncio.shield(self._recording)

    async def _write(self) -> bool:
        result = self._result
        usage = result.context_wrapper.usage if result is not None else None
        completed = self.state is TurnState.COMPLETED
        if self._streaming_since is not None:
            metrics.turn_ended(
                outcome=self.state.value,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
            )
        try:
            await services.aturn_finish(
                start=self.start,
                session=self.session,
                # Taken here, on the loop: a cancelled run's late callbacks cannot
                # change the list while a thread writes it.
                items=self.session.take_pending(),
                message=self.message,
                status=self.status,
                model=self.model_name,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                error_code=self.error.code if self.error else "",
                partial_text="" if completed else self.translator.partial_text,
            )
        except Exception:
            logger.exception("could not record chat turn %s", self.start.run_id)
            return False
        finally:
            if self.slot is not None:
                await self.slot.release(
                    model=self.model_name,
                    input_tokens=usage.input_tokens if usage else 0,
                    output_tokens=usage.output_tokens if usage else 0,
                    conversation_id=self.start.conversation_id,
                )
            self._ended.set()
            shutdown.untrack(self)
        return True

    # -- ending from outside -----------------------------------------------------

    def _request_stop(self, state: TurnState) -> None:
        if self._stop is None:
            self._stop = state
            if self._queue is not None:
                self._queue.put_nowait(_Stop(state))

    def cancel(self) -> None:
        """Stop the turn: the producer stops reading, cancels the agent run (closing
        the upstream request) and records the partial reply."""
        self._request_stop(TurnState.CANCELLED)

    def interrupt(self) -> None:
        """End the turn now as ``interrupted`` (``shutdown.Drainable``): its readers
        get ``run_interrupted``. A turn whose producer never started is recorded."""
        self._request_stop(TurnState.INTERRUPTED)
        if self.state is TurnState.STARTING and self._recording is None:
            checkpoints.keep(asyncio.ensure_future(self.abandon()))

    async def wait_ended(self) -> None:
        """Until the outcome is recorded (``shutdown.Drainable``)."""
        await self._ended.wait()

    async def abandon(self) -> None:
        """End a turn whose events nobody reads (its producer never started):
        recorded as ``interrupted``, the question kept, the conversation released.
        A new conversation's agent, already started, is stopped."""
        if self.state is TurnState.STARTING:
            self._enter(TurnState.INTERRUPTED)
        self._stop_agent()
        await self._record()

    # -- the producer ------------------------------------------------------------

    async def events(
        self, ping_seconds: float | None = None
    ) -> AsyncGenerator[list[bytes] | None, None]:
        """Yield batches (lists) of event payloads, ``conversation`` first; ``None``
        after ``ping_seconds`` of silence. Returns once the turn is recorded."""
        try:
            if self._stop is not None:  # stopped before it began: keep the question asked
                if not self.state.ended:
                    self._enter(self._stop)
                if self.state is TurnState.INTERRUPTED:
                    yield [RUN_INTERRUPTED.event()]
                return
            self._enter(TurnState.STREAMING)
            queue = self.start_agent()
            yield [events.conversation_event(self.start.conversation_id, self.start.title)]
            end: _End | _Stop | None = None
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
                    if isinstance(item, _End | _Stop):
                        end = item
                        break
                    batch.append(item)
                    if queue.empty():
                        break
                    item = queue.get_nowait()
                if batch:
                    if not self._first_output:
                        self._first_output = True
                        metrics.turn_first_output(seconds=self.loop.time() - self._started())
                    yield batch

            if isinstance(end, _Stop):
                self._enter(end.state)
                if end.state is TurnState.INTERRUPTED:
                    yield [RUN_INTERRUPTED.event()]
                return
            if end.error is None:
                self._enter(TurnState.COMPLETED)
                usage = self._result.context_wrapper.usage
                yield [events.usage_event(usage.input_tokens, usage.output_tokens)]
            else:
                error = events.classify_error(end.error)
                self._enter(TurnState.FAILED, error)
                # The details stay in the server log; the client gets the safe message.
                logger.warning(
                    "chat turn failed: %s (%s: %.300s)",
                    error.code,
                    type(end.error).__name__,
                    end.error,
                )
                yield [error.event()]
            if not await self._record():
                yield [StreamError("save_failed", "The reply could not be saved.", True).event()]
        finally:
            self._stop_agent()
            await self._record()

    def start_agent(self) -> asyncio.Queue[Any]:
        """Start the agent's run (once) and return the queue its events go to:
        ``events()`` relays them."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._pump = asyncio.create_task(self._run_agent(self._queue))
        elif self._pump is not None and self._pump.get_loop() is not asyncio.get_running_loop():
            # Started in ``turn_begin`` on a loop a sync consumer has left behind.
            raise RuntimeError("a chat turn must stream on the event loop that began it")
        return self._queue

    async def _run_agent(self, queue: asyncio.Queue[Any]) -> None:
        put = queue.put_nowait
        error: BaseException | None = None
        # Before the SDK starts its tasks (they inherit the hold).
        hold.hold_here(self._admitted)
        try:
            agent, config = await get_agent()
            self.model_name = config.name
            self._result = Runner.run_streamed(
                agent,
                self.message,
                session=self.session,
                max_turns=settings.CHAT_MAX_TURNS,
                # The history sent upstream is trimmed to CHAT_HISTORY_MAX_TOKENS.
                run_config=RunConfig(session_input_callback=session_input),
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

    def _started(self) -> float:
        return self._streaming_since if self._streaming_since is not None else self.loop.time()

    def _stop_agent(self) -> None:
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
        if self._result is not None and not self._result.is_complete:
            # Stops the run loop and closes the upstream request now.
            self._result.cancel()
