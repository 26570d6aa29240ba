"""chatproject.db: the async views' worker threads and their persistent connections."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction

from chatproject import db
from chatproject.db import DatabaseThreads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pool() -> Iterator[DatabaseThreads]:
    threads = DatabaseThreads(size=1)
    yield threads
    threads.shutdown()


def _connection_id() -> object:
    """The worker's DB-API connection (the object, so a closed one's id is not reused)."""
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.connection


def _thread_name() -> str:
    return threading.current_thread().name


async def test_jobs_run_on_the_worker_and_reuse_its_connection(pool):
    first = await pool.run(_connection_id)
    second = await pool.run(_connection_id)
    assert first is second  # one connection, kept between jobs
    assert (await pool.run(_thread_name)).startswith("db-")
    # The caller's thread opened nothing.
    assert connections[DEFAULT_DB_ALIAS].connection is None


async def test_an_old_connection_is_reopened(pool, monkeypatch):
    first = await pool.run(_connection_id)
    monkeypatch.setattr(db, "MAX_CONNECTION_AGE", -1.0)
    second = await pool.run(_connection_id)
    assert second is not first


def _leave_a_transaction_open() -> None:
    transaction.set_autocommit(False)
    _connection_id()


def _autocommit() -> bool:
    return connections[DEFAULT_DB_ALIAS].get_autocommit()


async def test_a_job_that_leaves_a_transaction_open_does_not_poison_the_next(pool, caplog):
    first = await pool.run(_connection_id)
    await pool.run(_leave_a_transaction_open)
    assert "left a transaction open" in caplog.text
    assert await pool.run(_autocommit)
    assert await pool.run(_connection_id) is not first


def _raise() -> None:
    raise ValueError("boom")


async def test_errors_reach_the_caller_and_the_worker_carries_on(pool):
    with pytest.raises(ValueError, match="boom"):
        await pool.run(_raise)
    assert await pool.run(_autocommit)


async def test_shutdown_closes_the_connections_and_the_pool_restarts(pool):
    await pool.run(_connection_id)
    workers = list(pool._workers)
    pool.shutdown()
    assert not any(worker.is_alive() for worker in workers)
    # Started again on demand (a dead pool would leave this waiting forever).
    assert (await asyncio.wait_for(pool.run(_thread_name), 10)).startswith("db-")


@pytest.mark.postgres
async def test_a_connection_the_server_dropped_is_replaced(pool):
    def backend_pid() -> int:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    def terminate(pid: int) -> None:
        try:
            with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            connections.close_all()

    pid = await pool.run(backend_pid)
    await asyncio.to_thread(terminate, pid)  # from another connection
    # The first job after the drop fails (as any query on a dead connection
    # would); the worker then sees the error, checks, and reconnects.
    with pytest.raises(OperationalError):
        await pool.run(backend_pid)
    assert await pool.run(backend_pid) != pid
