"""Async-native middleware: request ids, one log line per request, security headers.

Both are plain async callables (no ``MiddlewareMixin``): under ASGI each
``MiddlewareMixin`` hook is a hop through Django's single sync thread, which
serialises concurrent requests, and these run on every request including the
SSE stream.

The log line never contains a query string, header, cookie or body: tokens and
API keys travel in those. It names the method, the path, the status, the
duration, the user id (when a request authenticated) and the request id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty

logger = logging.getLogger("chatproject.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# The SPA loads only its own files; no inline script anywhere. Inline styles are
# allowed for style attributes set by React and the admin's widgets.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _user_id(request: HttpRequest) -> int | str | None:
    """The authenticated user's id, without forcing a lazy session lookup."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject):
        if user._wrapped is empty:  # never evaluated: this request did not use it
            return None
        user = user._wrapped
    if getattr(user, "is_authenticated", False):
        return user.pk
    return None


class RequestContextMiddleware:
    """Give each request an id (``X-Request-ID``), log it once, add security headers."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        response = await self.get_response(request)
        response["X-Request-ID"] = request_id
        if not response.has_header("Content-Security-Policy"):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        logger.info(
            "%s %s %s %.1fms user=%s request_id=%s",
            request.method,
            request.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            _user_id(request) or "-",
            request_id,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "user_id": _user_id(request),
                "request_id": request_id,
                "streaming": bool(getattr(response, "streaming", False)),
            },
        )
        return response
