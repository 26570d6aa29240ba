"""Background runs: a turn that goes on whether or not anyone is listening.

``run_start`` drives a ``ChatTurn`` (the same producer ``/api/chat`` streams)
as an asyncio task in this server process -- the run's *owner worker* -- and
appends its events to the run's event log. Readers (``GET
/api/runs/<id>/events``, the WebSocket consumer) follow the log from any event
id, on any worker: ``follow`` replays what is there, then waits for more.

Where run state lives (no database table):

- The run id is the turn's id: once the turn is recorded it is ``Turn.id``.
- With ``REDIS_URL``: ``chat:run:<id>`` is a hash ``{owner, conversation,
  status}`` and ``chat:run:<id>:events`` a Stream whose entry ids are
  ``<n>-0``, n being the event id (1, 2, ...), so a ``Last-Event-ID`` is
  directly an ``XREAD`` position; the last entry is ``{end: <status>}``. Only
  the owner worker writes, so the ids need no coordination. One pipelined
  round trip per batch of events (a batch is whatever the model produced
  while the previous write was in flight), never one per token and never
  the database.
- Without Redis: the same in process memory (the embedded, single-process
  setup).
- Kept ``RUN_EVENTS_TTL_SECONDS`` after the run ends; while it runs, that
  plus ``CHAT_RUN_STALE_SECONDS`` (so a crashed worker's run disappears too).

Cancel across workers: ``run_cancel`` sets ``cancel`` in the hash and
publishes the run id on ``chat:run-cancel``. Every worker subscribes to that
channel before it announces its first run (so no cancel can be missed), and
the owner stops the turn. The owner also reads the flag back in each append
pipeline (free: same round trip), a second path should a message be lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings

from chat.models import Turn
from chat.services import TurnStart
from chat.streaming import ChatTurn
from chatproject.errors import ApiError

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

RUNNING = "running"
# ``ReadResult.end`` of a run whose log expired (or never existed) while read.
GONE = "gone"

_PREFIX = "chat:run:"
_CANCEL_CHANNEL = "chat:run-cancel"
_READ_COUNT = 500


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


def _running_ttl() -> int:
    return settings.RUN_EVENTS_TTL_SECONDS + settings.CHAT_RUN_STALE_SECONDS


# --------------------------------------------------------------------------
# The event log: in memory, or on Redis
# --------------------------------------------------------------------------


class _MemoryRun:
    def __init__(self, info: RunInfo) -> None:
        self.info = info
        self.events: list[bytes] = []
        self.status = RUNNING
        self.expires_at = time.monotonic() + _running_ttl()
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
    """One process's runs (no ``REDIS_URL``). Readers must be in the same process."""

    def __init__(self) -> None:
        self._runs: dict[str, _MemoryRun] = {}

    def _live(self, run_id: str) -> _MemoryRun | None:
        now = time.monotonic()
        for key in [key for key, run in self._runs.items() if run.expires_at < now]:
            self._runs.pop(key).wake()
        return self._runs.get(run_id)

    async def prepare(self) -> None:
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
        return False  # a cancel reaches the owner directly: it is this process

    async def finish(self, run_id: str, next_id: int, status: str) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            run.status = status
            run.expires_at = time.monotonic() + settings.RUN_EVENTS_TTL_SECONDS
            run.wake()

    async def request_cancel(self, run_id: str) -> None:
        pass

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
        status, events = run.status, run.events[after : after + _READ_COUNT]
        entries = list(enumerate(events, start=after + 1))
        done = status != RUNNING and after + len(events) >= len(run.events)
        return ReadResult(entries, status if done else None)


