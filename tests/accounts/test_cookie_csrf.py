"""Cookie endpoints (refresh, logout) refuse what a cross-site page could send."""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts.models import TokenFamily
from tests.accounts.conftest import post_json, refresh_cookie

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/auth/token/refresh", "/api/auth/logout"]
BAD_HEADERS = {
    "no X-Requested-With": {"Origin": "http://testserver"},
    "empty X-Requested-With": {"Origin": "http://testserver", "X-Requested-With": " "},
    "foreign Origin": {"Origin": "https://evil.example", "X-Requested-With": "x"},
    "Origin null": {"Origin": "null", "X-Requested-With": "x"},
    "other port": {"Origin": "http://testserver:8080", "X-Requested-With": "x"},
    "other scheme": {"Origin": "https://testserver", "X-Requested-With": "x"},
    "no Origin nor Referer": {"X-Requested-With": "x"},
    "foreign Referer": {"Referer": "https://evil.example/page", "X-Requested-With": "x"},
}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_cross_site_request_is_403_csrf_failed_and_changes_nothing(
    client, logged_in, owner, path, headers
):
    cookie = refresh_cookie(logged_in)

    response = post_json(client, path, **headers)

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert settings.REFRESH_COOKIE_NAME not in response.cookies
    family = TokenFamily.objects.get(user=owner)
    assert family.revoked_at is None and family.rotations == 0
    assert client.cookies[settings.REFRESH_COOKIE_NAME].value == cookie


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver", "X-Requested-With": "fetch"},
        {"Referer": "http://testserver/chat/42", "X-Requested-With": "XMLHttpRequest"},
    ],
    ids=["same Origin", "same-origin Referer"],
)
def test_same_origin_request_is_accepted(client, logged_in, headers):
    assert post_json(client, "/api/auth/token/refresh", **headers).status_code == 200


def test_csrf_trusted_origins_are_accepted(client, logged_in, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.example.org"]
    for origin in ("https://app.example.com", "https://chat.example.org"):
        response = post_json(
            client, "/api/auth/token/refresh", Origin=origin, **{"X-Requested-With": "x"}
        )
        assert response.status_code == 200, origin
    response = post_json(
        client, "/api/auth/token/refresh", Origin="https://example.net", **{"X-Requested-With": "x"}
    )
    assert response.status_code == 403
