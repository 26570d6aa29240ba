"""Live-turn slots and recent turn starts, per user: the store behind the
concurrency and per-minute limits.

A slot is a lease, not a counter: each live turn holds one member, scored by
when it lapses. ``renew`` pushes that time on while the turn streams; a
worker that dies without releasing stops renewing, and its slot lapses
``CHAT_TURN_LEASE_SECONDS`` later. Starts are kept for 60 seconds, one member
per admitted turn, so the per-minute count is exact (a sliding log, not a
fixed window).

- ``REDIS_URL`` set: two sorted sets per user in Redis, checked and written by
  one Lua script, so two processes admitting at the same instant cannot both
  take the last slot. Times come from the Redis server's clock (``TIME``), so
  app servers with skewed clocks agree.
- Otherwise: a dictionary in this process, under a lock (the embedded setup is
  one process; several processes without Redis each count on their own, as
  the auth throttles do).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

from chatproject import redis_clients

OK, CONCURRENT, RATE = 0, 1, 2
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Admission:
    status: int  # OK, CONCURRENT or RATE
    retry_after: int = 0  # seconds, when refused

    @property
    def ok(self) -> bool:
        return self.status == OK


class SlotStore(Protocol):
    async def admit(
        self, user_id: int, slot_id: str, *, concurrent: int, per_minute: int, lease: int
    ) -> Admission: ...
    async def renew(self, user_id: int, slot_id: str, *, lease: int) -> bool: ...
    async def release(self, user_id: int, slot_id: str) -> None: ...
    async def forget(self, user_id: int, slot_id: str) -> None: ...
    def snapshot(self, user_id: int) -> tuple[int, int]: ...


def _wait(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-6))


class LocalSlots:
    """The in-process store. Every method is a few dictionary operations under a
    lock, with no ``await`` inside: atomic on the event loop and across threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[int, dict[str, float]] = {}
        self._starts: dict[int, deque[tuple[float, str]]] = {}

    def _live(self, user_id: int, now: float) -> dict[str, float]:
        slots = self._slots.get(user_id, {})
        for slot_id in [s for s, expiry in slots.items() if expiry <= now]:
            del slots[slot_id]
        return slots

    def _recent(self, user_id: int, now: float) -> deque[tuple[float, str]]:
        starts = self._starts.get(user_id, deque())
        while starts and starts[0][0] <= now - WINDOW_SECONDS:
            starts.popleft()
        return starts

    def admit_now(
        self, user_id: int, slot_id: str, *, concurrent: int, per_minute: int, lease: int
    ) -> Admission:
        with self._lock:
            now = self._clock()
            slots = self._live(user_id, now)
            if len(slots) >= concurrent:
                return Admission(CONCURRENT, 1)
            starts = self._recent(user_id, now)
            if len(starts) >= per_minute:
                # The start whose ageing out brings the count under the limit.
                started = starts[len(starts) - per_minute][0]
                return Admission(RATE, _wait(started + WINDOW_SECONDS - now))
            slots[slot_id] = now + lease
            starts.append((now, slot_id))
            self._slots[user_id] = slots
            self._starts[user_id] = starts
            return Admission(OK)

    async def admit(
        self, user_id: int, slot_id: str, *, concurrent: int, per_minute: int, lease: int
    ) -> Admission:
        return self.admit_now(
            user_id, slot_id, concurrent=concurrent, per_minute=per_minute, lease=lease
        )

    async def renew(self, user_id: int, slot_id: str, *, lease: int) -> bool:
        with self._lock:
            now = self._clock()
            slots = self._live(user_id, now)
            if slot_id not in slots:
                return False  # lapsed: not taken again, the cap may be in use by others
            slots[slot_id] = now + lease
            return True

    async def release(self, user_id: int, slot_id: str) -> None:
        with self._lock:
            slots = self._slots.get(user_id)
            if slots is not None:
                slots.pop(slot_id, None)
                if not slots:
                    del self._slots[user_id]

    async def forget(self, user_id: int, slot_id: str) -> None:
        """Undo an admission (a turn that never began): slot and start."""
        await self.release(user_id, slot_id)
        with self._lock:
            starts = self._starts.get(user_id)
            if starts is not None:
                self._starts[user_id] = deque(s for s in starts if s[1] != slot_id)

    def snapshot(self, user_id: int) -> tuple[int, int]:
        """``(live turns, turns started in the last 60 s)``."""
        with self._lock:
            now = self._clock()
            return len(self._live(user_id, now)), len(self._recent(user_id, now))


