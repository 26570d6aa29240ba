"""Where sync tools run: a few worker processes, each call under a time limit.

The Agents SDK runs a sync tool on a thread of the server process. A tool that
spends seconds inside one C call (a huge integer power, a backtracking regex, a
C extension) holds the GIL all that time, and every stream, WebSocket and probe
that process serves stalls with it; a thread cannot be stopped either. In a
worker process the tool holds only that worker's GIL, and a call that outlives
``CHAT_TOOL_TIMEOUT_SECONDS`` gets its worker killed (SIGTERM, then SIGKILL) and
replaced, while the turn goes on with an error result for the model.

Pebble's ``ProcessPool`` rather than ``concurrent.futures.ProcessPoolExecutor``:
the standard pool cannot stop one task, and killing one of its workers breaks the
pool, failing every other call in flight. The pool starts when the server builds
an agent with a pooled tool (``manage.py`` commands never spawn it; the built-in
tools are bounded and stay on threads, so they never start it), with ``WORKERS``
processes started by ``spawn``: the server process has threads, and forking a
threaded process can copy a lock in the held state. A worker imports the tool's
module (and sets Django up, so a tool may use the ORM) once, before its first
call; the time limit counts from when a worker takes the call, so that start is
not in it.

What crosses the process boundary: the function by reference (so it must be a
module-level function), its arguments and its return value (all pickled).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pebble import ProcessFuture, ProcessPool

# Tool calls that can compute at the same time; more wait for a free worker.
# Each worker is a Python process with Django loaded.
WORKERS = 2
# How long a call may wait for a worker (one starting up, or all of them busy)
# before its own time limit starts.
QUEUE_SECONDS = 60


class ToolTimeout(Exception):
    """The call did not finish within its time limit (its worker was stopped)."""


_pool: ProcessPool | None = None
_pool_lock = threading.Lock()


def _init_worker() -> None:
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        import django

        django.setup()


def _schedule(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], seconds: float
) -> ProcessFuture[Any]:
    global _pool
    # Under the lock: a new pool only starts (becomes active) with its first task.
    with _pool_lock:
        if _pool is None or not _pool.active:  # never started, or broken
            _pool = ProcessPool(
                max_workers=WORKERS,
                initializer=_init_worker,
                context=multiprocessing.get_context("spawn"),
            )
        return _pool.schedule(func, args=args, kwargs=kwargs, timeout=seconds)


def start_workers() -> None:
    """Start the workers in the background unless they run already, so that the
    first tool call does not wait for them (``chat.agent`` calls this when it
    builds an agent that has tools)."""
    with _pool_lock:
        started = _pool is not None and _pool.active
    if not started:
        _schedule(os.getpid, (), {}, 60)


async def run_in_pool(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], *, seconds: float
) -> Any:
    """``func(*args, **kwargs)`` in a worker process; ``ToolTimeout`` once it has run
    ``seconds`` (or waited ``QUEUE_SECONDS`` more for a worker). The caller
    being cancelled (the client left) stops the call's worker too."""
    future = _schedule(func, args, kwargs, seconds)
    try:
        async with asyncio.timeout(seconds + QUEUE_SECONDS):
            return await asyncio.wrap_future(future)
    except TimeoutError:  # ours, or Pebble's own limit on the worker
        raise ToolTimeout from None
    finally:
        # A running call's worker is stopped by the pool's manager thread.
        future.cancel()
