"""Request bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` are refused before they are stored.

Django's own check comes too late: its ASGI handler reads the whole body into a
temporary file (memory, then disk) before any middleware or view runs, and
Daphne (Twisted) has stored the whole body before it calls the application at
all. So the limit is enforced where the bytes arrive:

- ``BodyLimitApp`` wraps Django's ASGI handler (``chatproject.asgi``; static
  files are answered before it, and never read a body) under every ASGI
  server (uvicorn in production, ``scripts/serve``): 413
  ``request_too_large`` at once when ``Content-Length`` declares more than the
  limit, or as soon as the bytes received pass it (a chunked body); 400
  ``bad_content_length`` when ``Content-Length`` is not one non-negative
  integer.
- Under Daphne (development, the test suite), the same checks run inside its
  Twisted request, as the headers and then each chunk arrive
  (``install_daphne_limit``). That hook uses two methods of Twisted's
  ``Request`` that Daphne's ``WebRequest`` inherits (``gotLength``,
  ``handleContentChunk``); if they are ever missing, it logs a warning and
  ``BodyLimitApp`` still refuses, after Daphne has stored the body.

The refusal closes the connection (``Connection: close``): the rest of the
body is never read. tests/test_body_limit.py sends the headers and part of a
huge body to real Daphne and uvicorn processes and reads the 413.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import unquote

from django.conf import settings

logger = logging.getLogger("chatproject.request")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TOO_LARGE = (413, "request_too_large", "Request body too large.")
BAD_LENGTH = (400, "bad_content_length", "Invalid Content-Length.")


class BadContentLength(ValueError):
    pass


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The body length ``Content-Length`` declares, ``None`` when absent.

    Repeated headers (or a list, as some proxies merge them) must agree.
    """
    lengths = set()
    for name, value in headers:
        if name.lower() != b"content-length":
            continue
        for part in value.split(b","):
            part = part.strip()
            # bytes.isdigit is ASCII only: no sign, space, underscore or "²".
            if not part.isdigit() or len(part) > 20:
                raise BadContentLength
            lengths.add(int(part))
    if len(lengths) > 1:
        raise BadContentLength
    return lengths.pop() if lengths else None


def _body(code: str, detail: str) -> bytes:
    return json.dumps({"detail": detail, "code": code}).encode()


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"connection", b"close"),
    ]


def _log(method: str, path: str, status: int, code: str) -> None:
    logger.info(
        "%s %s %s %s", method, path, status, code,
        extra={"method": method, "path": path, "status": status, "code": code},
    )  # fmt: skip


async def _refuse(scope: Scope, send: Send, refusal: tuple[int, str, str]) -> None:
    status, code, detail = refusal
    body = _body(code, detail)
    await send({"type": "http.response.start", "status": status, "headers": _headers(body)})
    await send({"type": "http.response.body", "body": body})
    _log(scope.get("method", "-"), scope.get("path", "-"), status, code)


class BodyLimitApp:
    """ASGI wrapper: refuse an HTTP request whose body is, or turns out to be, too large.

    Building it also installs the Daphne hook when Daphne is the server.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.max_bytes: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if "daphne.server" in sys.modules:
            install_daphne_limit()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes
        if scope["type"] != "http" or limit is None:
            await self.app(scope, receive, send)
            return
        try:
            length = declared_length(scope.get("headers", []))
        except BadContentLength:
            await _refuse(scope, send, BAD_LENGTH)
            return
        if length is not None:
            if length > limit:
                await _refuse(scope, send, TOO_LARGE)
            else:
                # The server frames the body by its declared length: no more
                # can come, so most requests pay for no receive wrapper.
                await self.app(scope, receive, send)
            return

        received = 0
        refused = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not response_started:
                        await _refuse(scope, send, TOO_LARGE)
                    # Django's handler stops reading and sends nothing.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


# --------------------------------------------------------------------------
# Daphne: refuse inside Twisted's request, before the body is stored.
# --------------------------------------------------------------------------


def _raw_response(refusal: tuple[int, str, str]) -> bytes:
    status, code, detail = refusal
    body = _body(code, detail)
    reason = {400: "Bad Request", 413: "Content Too Large"}[status]
    lines = [f"HTTP/1.1 {status} {reason}".encode()]
    lines += [name + b": " + value for name, value in _headers(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _refuse_in_daphne(request: Any, refusal: tuple[int, str, str]) -> None:
    request._body_refused = True
    # Twisted would otherwise answer "Expect: 100-continue" after our response.
    request.requestHeaders.removeHeader(b"expect")
    channel = request.channel
    channel.transport.write(_raw_response(refusal))
    # Drop whatever else arrives; the connection closes once the answer is out.
    channel.dataReceived = lambda data: None
    channel.loseConnection()
    # The request line is the channel's until the whole request is in.
    method = getattr(channel, "_command", None) or b"-"
    target = getattr(channel, "_path", None) or b"-"
    path = unquote(target.split(b"?", 1)[0].decode("latin-1"))
    _log(method.decode("latin-1"), path, refusal[0], refusal[1])


def install_daphne_limit() -> bool:
    """Patch Daphne's ``WebRequest`` (once); ``False`` when it cannot be done."""
    try:
        from daphne.http_protocol import WebRequest  # type: ignore[import-untyped]
    except ImportError:
        return False
    if getattr(WebRequest, "_body_limit_installed", False):
        return True
    hooks = ("gotLength", "handleContentChunk", "process")
    if not all(callable(getattr(WebRequest, name, None)) for name in hooks):
        logger.warning("Daphne's request has changed: bodies are limited only after storage")
        return False
    got_length = WebRequest.gotLength
    handle_content_chunk = WebRequest.handleContentChunk
    process = WebRequest.process

    def limited_got_length(self: Any, length: int | None) -> None:
        self._body_received = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length is not None and length > limit:
            got_length(self, 0)  # an empty body file: nothing more is kept
            _refuse_in_daphne(self, TOO_LARGE)
            return
        got_length(self, length)

    def limited_handle_content_chunk(self: Any, data: bytes) -> None:
        if getattr(self, "_body_refused", False):
            return
        self._body_received = getattr(self, "_body_received", 0) + len(data)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and self._body_received > limit:
            _refuse_in_daphne(self, TOO_LARGE)
            return
        handle_content_chunk(self, data)

    def limited_process(self: Any) -> Any:
        if getattr(self, "_body_refused", False):
            return None
        return process(self)

    WebRequest.gotLength = limited_got_length
    WebRequest.handleContentChunk = limited_handle_content_chunk
    WebRequest.process = limited_process
    WebRequest._body_limit_installed = True
    return True
