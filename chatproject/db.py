"""Database work for the async views: a few long-lived threads, each keeping its connection.

Django's async ORM (``afirst()``, ``aupdate()`` ...) runs each query through
``sync_to_async`` on the request's own thread, and under ASGI every request gets
a new thread -- so a new database connection, opened for one query and closed
at the end of the request. On the streaming path that is the dominant cost of a
request: connecting (and, on SQLite, the two ``PRAGMA``\\ s of ``init_command``)
costs several times the query itself, and a chat turn used three connections
(the user lookup, the new conversation's ``INSERT``, the turn's final write).
On PostgreSQL each connection is also a new server process, so without a bound
200 open streams could ask for 200 connections.

``await run(fn, *args)`` instead runs ``fn`` on one of ``DB_THREADS`` worker
threads. Each thread's Django connection stays open between jobs:

- before a job, a connection that saw an error is checked (``is_usable()``) and
  replaced if it is broken, as ``CONN_HEALTH_CHECKS`` would; one left in a
  transaction or with autocommit off (a job that failed half-way) is closed;
- a connection older than ``MAX_CONNECTION_AGE`` seconds is closed and reopened,
  so a server-side restart or failover is picked up within minutes at worst;
- ``shutdown()`` closes every connection (tests call it before dropping the
  test database).

The threads are a bound as much as a cache: at most ``DB_THREADS`` connections
per process serve the async views, however many streams are open (the rest of
the app -- DRF views, the admin -- keeps Django's connection per request).
Jobs are short (a lookup, a claim, a turn's one transaction), so a handful of
threads keeps up with hundreds of streams.

Only the request-handling jobs of the async views go through here; a job must
not wait on another job (it could deadlock a full pool).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Reopen connections after this long, whatever their health.
MAX_CONNECTION_AGE = 300.0

_STOP = object()


class _Worker(threading.Thread):
    def __init__(self, jobs: queue.SimpleQueue[Any], number: int) -> None:
        super().__init__(name=f"db-{number}", daemon=True)
        self._jobs = jobs
        self._opened_at: float | None = None

    def run(self) -> None:
        try:
            while (job := self._jobs.get()) is not _STOP:
                future, call = job
                if not future.set_running_or_notify_cancel():
                    continue  # cancelled while queued: never started
                try:
                    self._before()
                    result, error = call(), None
                except BaseException as exc:
                    result, error = None, exc
                try:
                    # Before the caller resumes: the connection is tidy by then.
                    self._after()
                except Exception:
                    logger.exception("could not tidy a database connection after a job")
                if error is None:
                    future.set_result(result)
                else:
                    future.set_exception(error)
                del job, future, call, result, error
        finally:
            connections.close_all()

    def _before(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.connection is None:
            return
        too_old = (
            self._opened_at is not None and time.monotonic() - self._opened_at > MAX_CONNECTION_AGE
        )
        broken = connection.errors_occurred and not connection.is_usable()
        if too_old or broken:
            connection.close()
        else:
            connection.errors_occurred = False

    def _after(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.connection is None:
            self._opened_at = None
            return
        if connection.in_atomic_block or not connection.get_autocommit():
            # A job must leave no transaction behind; never reuse such a connection.
            logger.error("a database job left a transaction open; closing its connection")
            connection.close()
            self._opened_at = None
        elif self._opened_at is None:
            self._opened_at = time.monotonic()


class DatabaseThreads:
    """A fixed set of worker threads, started on first use."""

    def __init__(self, size: int | None = None) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if not self._workers:
                # A new queue per set of workers: a shutdown's stop marks never
                # reach the threads started after it.
                self._jobs = queue.SimpleQueue()
                size = self._size or settings.DB_THREADS
                self._workers = [_Worker(self._jobs, n) for n in range(size)]
                for worker in self._workers:
                    worker.start()
            self._jobs.put((future, call))
        return future

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on a worker thread, in a copy of the caller's context."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, fn, *args, **kwargs)
        return await asyncio.wrap_future(self.submit(call))

    def shutdown(self) -> None:
        """Finish queued jobs, close every connection, stop the threads (restarted
        on next use)."""
        with self._lock:
            workers, self._workers = self._workers, []
            for _ in workers:
                self._jobs.put(_STOP)
        for worker in workers:
            worker.join()


threads = DatabaseThreads()
run = threads.run
shutdown = threads.shutdown
