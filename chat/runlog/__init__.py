"""A run's event log: the interface, and the backend the settings choose.

Only the run's owner worker writes (``create``, ``append``, ``finish``); any
worker reads (``get``, ``read``) and asks for a cancel (``request_cancel``).
Event ids are 1, 2, ... in append order, so a ``Last-Event-ID`` is directly a
read position. ``chat.runlog.memory`` keeps runs in process memory (no
``REDIS_URL``: one process); ``chat.runlog.redis`` on Redis, shared by every
worker. Entries are kept ``RUN_EVENTS_TTL_SECONDS`` after the run ends; while
it runs, that plus ``CHAT_RUN_STALE_SECONDS``. A run whose owner died is ended
by a reader (``end_orphan``), once its turn's lease ran out (``chat.runs``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from django.conf import settings

RUNNING = "running"
# ``ReadResult.end`` of a run whose log expired (or never existed) while read.
GONE = "gone"
# ``ReadResult.end`` (from ``chat.runs.follow``, never stored): the reader stops
# because this process shuts down, or because the log could not be read.
SHUTTING_DOWN = "shutting_down"
UNAVAILABLE = "unavailable"
# At most this many events per read.
READ_COUNT = 500


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    owner_id: str
    conversation_id: str
    status: str  # running | complete | interrupted | failed


@dataclass
class ReadResult:
    entries: list[tuple[int, bytes]] = field(default_factory=list)
    # The run's final status, once every event has been read (or ``GONE``).
    end: str | None = None


def running_ttl() -> int:
    return settings.RUN_EVENTS_TTL_SECONDS + settings.CHAT_RUN_STALE_SECONDS


class RunLog(Protocol):
    async def prepare(self, on_cancel: Callable[[str], None]) -> None:
        """Before this worker announces a run: make sure it hears cancel requests
        (``on_cancel(run_id)``) made on any worker."""

    async def create(self, info: RunInfo) -> None: ...

    async def get(self, run_id: str) -> RunInfo | None: ...

    async def append(self, run_id: str, first_id: int, payloads: list[bytes]) -> bool:
        """Add events ``first_id``, ``first_id + 1``, ...; True when a cancel was
        requested meanwhile (a second path, should a cancel message be lost)."""

    async def finish(self, run_id: str, next_id: int, status: str) -> None: ...

    async def request_cancel(self, run_id: str) -> None: ...

    async def end_orphan(self, run_id: str, payload: bytes, status: str) -> bool:
        """End a run whose owner is gone (any worker may call it): append ``payload``
        (an error event) and the end marker with ``status`` after its last event.
        Atomic and idempotent: False when the run had already ended."""

    async def read(self, run_id: str, after: int, wait_seconds: float | None) -> ReadResult:
        """Events after ``after``; waits up to ``wait_seconds`` (or less) for one
        while the run is live. ``end`` is set once everything up to the end has
        been returned."""

    async def aclose(self) -> None:
        """Release this event loop's connections (tests)."""


@lru_cache(maxsize=4)
def _redis_log(url: str) -> RunLog:
    from chat.runlog.redis import RedisRunLog

    return RedisRunLog(url)


@lru_cache(maxsize=1)
def _memory_log() -> RunLog:
    from chat.runlog.memory import MemoryRunLog

    return MemoryRunLog()


def run_log() -> RunLog:
    return _redis_log(settings.REDIS_URL) if settings.REDIS_URL else _memory_log()
