"""Oversized request bodies are refused before they are stored (chatproject/body_limit.py).

Raw sockets against real server processes, Daphne and ``scripts/serve``
(uvicorn): each test sends the headers and only part of a body far over the
limit, then reads the answer. A server that stored the body first would wait
for the rest, and the read would time out.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest
from django.conf import settings

from chatproject.body_limit import BodyLimitApp, declared_length

LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def server(request, server_factory):
    return server_factory(production_entrypoint=request.param == "uvicorn")


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=15)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def _head(content_length: str | None = None, *, chunked: bool = False) -> bytes:
    lines = ["POST /api/chat HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.live
def test_a_declared_oversized_body_is_refused_before_it_is_sent(server):
    with _connect(server.url) as sock:
        sock.sendall(_head(str(50 * LIMIT)) + b"x" * 16_384)
        status, headers, body = _read_response(sock)
    assert status == 413
    assert json.loads(body) == {"detail": "Request body too large.", "code": "request_too_large"}
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.live
def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(server):
    chunk = b"x" * 65_536
    with _connect(server.url) as sock:
        sock.sendall(_head(chunked=True))
        sent = 0
        while sent <= LIMIT:  # never the terminating chunk: the body has no end
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        status, _, body = _read_response(sock)
    assert status == 413
    assert json.loads(body)["code"] == "request_too_large"
    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.live
@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "5, 6"])
def test_a_bad_content_length_is_a_400(server, value):
    with _connect(server.url) as sock:
        sock.sendall(_head(value) + b"{}")
        status, _, _ = _read_response(sock)
    assert status == 400


@pytest.mark.live
def test_a_body_under_the_limit_still_reaches_the_view(server):
    # Unauthenticated: the view answers, so the body went through.
    response = httpx.post(
        f"{server.url}/api/chat", content=b'{"message": "' + b"x" * 900_000 + b'"}'
    )
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --------------------------------------------------------------------------
# BodyLimitApp on its own, for the cases the servers above never let through.
# --------------------------------------------------------------------------


def _run(app: BodyLimitApp, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> dict:
    scope = {"type": "http", "method": "POST", "path": "/api/chat", "headers": headers}
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": start["status"], "body": body, "sent": sent}


class _ReadsAll:
    """A stand-in for Django's handler: reads the whole body, then answers 200 with it."""

    def __init__(self) -> None:
        self.saw_disconnect = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.saw_disconnect = True
                return
            body += message["body"]
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize(
    "value", [b"abc", b"-1", b" ", b"5, 6", b"\xc2\xb2", b"1" * 21, b"+5", b"0x10"]
)
def test_body_limit_app_answers_a_bad_content_length_with_400(value):
    inner = _ReadsAll()
    result = _run(BodyLimitApp(inner), [(b"content-length", value)], [b"{}"])
    assert result["status"] == 400
    assert json.loads(result["body"]) == {
        "detail": "Invalid Content-Length.",
        "code": "bad_content_length",
    }


def test_body_limit_app_lets_a_body_at_the_limit_through_and_cuts_one_byte_more():
    at_limit = _run(BodyLimitApp(_ReadsAll()), [], [b"x" * (LIMIT - 10), b"y" * 10])
    assert at_limit["status"] == 200
    assert len(at_limit["body"]) == LIMIT

    inner = _ReadsAll()
    over = _run(BodyLimitApp(inner), [], [b"x" * LIMIT, b"y"])
    assert over["status"] == 413
    assert json.loads(over["body"])["code"] == "request_too_large"
    assert inner.saw_disconnect  # the app stopped reading and sent nothing of its own
    assert [m["type"] for m in over["sent"]] == ["http.response.start", "http.response.body"]


def test_declared_length_accepts_agreeing_repeats_only():
    assert declared_length([]) is None
    assert declared_length([(b"content-length", b"12")]) == 12
    assert declared_length([(b"Content-Length", b"7"), (b"content-length", b"7, 7")]) == 7
