"""A client cannot forge or colour log lines (plain format).

Paths arrive percent-decoded, so ``%0A`` in a URL is a real newline by the
time it is logged; the plain formatter escapes control characters in every
record's message (``chatproject.logging.PlainFormatter``).
"""

from __future__ import annotations

import logging
import socket
import sys

import pytest

from chatproject.logging import PlainFormatter, escape_control_characters

FORGED = "2026-01-01 00:00:00,000 INFO chatproject.request GET /admin/ 200 1.0ms user=1"


def _raw_request(url: str, head: str, body: bytes = b"") -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + b"Connection: close\r\n\r\n" + body)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return response


def _raw_get(url: str, target: str) -> bytes:
    return _raw_request(url, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n")


@pytest.mark.live
def test_a_newline_in_the_path_cannot_forge_a_log_line(server_factory):
    server = server_factory(LOG_FORMAT="plain")
    forged_path = "/api/nothing%0D%0A" + FORGED.replace(" ", "%20")
    coloured_path = "/api/x%1B[31mred%1B[0m%C2%85next%E2%80%A8sep"
    assert _raw_get(server.url, forged_path).startswith(b"HTTP/1.1 404")
    assert _raw_get(server.url, coloured_path).startswith(b"HTTP/1.1 404")
    server.stop()

    lines = server.log().splitlines()
    request_lines = [line for line in lines if " chatproject.request " in line]
    assert not any(line.startswith(FORGED) for line in lines), lines[-5:]
    forged_line = next(line for line in request_lines if "/api/nothing" in line)
    assert f"/api/nothing\\r\\n{FORGED} 404 " in forged_line
    coloured_line = next(line for line in request_lines if "/api/x" in line)
    assert "\x1b" not in server.log() and "\x85" not in server.log()
    assert "/api/x\\x1b[31mred\\x1b[0m\\x85next\\u2028sep 404 " in coloured_line


def test_escaping_covers_c0_c1_del_and_unicode_line_separators():
    raw = "a\nb\rc\td\x00e\x1b[0mf\x7fg\x85h\x9fi\u2028j\u2029k"
    assert escape_control_characters(raw) == (
        "a\\nb\\rc\\td\\x00e\\x1b[0mf\\x7fg\\x85h\\x9fi\\u2028j\\u2029k"
    )
    assert escape_control_characters("plain ascii / ünïcode ✓") == "plain ascii / ünïcode ✓"


def test_the_plain_formatter_escapes_arguments_and_indents_every_traceback_line():
    formatter = PlainFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("bad input /p\r\nINFO forged from an exception")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "GET %s", ("/p\nINFO forged",), sys.exc_info()
        )
    text = formatter.format(record)
    first, *rest = text.split("\n")
    assert first == "ERROR GET /p\\nINFO forged"
    assert rest[0] == "  Traceback (most recent call last):"
    assert all(line.startswith("  ") for line in rest)
    assert rest[-2:] == ["  ValueError: bad input /p\\r", "  INFO forged from an exception"]


@pytest.mark.live
def test_a_header_that_reaches_the_audit_log_cannot_drive_the_terminal(
    server_factory, transactional_db
):
    # Behind one proxy the failed-login line names the X-Forwarded-For address,
    # whatever the client put there (here: no proxy, so the client itself).
    server = server_factory(LOG_FORMAT="plain", DJANGO_NUM_PROXIES="1")
    body = b'{"username": "nobody", "password": "wrong-password"}'
    response = _raw_request(
        server.url,
        "POST /api/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Forwarded-For: 10.0.0.1\x1b]2;owned\x07\x1b[2J\r\n",
        body,
    )
    assert response.startswith(b"HTTP/1.1 401")
    server.stop()
    log = server.log()
    line = next(line for line in log.splitlines() if "login failed" in line)
    assert "ip=10.0.0.1\\x1b]2;owned\\x07\\x1b[2J" in line
    assert "\x1b" not in log and "\x07" not in log
