"""Through real servers: the refresh race on PostgreSQL, the Secure cookie without
DEBUG, and the whole cookie flow through Daphne."""

from __future__ import annotations

import threading

import httpx
import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import sessions
from accounts.models import TokenFamily
from tests.accounts.conftest import refresh
from tests.conftest import PASSWORD


@pytest.fixture
def live_owner(owner, settings):
    """The owner with a password hash the server processes (production hashers) accept;
    the test settings use a fast hasher those processes do not know."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    owner.set_password(PASSWORD)
    owner.save()
    return owner


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_have_exactly_one_winner(owner):
    issued = sessions.token_family_start(user=owner)
    contenders = 6
    barrier = threading.Barrier(contenders)
    results: list[tuple[int, str | None]] = []

    def contender() -> None:
        try:
            client = Client()
            client.cookies[settings.REFRESH_COOKIE_NAME] = issued.refresh
            barrier.wait(timeout=10)
            response = refresh(client)
            results.append((response.status_code, response.json().get("code")))
        finally:
            connections.close_all()  # this thread's own PostgreSQL connection

    threads = [threading.Thread(target=contender) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * (contenders - 1), results
    # Exactly one rotation happened: the login's token plus one new one.
    assert OutstandingToken.objects.filter(user=owner).count() == 2
    # The first loser presented a token that had just been rotated: reuse, so the
    # session is revoked; losers after it find the session already ended.
    loser_codes = [code for status, code in results if status == 401]
    assert "token_reused" in loser_codes
    assert set(loser_codes) <= {"token_reused", "token_not_valid"}
    assert TokenFamily.objects.get(user=owner).revoked_at is not None


@pytest.mark.live
def test_refresh_cookie_is_secure_when_debug_is_off(server_factory, transactional_db, live_owner):
    server = server_factory(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="live-test-secret-key-" * 3,
        DJANGO_SECURE_SSL_REDIRECT="0",
    )
    response = httpx.post(
        f"{server.url}/api/auth/token",
        json={"username": "owner", "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    set_cookie = response.headers["set-cookie"]
    assert f"{settings.REFRESH_COOKIE_NAME}=" in set_cookie
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth/", "Max-Age=604800"):
        assert attribute in set_cookie


@pytest.mark.live
def test_cookie_flow_and_bad_headers_through_daphne(app_server, live_owner):
    base = app_server.url
    with httpx.Client(base_url=base, timeout=10) as http:
        login = http.post("/api/auth/token", json={"username": "owner", "password": PASSWORD})
        assert login.status_code == 200
        cookie = login.cookies[settings.REFRESH_COOKIE_NAME]
        headers = {"Origin": base, "X-Requested-With": "fetch"}
        # The client's cookie jar sends the cookie back, as a browser would.
        rotated = http.post("/api/auth/token/refresh", headers=headers)
        assert rotated.status_code == 200
        assert rotated.cookies[settings.REFRESH_COOKIE_NAME] != cookie
        access = rotated.json()["access"]
        me = http.get("/api/auth/me", headers={"Authorization": f"Bearer {access}"})
        assert me.json()["username"] == "owner"

        huge = http.get("/api/auth/me", headers={"Authorization": "Bearer " + "a" * 10_000})
        assert 400 <= huge.status_code < 500
        huge_key = http.get("/api/auth/me", headers={"X-API-Key": "sk_" + "a" * 10_000})
        assert 400 <= huge_key.status_code < 500

        logout = http.post("/api/auth/logout", headers=headers)
        assert logout.status_code == 204
    assert TokenFamily.objects.get(user=live_owner).revoke_reason == "logout"
