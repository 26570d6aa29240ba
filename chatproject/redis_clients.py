"""The asyncio Redis clients of the usage slots (``usage.slots``) and the run log
(``chat.runlog.redis``).

Why a pool of our own: redis-py 8 caps a client's pool at 100 connections and
fails the 101st command at once (``MaxConnectionsError``); a process streaming
200 replies needs more than that at a burst's start and end (every start takes
a slot, every end gives one back, and every follower of a background run holds a
connection in its blocking read). This pool holds up to
``REDIS_MAX_CONNECTIONS`` and, past that, a command waits for a free connection
for at most ``timeout`` seconds before it fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def async_client(url: str, *, timeout: float) -> Redis:
    """A client for the running event loop (a pool must not outlive its loop):
    ``timeout`` bounds a connect, a read and the wait for a free connection."""
    import redis.asyncio

    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url,
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return redis.asyncio.Redis.from_pool(pool)  # closing the client closes its pool
