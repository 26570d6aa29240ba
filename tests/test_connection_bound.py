"""Open streams do not cost database connections (PostgreSQL).

Before ``chatproject.db``, every ``POST /api/chat`` opened a connection of its
own for the authentication lookup and the turn's writes, so 200 simultaneous
streams met PostgreSQL's ``max_connections`` (100) and half of them failed
with HTTP 500 (`make bench`, docs/performance.md). Now a process holds at most
``DB_THREADS`` connections for the streaming views.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from django.db import connection

from tests.conftest import bearer

pytestmark = [pytest.mark.live, pytest.mark.postgres]

STREAMS = 40
DB_THREADS = 2


def _connections_to_this_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _sample() -> int:
    """From a worker thread: count, then close that thread's connection."""
    try:
        return _connections_to_this_database()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def slow_demo_server(server_factory):
    # The offline demo model, slowed down so that all the streams overlap.
    return server_factory(
        OPENAI_API_KEY="", OPENAI_BASE_URL="", CHAT_DEMO_TOKEN_MS="40", DB_THREADS=str(DB_THREADS)
    )


async def _stream(client: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    async with client.stream(
        "POST", "/api/chat", json={"message": "hello"}, headers=headers
    ) as response:
        if response.status_code != 200:
            return False
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    return body.rstrip().endswith(b"data: [DONE]") and b'"type":"error"' not in body


def test_simultaneous_streams_share_the_db_threads_connections(
    slow_demo_server, transactional_db, owner
):
    headers = bearer(owner)
    before = _connections_to_this_database()
    peak = before
    done = False

    async def watch() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, await asyncio.to_thread(_sample))
            await asyncio.sleep(0.005)

    async def main() -> list[bool]:
        nonlocal done
        limits = httpx.Limits(max_connections=STREAMS)
        async with httpx.AsyncClient(
            base_url=slow_demo_server.url, timeout=60, limits=limits
        ) as client:
            watcher = asyncio.create_task(watch())
            try:
                return await asyncio.gather(*(_stream(client, headers) for _ in range(STREAMS)))
            finally:
                done = True
                await watcher

    started = time.monotonic()
    results = asyncio.run(main())
    assert all(results), f"{results.count(False)} of {STREAMS} streams failed"
    assert time.monotonic() - started > 0.5  # the streams really were open together
    # The server's streaming views: DB_THREADS connections at most (plus the watcher's own).
    assert peak - before <= DB_THREADS + 1, (before, peak)
