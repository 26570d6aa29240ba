"""Request ids, the request log line and security headers."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from chatproject.logging import JsonFormatter
from chatproject.middleware import CONTENT_SECURITY_POLICY
from tests.conftest import PRODUCTION_ENV, collectstatic


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


# --------------------------------------------------------------------------
# SiteMiddleware: Django's standard middleware, applied without thread hops.
# These replace the system checks silenced in settings (they look for the
# classes by name in MIDDLEWARE).
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def production_server(server_factory):
    collectstatic()
    return server_factory(**PRODUCTION_ENV)


@pytest.mark.live
def test_production_redirects_plain_http_to_https_except_probes(production_server):
    response = httpx.get(f"{production_server.url}/api/config")
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://127.0.0.1")
    assert httpx.get(f"{production_server.url}/healthz").status_code == 200


@pytest.mark.live
def test_production_sends_hsts_and_the_security_headers(production_server):
    # Behind the proxy, which says the original request was HTTPS.
    response = httpx.get(f"{production_server.url}/healthz", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    headers = response.headers
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.live
def test_production_admin_cookies_are_secure_and_csrf_enforced(production_server):
    https = {"X-Forwarded-Proto": "https"}
    page = httpx.get(f"{production_server.url}/admin/login/", headers=https)
    assert page.status_code == 200
    set_cookie = page.headers["set-cookie"]
    assert "csrftoken=" in set_cookie and "Secure" in set_cookie
    forged = httpx.post(
        f"{production_server.url}/admin/login/",
        data={"username": "x", "password": "y"},
        headers={**https, "Referer": "https://127.0.0.1/admin/login/"},
    )
    assert forged.status_code == 403


@pytest.mark.django_db
def test_admin_gets_sessions_and_csrf(client, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123456")
    page = client.get("/admin/login/")
    assert "csrftoken" in page.cookies
    csrf_client = type(client)(enforce_csrf_checks=True)
    assert csrf_client.post("/admin/login/", {"username": "root"}).status_code == 403
    logged_in = client.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": "pw-root-123456"}
    )
    assert logged_in.status_code == 302
    assert "sessionid" in logged_in.cookies
    assert client.get("/admin/").status_code == 200


def test_api_requests_get_no_session_or_csrf_cookie(client):
    response = client.get("/api/config")
    assert response.status_code == 200
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert response["X-Frame-Options"] == "DENY"
