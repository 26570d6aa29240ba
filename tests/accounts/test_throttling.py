"""Limits: failed logins per username and per IP, refresh and register per IP."""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts import throttles
from tests.accounts.conftest import login, post_json, refresh
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def assert_throttled(response) -> int:
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    return wait


def test_default_limits_are_the_documented_ones():
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates == {
        "login_failures_username_ip": "5/min",
        "login_failures_ip": "20/min",
        "login_failures_username": "30/min",
        "refresh": "60/min",
        "register": "10/min",
        "password_reset_ip": "10/hour",
        "password_reset_email": "3/hour",
        "email_link_ip": "30/hour",
        "verification_resend": "3/hour",
    }


def test_sixth_failed_login_for_a_username_is_429_even_with_the_right_password(client, owner):
    for _ in range(5):
        assert login(client, "owner", "wrong").status_code == 401

    assert_throttled(login(client, "owner", "wrong"))
    assert_throttled(login(client, "owner", PASSWORD))
    # Another username from the same IP is still fine (IP limit is 20).
    assert login(client, "second", "wrong").status_code == 401


def test_successful_logins_do_not_count(client, owner):
    for _ in range(8):
        assert login(client, "owner").status_code == 200
    for _ in range(4):
        assert login(client, "owner", "wrong").status_code == 401
    assert login(client, "owner").status_code == 200


def test_failed_logins_per_ip_are_limited_to_20_across_usernames(client, owner):
    for index in range(20):
        assert login(client, f"user{index}", "wrong").status_code == 401

    assert_throttled(login(client, "owner", PASSWORD))
    other = client.post(
        "/api/auth/token",
        data={"username": "owner", "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="10.0.0.9",
    )
    assert other.status_code == 200


def test_spoofed_x_forwarded_for_does_not_escape_the_ip_limit(client, owner):
    for index in range(20):
        login(client, f"user{index}", "wrong")
    response = client.post(
        "/api/auth/token",
        data={"username": "owner", "password": PASSWORD},
        content_type="application/json",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert_throttled(response)


def test_refresh_is_limited_per_ip(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "refresh": "3/min",
        },
    }
    for _ in range(3):
        assert refresh(client).status_code == 401  # no cookie, but it counts
    assert_throttled(refresh(client))


def test_register_is_limited_to_10_a_minute_per_ip(client):
    for index in range(10):
        response = post_json(
            client,
            "/api/auth/register",
            {"username": f"new{index}", "password": "a-long-enough-password-1"},
        )
        assert response.status_code == 201
    response = post_json(
        client, "/api/auth/register", {"username": "new10", "password": "a-long-enough-password-1"}
    )
    assert_throttled(response)


def test_retry_after_is_when_the_sliding_window_lets_one_more_through():
    name, ident, start = (
        "login_failures_username_ip",
        "someone",
        60 * 16_667 + 20.0,
    )  # 20 s into a window
    for _ in range(5):
        throttles.hit(name, ident, now=start)

    wait = throttles.retry_after(name, ident, now=start)

    assert wait in (40, 41)  # 40 s to the end of the window (rounded up)
    assert throttles.retry_after(name, ident, now=start + wait - 1) is not None
    assert throttles.retry_after(name, ident, now=start + wait + 1) is None


def test_bad_rate_setting_fails_loudly():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        throttles.parse_rate("five per minute")


def login_from(client, ip: str, username: str, password: str):
    return client.post(
        "/api/auth/token",
        data={"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def test_a_guesser_at_another_address_cannot_lock_the_user_out(client, owner):
    for _ in range(10):
        login_from(client, "203.0.113.5", "owner", "wrong")
    assert_throttled(login_from(client, "203.0.113.5", "owner", PASSWORD))

    assert login_from(client, "198.51.100.1", "owner", PASSWORD).status_code == 200


def test_refused_attempts_do_not_count_towards_the_per_username_ceiling(client, owner):
    """One address hammering the form adds at most 5 a minute to the shared ceiling."""
    for _ in range(100):
        login_from(client, "203.0.113.5", "owner", "wrong")
    for index in range(5):
        assert login_from(client, f"198.51.100.{index}", "owner", "wrong").status_code == 401
    assert login_from(client, "192.0.2.1", "owner", PASSWORD).status_code == 200


def test_the_per_username_ceiling_stops_a_spread_out_guesser(client, owner):
    for index in range(30):
        ip = f"203.0.113.{index // 5}"  # six addresses, five guesses each
        assert login_from(client, ip, "owner", "wrong").status_code == 401

    assert_throttled(login_from(client, "198.51.100.1", "owner", PASSWORD))


def test_an_attempt_is_counted_before_the_password_is_checked(client, owner, monkeypatch):
    """While a password is being hashed its attempt already counts: the sixth
    concurrent attempt is refused without reaching the hasher."""
    from django.contrib.auth import backends

    seen: list[int] = []
    original = backends.ModelBackend.authenticate

    def slow_check(self, request, username=None, password=None, **kwargs):
        # Five attempts are "in flight" (counted, not finished) when this one runs.
        seen.append(1)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(backends.ModelBackend, "authenticate", slow_check)
    in_flight = [throttles.login_attempt_begin(username="owner", ip="127.0.0.1") for _ in range(5)]

    assert_throttled(login(client, "owner", PASSWORD))
    assert seen == []  # refused before any password hash
    for attempt in in_flight:
        attempt.succeeded()
    assert login(client, "owner", PASSWORD).status_code == 200
