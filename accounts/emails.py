"""Account emails (password reset, address verification) through Django's email
framework: ``EMAIL_BACKEND`` and friends come from the environment (README "Email").

Messages are rendered in the request and sent on a small background thread
pool, so a slow or unreachable SMTP server never holds a request open, and a
reset request for an unknown address answers in about the time of a known one
(both render a message; only the known one is handed to the pool). A process
that stops drops what it has not sent yet: the user asks again. A deployment
that needs delivery guarantees puts a task queue here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from chatproject.errors import ApiError

logger = logging.getLogger(__name__)

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="email")
_pending: set[Future[None]] = set()
_lock = threading.Lock()


def not_configured() -> ApiError:
    return ApiError(
        503,
        "email_not_configured",
        "This server cannot send account emails: FRONTEND_ORIGIN is not set.",
    )


def frontend_origin(request: HttpRequest) -> str:
    """The SPA's origin for links in emails: ``FRONTEND_ORIGIN``, or under DEBUG the
    origin this request came from. Production never trusts the request for it: a
    forged ``Host`` or ``Origin`` would send the victim a link to the attacker."""
    if settings.FRONTEND_ORIGIN:
        return settings.FRONTEND_ORIGIN
    if not settings.FRONTEND_ORIGIN_FROM_REQUEST:
        raise not_configured()
    origin = request.headers.get("Origin") or ""
    parts = urlsplit(origin)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.scheme}://{request.get_host()}"


def uid_of(user_pk: Any) -> str:
    return urlsafe_base64_encode(force_bytes(user_pk))


def link(origin: str, path: str, params: Mapping[str, str]) -> str:
    return f"{origin}{path}?{urlencode(params)}"


def render(template: str, context: Mapping[str, Any], to: str) -> EmailMessage:
    """``accounts/email/<template>_subject.txt`` and ``<template>.txt`` as one message."""
    context = {"site_name": settings.SITE_NAME, **context}
    subject = render_to_string(f"accounts/email/{template}_subject.txt", context)
    body = render_to_string(f"accounts/email/{template}.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),  # one line: a newline would fail the send
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )


def _send(message: EmailMessage, label: str) -> None:
    try:
        message.send()
    except Exception:  # the request has long been answered; the log is all we have
        logger.exception("account email not sent (%s)", label)


def send_later(message: EmailMessage, *, label: str) -> None:
    """Send on the background pool. ``label`` names it in logs (no address, no link)."""
    future = _executor.submit(_send, message, label)
    with _lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[None]) -> None:
    with _lock:
        _pending.discard(future)


def wait_for_sent(timeout: float = 30) -> None:
    """Block until every queued email has been handed to the backend (tests, shutdown)."""
    with _lock:
        pending = list(_pending)
    wait(pending, timeout=timeout)
