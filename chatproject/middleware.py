"""Async-native middleware: request ids, one log line per request, security headers,
and Django's standard stack without thread hops on the API path.

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
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty
from django.utils.module_loading import import_string

from chatproject import metrics
from chatproject.errors import not_found

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
        # ``_wrapped`` lives in the instance dict; django-stubs do not declare it.
        wrapped = user.__dict__["_wrapped"]
        if wrapped is empty:  # never evaluated: this request did not use it
            return None
        user = wrapped
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
        # Our own attribute (logs, the X-Request-ID header); HttpRequest does not declare it.
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        response = await self.get_response(request)
        response["X-Request-ID"] = request_id
        if not response.has_header("Content-Security-Policy"):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        user_id = _user_id(request)
        metrics.http_request(method=request.method or "", status=response.status_code)
        logger.info(
            "%s %s %s %.1fms user=%s request_id=%s",
            request.method,
            request.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            user_id or "-",
            request_id,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "user_id": user_id,
                "request_id": request_id,
                "streaming": bool(getattr(response, "streaming", False)),
            },
        )
        return response


class SiteMiddleware:
    """Django's standard middleware, without a thread hop per hook on the API path.

    Under ASGI, every ``MiddlewareMixin`` hook runs through Django's single
    sync thread, so the default stack of seven middleware costs about a dozen
    thread hops per request and serialises concurrent requests (the streaming
    chat's time to first token under a burst). This middleware replaces that
    stack:

    - ``SecurityMiddleware``, ``CommonMiddleware`` and ``XFrameOptionsMiddleware``
      only compute headers and redirects (no I/O), so their hooks run inline on
      the event loop, for every request.
    - Sessions, CSRF, ``request.user`` and messages only serve the admin (the
      API authenticates with headers, never cookies-plus-session), so that
      stack, Django's own classes, wraps only ``/admin/`` requests, where the
      hops are harmless.

    Django's system checks look for those classes in ``MIDDLEWARE`` by name; the
    silenced checks in settings are covered by tests/test_middleware.py, which
    asserts the headers and the admin's session/CSRF behaviour on real requests.
    """

    sync_capable = False
    async_capable = True

    INLINE = (
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    )
    SESSION_STACK = (
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    )
    SESSION_PREFIXES = ("/admin/",)

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]):
        self.get_response = get_response
        self.inline = [import_string(path)(get_response) for path in self.INLINE]
        # Every middleware here is async-capable, so each layer stays awaitable.
        handler: Callable[[HttpRequest], Any] = get_response
        for path in reversed(self.SESSION_STACK):
            handler = convert_exception_to_response(import_string(path)(handler))
        self.session_handler = handler
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        for middleware in self.inline:
            if hasattr(middleware, "process_request"):
                response = middleware.process_request(request)
                if response is not None:
                    break
        if response is None:
            if request.path.startswith(self.SESSION_PREFIXES):
                response = await self.session_handler(request)
            else:
                response = await self.get_response(request)
        for middleware in reversed(self.inline):
            if hasattr(middleware, "process_response"):
                response = middleware.process_response(request, response)
        if response.status_code == 404 and request.path.startswith("/api/"):
            # Under DEBUG, Django answers an unmatched URL with its HTML debug page
            # (handler404 only applies when DEBUG is off); API clients get JSON.
            if response.get("Content-Type", "").startswith("text/html"):
                response = not_found(request)
        return response
