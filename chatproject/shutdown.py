"""Graceful shutdown: drain live turns before the server stops.

A deploy or ``docker stop`` sends SIGTERM. The server's own shutdown stops
listening at once and waits only for open connections; a background run, whose
client may have left, is just a task and would die with the process. So this
module takes the first SIGTERM (or SIGINT) itself:

1. The process starts *draining*: ``turn_begin`` refuses new turns with 503
   ``shutting_down`` and ``Retry-After``, and ``/readyz`` answers 503 so the
   load balancer sends new requests to another worker. The socket stays open
   meanwhile, so clients get that answer rather than a refused connection.
2. Live turns get up to ``SHUTDOWN_GRACE_SECONDS`` to finish.
3. The ones still running are interrupted: each records its partial reply as
   ``interrupted`` and sends its readers the ``run_interrupted`` error event.
   Readers here following a run another worker drives (``reading()``) then
   end with a retryable ``shutting_down`` event: the client resumes on
   another worker with ``Last-Event-ID``, before the server's own timeout
   would cut the connection.
4. Then the server's own signal handler runs, as if the signal arrived now,
   and the server shuts down as usual (its graceful timeout must be longer
   than the grace period: ``scripts/serve`` sets both).

A second signal skips the wait. The handler is installed by the ASGI lifespan
startup (``chatproject.asgi``), which uvicorn sends after it installed its own
handlers, so ours wraps theirs. Daphne, the development server, sends no
lifespan events: there a signal stops the process at once, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import FrameType
from typing import Any, Protocol

from django.conf import settings

from chatproject.errors import ApiError

logger = logging.getLogger(__name__)


class Drainable(Protocol):
    """A live turn, as the drain sees it."""

    async def wait_ended(self) -> None: ...

    def interrupt(self) -> None:
        """End the turn now; it records itself as interrupted."""


class Drained(Exception):
    """Raised in a ``reading()`` block when the drain is over."""


_live: set[Drainable] = set()
_readers: set[asyncio.Timeout] = set()
_draining = False
_drained = False
_signalled = False
# A strong reference: the loop keeps only weak ones to its tasks.
_drain_task: asyncio.Task[None] | None = None
# How long interrupted turns get to write their outcome.
_RECORD_SECONDS = 5.0


def is_draining() -> bool:
    return _draining


def refuse_if_draining() -> None:
    if _draining:
        raise ApiError(
            503,
            "shutting_down",
            "This server is shutting down. Try again in a moment.",
            headers={"Retry-After": "2"},
        )


def track(turn: Drainable) -> None:
    _live.add(turn)


def untrack(turn: Drainable) -> None:
    _live.discard(turn)


def live_count() -> int:
    return len(_live)


@contextlib.asynccontextmanager
async def reading() -> AsyncIterator[None]:
    """A wait that must end (``Drained``) when the drain is over: a reader of a
    run this process does not drive."""
    if _drained:
        raise Drained
    timeout = asyncio.timeout(None)
    try:
        async with timeout:
            _readers.add(timeout)
            yield
    except TimeoutError:
        # Ours (the drain rescheduled it to now), or one from inside the block.
        if timeout.expired():
            raise Drained from None
        raise
    finally:
        _readers.discard(timeout)


def _stop_readers() -> None:
    global _drained
    _drained = True
    now = asyncio.get_running_loop().time()
    for timeout in list(_readers):
        timeout.reschedule(now)


async def _wait_all(turns: list[Drainable], seconds: float) -> bool:
    if not turns:
        return True
    waiters = [asyncio.ensure_future(turn.wait_ended()) for turn in turns]
    _done, pending = await asyncio.wait(waiters, timeout=max(seconds, 0))
    for waiter in pending:
        waiter.cancel()
    return not pending


async def drain(grace_seconds: float) -> None:
    """Stop taking turns, let live ones finish, interrupt the rest; then end the
    readers of other workers' runs."""
    global _draining
    _draining = True
    try:
        await _drain_turns(grace_seconds)
    finally:
        _stop_readers()


async def _drain_turns(grace_seconds: float) -> None:
    started = time.monotonic()
    live = list(_live)
    logger.warning("shutting down: draining %s live turn(s), up to %.0fs", len(live), grace_seconds)
    if await _wait_all(live, grace_seconds):
        logger.warning("shutting down: no live turns left")
        return
    left = list(_live)
    logger.error(
        "shutting down: interrupting %s turn(s) after %.1fs", len(left), time.monotonic() - started
    )
    for turn in left:
        turn.interrupt()
    if not await _wait_all(left, _RECORD_SECONDS):
        logger.error("shutting down: %s turn(s) did not record their outcome", len(_live))


def install_signal_handlers(loop: asyncio.AbstractEventLoop) -> None:
    """Wrap the server's SIGTERM/SIGINT handlers with the drain."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            # Nobody handles it in Python (default action): nothing to chain to.
            continue
        signal.signal(sig, _handler(loop, previous))


def _handler(
    loop: asyncio.AbstractEventLoop, previous: Callable[[int, FrameType | None], Any]
) -> Callable[[int, FrameType | None], None]:
    def handle(sig: int, frame: FrameType | None) -> None:
        global _signalled
        if _signalled:
            previous(sig, frame)  # a second signal: stop waiting
            return
        _signalled = True

        def start() -> None:
            global _drain_task
            _drain_task = loop.create_task(_drain_then(previous, sig))

        # Signal handlers run between bytecodes of the main thread; the loop
        # must be entered through its thread-safe door.
        loop.call_soon_threadsafe(start)

    return handle


async def _drain_then(previous: Callable[[int, FrameType | None], Any], sig: int) -> None:
    try:
        await drain(settings.SHUTDOWN_GRACE_SECONDS)
    except Exception:
        logger.exception("shutting down: the drain failed")
    finally:
        previous(sig, None)


async def lifespan(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """The ASGI lifespan protocol: install the drain at startup."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            install_signal_handlers(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            # Reached after the drain (or a forced stop): nothing left to wait for.
            await send({"type": "lifespan.shutdown.complete"})
            return