class RedisRunLog:
    """Runs on Redis: any worker can read any run, and cancel it."""

    def __init__(self, url: str) -> None:
        self._url = url
        # One client (and pool) and one cancel subscription per event loop:
        # one per server process, one per test under pytest-asyncio.
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._listeners: weakref.WeakKeyDictionary[
            Any, tuple[asyncio.Task[None], asyncio.Future[None]]
        ] = weakref.WeakKeyDictionary()

    def _redis(self) -> Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self._url)
            self._clients[loop] = client
        return client

    @staticmethod
    def _keys(run_id: str) -> tuple[str, str]:
        return f"{_PREFIX}{run_id}", f"{_PREFIX}{run_id}:events"

    async def prepare(self) -> None:
        """Make sure this worker hears cancels before it announces a run."""
        loop = asyncio.get_running_loop()
        listener = self._listeners.get(loop)
        if listener is None or listener[0].done():
            ready: asyncio.Future[None] = loop.create_future()
            listener = (loop.create_task(self._listen(ready)), ready)
            self._listeners[loop] = listener
        async with asyncio.timeout(5):
            await asyncio.shield(listener[1])

    async def _listen(self, ready: asyncio.Future[None]) -> None:
        while True:
            pubsub = self._redis().pubsub()
            try:
                await pubsub.subscribe(_CANCEL_CHANNEL)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message["type"] == "subscribe" and not ready.done():
                        ready.set_result(None)
                    elif message["type"] == "message":
                        handle = _local.get(message["data"].decode())
                        if handle is not None:
                            handle.cancel()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("run cancel subscription lost; resubscribing", exc_info=True)
                await asyncio.sleep(1)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: S110 -- the connection is already broken
                    pass

    async def create(self, info: RunInfo) -> None:
        meta, _events = self._keys(info.run_id)
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.hset(
                meta,
                mapping={
                    "owner": info.owner_id,
                    "conversation": info.conversation_id,
                    "status": RUNNING,
                },
            )
            pipe.expire(meta, _running_ttl())
            await pipe.execute()

    async def get(self, run_id: str) -> RunInfo | None:
        meta, _events = self._keys(run_id)
        # bytes throughout: the client is made without decode_responses.
        data = cast("dict[bytes, bytes]", await self._redis().hgetall(meta))
        if not data:
            return None
        return RunInfo(
            run_id,
            data[b"owner"].decode(),
            data[b"conversation"].decode(),
            data[b"status"].decode(),
        )

    async def append(self, run_id: str, first_id: int, payloads: list[bytes]) -> bool:
        """Add events; True when a cancel was requested (read back in the same trip)."""
        meta, events = self._keys(run_id)
        async with self._redis().pipeline(transaction=False) as pipe:
            for offset, event_payload in enumerate(payloads):
                pipe.xadd(events, {"d": event_payload}, id=f"{first_id + offset}-0")
            if first_id == 1:
                pipe.expire(events, _running_ttl())
            pipe.hget(meta, "cancel")
            results = await pipe.execute()
        return bool(results[-1])

    async def finish(self, run_id: str, next_id: int, status: str) -> None:
        meta, events = self._keys(run_id)
        ttl = settings.RUN_EVENTS_TTL_SECONDS
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.xadd(events, {"end": status}, id=f"{next_id}-0")
            pipe.hset(meta, "status", status)
            pipe.expire(events, ttl)
            pipe.expire(meta, ttl)
            await pipe.execute()

    async def request_cancel(self, run_id: str) -> None:
        meta, _events = self._keys(run_id)
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.hset(meta, "cancel", "1")
            pipe.publish(_CANCEL_CHANNEL, run_id)
            await pipe.execute()

    async def read(self, run_id: str, after: int, wait_seconds: float | None) -> ReadResult:
        meta, events = self._keys(run_id)
        redis = self._redis()
        response = await self._xread(events, after, block=None)
        if not response:
            # Nothing after ``after``: the run may be over (and ``after`` at or past
            # its end marker, e.g. a client's stale Last-Event-ID), gone, or quiet.
            # bytes: the client is made without decode_responses.
            raw_status = cast("bytes | None", await redis.hget(meta, "status"))
            if raw_status is None:
                return ReadResult(end=GONE)
            status = raw_status.decode()
            if status != RUNNING:
                # Read once more: events appended just before the end are delivered.
                response = await self._xread(events, after, block=None)
                if not response:
                    return ReadResult(end=status)
            elif wait_seconds:
                response = await self._xread(events, after, block=max(1, int(wait_seconds * 1000)))
        result = ReadResult()
        if not response:
            return result
        for entry_id, fields in response[0][1]:
            if b"end" in fields:
                result.end = fields[b"end"].decode()
                break
            result.entries.append((int(entry_id.split(b"-", 1)[0]), fields[b"d"]))
        return result

    async def _xread(
        self, events: str, after: int, *, block: int | None
    ) -> list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]:
        return cast(
            "list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]",
            await self._redis().xread({events: f"{after}-0"}, count=_READ_COUNT, block=block),
        )

    async def aclose(self) -> None:
        """Stop this loop's subscription and close its client (tests)."""
        loop = asyncio.get_running_loop()
        listener = self._listeners.pop(loop, None)
        if listener is not None:
            task = listener[0]
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S110
                pass
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()


_memory_log = MemoryRunLog()


@lru_cache(maxsize=4)
def _redis_log(url: str) -> RedisRunLog:
    return RedisRunLog(url)


def run_log() -> MemoryRunLog | RedisRunLog:
    return _redis_log(settings.REDIS_URL) if settings.REDIS_URL else _memory_log


# --------------------------------------------------------------------------
# The runs this process owns
# --------------------------------------------------------------------------


class RunHandle:
    def __init__(self, run_id: str, turn: ChatTurn, log: MemoryRunLog | RedisRunLog) -> None:
        self.run_id = run_id
        self.turn = turn
        self.log = log
        self.next_id = 1
        self.task: asyncio.Task[None] | None = None

    def cancel(self) -> None:
        self.turn.cancel()

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


async def wait_for_local_runs() -> None:
    """Await every run this process drives (tests, graceful shutdown)."""
    while _local:
        tasks = [handle.task for handle in list(_local.values()) if handle.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


# --------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "Run not found.")


async def run_start(*, user: Any, start: TurnStart, message: str) -> RunInfo:
    """Start a turn as a background run (after ``turn_start`` claimed the conversation)."""
    log = run_log()
    turn = ChatTurn(start, message)
    info = RunInfo(str(start.run_id), str(user.pk), str(start.conversation_id), RUNNING)
    try:
        await log.prepare()
        await log.create(info)
    except Exception:
        logger.exception("could not create run %s", info.run_id)
        # Release the conversation: record the question as an interrupted turn.
        turn.cancel()
        async for _batch in turn.events():
            pass
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
    handle = _local.get(run.run_id)
    if handle is not None:
        handle.cancel()
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
