"""Background runs: a turn that goes on whether or not anyone is listening.

``run_start`` drives a ``ChatTurn`` (the same producer ``/api/chat`` streams)
as an asyncio task in this server process -- the run's *owner worker* -- and
appends its events to the run's event log (``chat.runlog``: process memory, or
Redis). Readers (``GET /api/runs/<id>/events``, the WebSocket consumer)
follow the log from any event id, on any worker: ``follow`` replays what is
there, then waits for more.

The run id is the turn's id: once the turn is recorded it is ``Turn.id``.
There is no database table for runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from chat.models import Turn
from chat.runlog import GONE, RUNNING, ReadResult, RunInfo, RunLog, run_log
from chat.turn import ChatTurn
from chatproject.errors import ApiError

__all__ = ["GONE", "RUNNING", "ReadResult", "RunInfo", "follow", "run_cancel", "run_get"]

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
        except Exception:
            logger.exception("run %s: could not write its events; stopping it", self.run_id)
        finally:
            # Ended early (a failed write, shutdown): cancels the agent run, records it.
            await produced.aclose()
            try:
                await self.log.finish(self.run_id, self.next_id, self.turn.status)
            except Exception:
                logger.exception("run %s: could not mark it finished", self.run_id)
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


async def follow(run_id: str, after: int, idle_seconds: float) -> AsyncIterator[ReadResult]:
    """The run's events after event ``after``, live, until it ends. Yields a result
    with no entries and no end after ``idle_seconds`` of silence (ping time)."""
    log = run_log()
    while True:
        result = await log.read(run_id, after, idle_seconds)
        if result.entries:
            after = result.entries[-1][0]
        yield result
        if result.end is not None:
            return
