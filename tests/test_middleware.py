"""Request ids, the request log line and security headers."""

from __future__ import annotations

import json
import logging

from chatproject.logging import JsonFormatter
from chatproject.middleware import CONTENT_SECURITY_POLICY


def test_every_response_gets_a_request_id_and_security_headers(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_well_formed_incoming_request_id_is_kept_and_a_bad_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "edge-1234abcd"})
    assert kept["X-Request-ID"] == "edge-1234abcd"
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert replaced["X-Request-ID"] != "bad id\nwith newline"
    assert len(replaced["X-Request-ID"]) == 32


def test_one_log_line_per_request_without_the_query_string(client, caplog):
    with caplog.at_level(logging.INFO, logger="chatproject.request"):
        client.get(
            "/healthz?access_token=secret-value-123", headers={"X-Request-ID": "req-00000001"}
        )
    lines = [r for r in caplog.records if r.name == "chatproject.request"]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert message.startswith("GET /healthz 200 ")
    assert "request_id=req-00000001" in message
    assert "secret-value-123" not in message
    assert lines[0].status == 200


def test_json_formatter_emits_one_object_with_the_extra_fields():
    record = logging.LogRecord(
        "chatproject.request", logging.INFO, __file__, 1, "GET / 200", (), None
    )
    record.request_id = "abc"
    record.status = 200
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "GET / 200"
    assert entry["request_id"] == "abc"
    assert entry["status"] == 200
    assert "\n" not in line