# KEYS: the user's slots and starts. Times are the Redis server's (TIME).
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
_ADMIT = (
    _NOW
    + """
local concurrent, per_minute = tonumber(ARGV[2]), tonumber(ARGV[3])
local lease, window = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= concurrent then
  return {1, '1'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local recent = redis.call('ZCARD', KEYS[2])
if recent >= per_minute then
  local start = redis.call('ZRANGE', KEYS[2], recent - per_minute, recent - per_minute, 'WITHSCORES')
  return {2, tostring(tonumber(start[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('EXPIRE', KEYS[1], lease + 1)
redis.call('EXPIRE', KEYS[2], window + 1)
return {0, '0'}
"""
)
_RENEW = (
    _NOW
    + """
local lease = tonumber(ARGV[2])
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('EXPIRE', KEYS[1], lease + 1)
return 1
"""
)
_SNAPSHOT = (
    _NOW
    + """
return {redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf'),
        redis.call('ZCOUNT', KEYS[2], '(' .. (now - tonumber(ARGV[1])), '+inf')}
"""
)

KEY_PREFIX = "chat:usage"


def redis_keys(user_id: int) -> list[str]:
    # The braces make both keys one hash slot, as Redis Cluster requires of a script.
    return [f"{KEY_PREFIX}:{{{user_id}}}:slots", f"{KEY_PREFIX}:{{{user_id}}}:starts"]


class RedisSlots:
    """The Redis store. Async clients are per event loop (a connection pool must
    not outlive its loop); ``snapshot`` uses a sync client (DRF views run in threads)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._sync: Any = None

    def _scripts(self) -> Any:
        loop = asyncio.get_running_loop()
        scripts = self._clients.get(loop)
        if scripts is None:
            client = redis_clients.async_client(self._url, timeout=2)
            scripts = (
                client,
                client.register_script(_ADMIT),
                client.register_script(_RENEW),
            )
            self._clients[loop] = scripts
        return scripts

    async def admit(
        self, user_id: int, slot_id: str, *, concurrent: int, per_minute: int, lease: int
    ) -> Admission:
        _, admit, _ = self._scripts()
        status, wait = await admit(
            keys=redis_keys(user_id),
            args=[slot_id, concurrent, per_minute, lease, WINDOW_SECONDS],
        )
        status = int(status)
        if status == OK:
            return Admission(OK)
        return Admission(status, 1 if status == CONCURRENT else _wait(float(wait)))

    async def renew(self, user_id: int, slot_id: str, *, lease: int) -> bool:
        _, _, renew = self._scripts()
        return bool(await renew(keys=redis_keys(user_id), args=[slot_id, lease]))

    async def release(self, user_id: int, slot_id: str) -> None:
        client, _, _ = self._scripts()
        await client.zrem(redis_keys(user_id)[0], slot_id)

    async def forget(self, user_id: int, slot_id: str) -> None:
        client, _, _ = self._scripts()
        slots, starts = redis_keys(user_id)
        async with client.pipeline(transaction=True) as pipe:
            await pipe.zrem(slots, slot_id).zrem(starts, slot_id).execute()

    def snapshot(self, user_id: int) -> tuple[int, int]:
        if self._sync is None:
            import redis

            client = redis.Redis.from_url(self._url, socket_connect_timeout=2, socket_timeout=2)
            self._sync = client.register_script(_SNAPSHOT)
        active, recent = self._sync(keys=redis_keys(user_id), args=[WINDOW_SECONDS])
        return int(active), int(recent)


_store: SlotStore | None = None
_store_lock = threading.Lock()


def store() -> SlotStore:
    """The process's store, chosen by ``REDIS_URL`` on first use."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                _store = RedisSlots(settings.REDIS_URL) if settings.REDIS_URL else LocalSlots()
    return _store


def reset_store(new: SlotStore | None = None) -> None:
    """Replace the store (tests: a fresh one, or one with a fake clock)."""
    global _store
    with _store_lock:
        _store = new
