"""Django's ASGI handler, without a thread per request for async views.

Django's ``ASGIHandler`` runs every HTTP request inside asgiref's
``ThreadSensitiveContext``: sync code of the request (a sync view, sync
middleware, signal receivers, ``response.close()``) gets a thread of its own,
created on first use and shut down when the request ends. For a sync view
that is the point: concurrent requests do not queue behind each other. For
an async view there is nothing to isolate -- but Django still closes every
response with ``sync_to_async(response.close)``, so each request created a
thread at its end and the event loop waited while it started and while it
was joined: under many open streams a visible share of the loop's time, and
a new thread's start-up (which must win the GIL from busy threads) in front
of the next event. Why it is kept: docs/performance.md ("A thread per
request") measured it.

``ASGIHandler`` here skips the context for requests whose URL resolves to an
async view (``POST /api/chat``, the run endpoints, ``/api/config``, probes):
their few thread-sensitive calls -- ``response.close()`` and the
``request_finished`` receivers it fires -- run on asgiref's one shared
thread, which already exists. Everything else (DRF views, the admin, 404s)
keeps Django's behaviour. Async views never touch the database through
thread-sensitive code (``chatproject.db`` has its own threads), so sharing
that thread costs them nothing.

``chatproject.asgi`` also drops Django's sync ``request_started`` receivers,
which would otherwise start the per-request thread at the start of every
request, async view or not (see ``_no_thread_at_request_start`` there).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.urls import Resolver404, get_resolver


# Bounded: paths carry ids, and anyone can send any path.
@lru_cache(maxsize=2048)
def _serves_async_view(path: str) -> bool:
    try:
        match = get_resolver().resolve(path)
    except Resolver404:
        return False
    return iscoroutinefunction(match.func)


def is_async_view_request(scope: dict[str, Any]) -> bool:
    """Does this HTTP request go to an async view? (Under a script prefix: assume not.)"""
    if scope.get("root_path"):
        return False
    return _serves_async_view(scope.get("path", ""))


class ASGIHandler(DjangoASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_async_view_request(scope):
            await self.handle(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)
