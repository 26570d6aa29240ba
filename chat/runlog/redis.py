"""Runs on Redis: any worker can read any run, and cancel it.

- ``chat:run:<id>`` is a hash ``{owner, conversation, status}`` and
  ``chat:run:<id>:events`` a Stream whose entry ids are ``<n>-0``, n being the
  event id, so a ``Last-Event-ID`` is directly an ``XREAD`` position; the last
  entry is ``{end: <status>}``. Only the owner worker writes, so the ids need
  no coordination. One pipelined round trip per batch of events (a batch is
  whatever the model produced while the previous write was in flight), never
  one per token and never the database.
- Cancel across workers: ``request_cancel`` sets ``cancel`` in the hash and
  publishes the run id on ``chat:run-cancel``. Every worker subscribes to that
  channel before it announces its first run (``prepare``), so no cancel can be
  missed; the owner also reads the flag back in each append pipeline (same
  round trip), a second path should a message be lost.
- A blocking read never blocks longer than ``MAX_BLOCK_SECONDS``, under the
  client's socket timeout (``SOCKET_TIMEOUT_SECONDS``): a longer ``XREAD
  BLOCK`` would end in a socket timeout on a healthy but quiet run.
  ``chat.runs.follow`` reads again (and checks the owner's lease) in between.
- ``end_orphan`` is one Lua script: the check that the run is still running, the
  error event and the end marker after its last event id, atomically, so of
  several readers noticing a dead owner one writes them.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings

from chat.runlog import GONE, READ_COUNT, RUNNING, ReadResult, RunInfo, running_ttl
from chatproject import redis_clients

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

_PREFIX = "chat:run:"
_CANCEL_CHANNEL = "chat:run-cancel"
SOCKET_TIMEOUT_SECONDS = 5.0
MAX_BLOCK_SECONDS = 3.0

_END_ORPHAN = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local n = 0
if #last > 0 then n = tonumber(string.match(last[1][1], '^(%d+)')) end
redis.call('XADD', KEYS[2], (n + 1) .. '-0', 'd', ARGV[1])
redis.call('XADD', KEYS[2], (n + 2) .. '-0', 'end', ARGV[2])
redis.call('HSET', KEYS[1], 'status', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""


class RedisRunLog:
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
            client = redis_clients.async_client(self._url, timeout=SOCKET_TIMEOUT_SECONDS)
            self._clients[loop] = client
        return client

    @staticmethod
    def _keys(run_id: str) -> tuple[str, str]:
        return f"{_PREFIX}{run_id}", f"{_PREFIX}{run_id}:events"

    async def prepare(self, on_cancel: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        listener = self._listeners.get(loop)
        if listener is None or listener[0].done():
            ready: asyncio.Future[None] = loop.create_future()
            listener = (loop.create_task(self._listen(ready, on_cancel)), ready)
            self._listeners[loop] = listener
        async with asyncio.timeout(5):
            await asyncio.shield(listener[1])

    async def _listen(self, ready: asyncio.Future[None], on_cancel: Callable[[str], None]) -> None:
        lost = False
        while True:
            pubsub = self._redis().pubsub()
            try:
                await pubsub.subscribe(_CANCEL_CHANNEL)
                if lost:
                    logger.warning("run cancel subscription restored")
                    lost = False
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message["type"] == "subscribe" and not ready.done():
                        ready.set_result(None)
                    elif message["type"] == "message":
                        on_cancel(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Once per outage, not once per retry.
                if not lost:
                    logger.warning(
                        "run cancel subscription lost (%s); resubscribing", type(exc).__name__
                    )
                    lost = True
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
            pipe.expire(meta, running_ttl())
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
        # The cancel flag is read back in the same round trip.
        meta, events = self._keys(run_id)
        async with self._redis().pipeline(transaction=False) as pipe:
            for offset, event_payload in enumerate(payloads):
                pipe.xadd(events, {"d": event_payload}, id=f"{first_id + offset}-0")
            if first_id == 1:
                pipe.expire(events, running_ttl())
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

    async def end_orphan(self, run_id: str, payload: bytes, status: str) -> bool:
        meta, events = self._keys(run_id)
        ended = await self._redis().eval(
            _END_ORPHAN, 2, meta, events, payload, status, settings.RUN_EVENTS_TTL_SECONDS
        )
        return bool(ended)

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
                block = min(wait_seconds, MAX_BLOCK_SECONDS)
                response = await self._xread(events, after, block=max(1, int(block * 1000)))
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
            await self._redis().xread({events: f"{after}-0"}, count=READ_COUNT, block=block),
        )

    async def aclose(self) -> None:
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
