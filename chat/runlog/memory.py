"""Runs in process memory: the embedded, single-process setup (no ``REDIS_URL``).

Readers must be in the same process as the run; a cancel reaches the owner
directly (``chat.runs``), so there is nothing to subscribe to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from django.conf import settings

from chat.runlog import GONE, READ_COUNT, RUNNING, ReadResult, RunInfo, running_ttl


class _MemoryRun:
    def __init__(self, info: RunInfo) -> None:
        self.info = info
        self.events: list[bytes] = []
        self.status = RUNNING
        self.expires_at = time.monotonic() + running_ttl()
        self.waiters: set[asyncio.Future[None]] = set()

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_resolve, waiter)
        self.waiters.clear()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class MemoryRunLog:
    def __init__(self) -> None:
        self._runs: dict[str, _MemoryRun] = {}

    def _live(self, run_id: str) -> _MemoryRun | None:
        now = time.monotonic()
        for key in [key for key, run in self._runs.items() if run.expires_at < now]:
            self._runs.pop(key).wake()
        return self._runs.get(run_id)

    async def prepare(self, on_cancel: Callable[[str], None]) -> None:
        pass

    async def create(self, info: RunInfo) -> None:
        self._live(info.run_id)
        self._runs[info.run_id] = _MemoryRun(info)

    async def get(self, run_id: str) -> RunInfo | None:
        run = self._live(run_id)
        if run is None:
            return None
        return RunInfo(run.info.run_id, run.info.owner_id, run.info.conversation_id, run.status)

    async def append(self, run_id: str, first_id: int, payloads: list[bytes]) -> bool:
        run = self._runs.get(run_id)
        if run is not None:
            run.events.extend(payloads)
            run.wake()
        return False

    async def finish(self, run_id: str, next_id: int, status: str) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            run.status = status
            run.expires_at = time.monotonic() + settings.RUN_EVENTS_TTL_SECONDS
            run.wake()

    async def request_cancel(self, run_id: str) -> None:
        pass

    async def end_orphan(self, run_id: str, payload: bytes, status: str) -> bool:
        run = self._runs.get(run_id)
        if run is None or run.status != RUNNING:
            return False
        run.events.append(payload)
        await self.finish(run_id, len(run.events) + 1, status)
        return True

    async def read(self, run_id: str, after: int, wait_seconds: float | None) -> ReadResult:
        run = self._live(run_id)
        if run is None:
            return ReadResult(end=GONE)
        if len(run.events) <= after and run.status == RUNNING and wait_seconds:
            waiter = asyncio.get_running_loop().create_future()
            run.waiters.add(waiter)
            try:
                async with asyncio.timeout(wait_seconds):
                    await waiter
            except TimeoutError:
                pass
            finally:
                run.waiters.discard(waiter)
        # Snapshot: end only when nothing was appended after what is returned.
        status, events = run.status, run.events[after : after + READ_COUNT]
        entries = list(enumerate(events, start=after + 1))
        done = status != RUNNING and after + len(events) >= len(run.events)
        return ReadResult(entries, status if done else None)

    async def aclose(self) -> None:
        pass
