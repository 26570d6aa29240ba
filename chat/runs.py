"""Background runs: a turn that goes on whether or not anyone is listening.

``run_start`` drives a ``ChatTurn`` (the same producer ``/api/chat`` streams)
as an asyncio task in this server process -- the run's *owner worker* -- and
appends its events to the run's event log (``chat.runlog``: process memory, or
Redis). Readers (``GET /api/runs/<id>/events``, the WebSocket consumer)
follow the log from any event id, on any worker: ``follow`` replays what is
there, then waits for more.

The run id is the turn's id, ``Turn.id`` (the row is written when the turn
starts). There is no database table for runs.

A reader never ends on a cut connection: a read that fails (Redis down) ends
its stream with a retryable ``runs_unavailable`` error event; a drain ends the
readers of other workers' runs with ``shutting_down``. While a run is quiet, its
readers check its turn's lease (``CHAT_RUN_LEASE_SECONDS``) every few seconds:
one whose worker died is recorded as interrupted by the first reader to notice,
which also ends the run's log with the ``run_interrupted`` error event
(``RunLog.end_orphan``), so every reader, on any worker, gets it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings

from chat import services
from chat.models import Turn
from chat.runlog import (
    GONE,
    RUNNING,
    SHUTTING_DOWN,
    UNAVAILABLE,
    ReadResult,
    RunInfo,
    RunLog,
    run_log,
)
from chat.turn import RUN_INTERRUPTED, ChatTurn
from chatproject import shutdown
from chatproject.errors import ApiError

__all__ = [
    "GONE",
    "RUNNING",
    "SHUTTING_DOWN",
    "UNAVAILABLE",
    "ReadResult",
    "RunInfo",
    "follow",
    "run_cancel",
    "run_get",
]

logger = logging.getLogger(__name__)


class RunHandle:
    """A run this process drives."""

    def __init__(self, run_id: str, turn: ChatTurn, log: RunLog) -> None:
        self.run_id = run_id
        self.turn = turn
        self.log = log
        self.next_id = 1
        self.task: asyncio.Task[None] | None = None

    async def drive(self) -> None:
        produced = self.turn.events()
        try:
            async for batch in produced:
                if batch is None:
                    continue
                cancel_requested = await self.log.append(self.run_id, self.next_id, batch)
                self.next_id += len(batch)
                if cancel_requested:
                    self.turn.cancel()
        except Exception as exc:
            # One line, no traceback: a backend outage fails every run at once.
            logger.error(
                "run %s: could not write its events (%s: %.200s); stopping it",
                self.run_id,
                type(exc).__name__,
                exc,
            )
        finally:
            # Ended early (a failed write, shutdown): cancels the agent run, records it.
            await produced.aclose()
            try:
                await self.log.finish(self.run_id, self.next_id, self.turn.status)
            except Exception as exc:
                # Its readers end it once the turn is recorded (``follow``).
                logger.error(
                    "run %s: could not mark it finished (%s)", self.run_id, type(exc).__name__
                )
            _local.pop(self.run_id, None)


# run id -> handle, for the runs driven by this process (strong references too).
_local: dict[str, RunHandle] = {}


def _cancel_local(run_id: str) -> None:
    handle = _local.get(run_id)
    if handle is not None:
        handle.turn.cancel()


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "Run not found.")


async def run_start(*, user: Any, turn: ChatTurn) -> RunInfo:
    """Drive ``turn`` (from ``turn_begin``) as a background run."""
    log = run_log()
    start = turn.start
    info = RunInfo(str(start.run_id), str(user.pk), str(start.conversation_id), RUNNING)
    try:
        await log.prepare(_cancel_local)
        await log.create(info)
    except Exception:
        logger.exception("could not create run %s", info.run_id)
        # Release the conversation: record the question as an interrupted turn.
        await turn.abandon()
        raise ApiError(
            503, "runs_unavailable", "Background runs are unavailable. Try again shortly."
        ) from None
    handle = RunHandle(info.run_id, turn, log)
    _local[info.run_id] = handle
    handle.task = asyncio.create_task(handle.drive(), name=f"run-{info.run_id}")
    return info


async def run_get(*, user: Any, run_id: str) -> RunInfo:
    """The run, if ``user`` owns it; 404 otherwise (unknown, expired, or someone else's)."""
    try:
        run_id = str(uuid.UUID(run_id))
    except (ValueError, TypeError, AttributeError):
        raise _not_found() from None
    info = await run_log().get(run_id)
    if info is None or info.owner_id != str(user.pk):
        raise _not_found()
    return info


async def run_cancel(*, run: RunInfo, wait_seconds: float = 3.0) -> str:
    """Stop a run (on whichever worker drives it); idempotent. Returns its status:
    the final one once it has ended, ``cancelling`` if it has not yet."""
    if run.status != RUNNING:
        return run.status
    log = run_log()
    _cancel_local(run.run_id)
    await log.request_cancel(run.run_id)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        current = await log.get(run.run_id)
        if current is None:
            return Turn.Status.INTERRUPTED
        if current.status != RUNNING:
            return current.status
        await asyncio.sleep(0.02)
    return "cancelling"


def _lease_check_seconds() -> float:
    return settings.CHAT_RUN_LEASE_SECONDS / 3


async def _read(log: RunLog, run_id: str, after: int, wait: float) -> ReadResult:
    if run_id in _local:
        # This process drives it: the drain ends it, and its readers see the end.
        return await log.read(run_id, after, wait)
    async with shutdown.reading():
        return await log.read(run_id, after, wait)


async def _end_orphan(log: RunLog, run_id: str, status: str | None) -> None:
    if await log.end_orphan(run_id, RUN_INTERRUPTED.event(), status or Turn.Status.INTERRUPTED):
        logger.warning("run %s: its worker is gone; recorded as interrupted", run_id)


async def follow(run_id: str, after: int, idle_seconds: float) -> AsyncIterator[ReadResult]:
    """The run's events after event ``after``, live, until it ends. Yields a result
    with no entries and no end after ``idle_seconds`` of silence (ping time).
    Ends with ``SHUTTING_DOWN`` (the drain) or ``UNAVAILABLE`` (a backend error,
    logged once) instead of raising."""
    log = run_log()
    check = _lease_check_seconds()
    quiet_since = time.monotonic()
    checked_at = quiet_since
    suspect = False
    while True:
        try:
            result = await _read(log, run_id, after, min(idle_seconds, check))
            if not result.entries and result.end is None and run_id not in _local:
                now = time.monotonic()
                if now - checked_at >= check:
                    checked_at = now
                    # The owner's lease: ran out -> its worker is gone. A turn that
                    # ended while its log still says running a check later: its
                    # worker died between the two writes.
                    status, orphaned = await services.aturn_expire(run_id=run_id)
                    if status != RUNNING and (orphaned or suspect):
                        await _end_orphan(log, run_id, status)
                        continue  # the next read returns the error event and the end
                    suspect = status != RUNNING
        except shutdown.Drained:
            yield ReadResult(end=SHUTTING_DOWN)
            return
        except Exception as exc:
            logger.error(
                "run %s: could not read its events (%s: %.200s)", run_id, type(exc).__name__, exc
            )
            yield ReadResult(end=UNAVAILABLE)
            return
        if result.entries:
            after = result.entries[-1][0]
        if result.entries or result.end is not None:
            quiet_since = checked_at = time.monotonic()
            suspect = False
            yield result
            if result.end is not None:
                return
        elif time.monotonic() - quiet_since >= idle_seconds:
            quiet_since = time.monotonic()
            yield result
