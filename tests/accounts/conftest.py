"""Fixtures for the accounts suite: API clients, logins, keys, throttle isolation."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts import api_key_services
from tests.conftest import PASSWORD

ORIGIN = "http://testserver"
# What the SPA sends on the cookie endpoints (refresh, logout).
COOKIE_HEADERS = {"Origin": ORIGIN, "X-Requested-With": "fetch"}


@pytest.fixture(autouse=True)
def _fresh_throttle_counters(settings):
    """Each test counts failed logins etc. from zero, on any cache backend."""
    settings.AUTH_THROTTLE_CACHE_PREFIX = f"test-throttle-{uuid.uuid4().hex}"


@pytest.fixture
def client() -> Client:
    return Client()


def post_json(client: Client, path: str, body=None, **headers):
    import json

    data = "" if body is None else body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", headers=headers)


def login(client: Client, username: str, password: str = PASSWORD):
    return post_json(client, "/api/auth/token", {"username": username, "password": password})


def refresh(client: Client, **headers):
    return post_json(client, "/api/auth/token/refresh", **{**COOKIE_HEADERS, **headers})


def refresh_cookie(response) -> str | None:
    morsel = response.cookies.get(django_settings.REFRESH_COOKIE_NAME)
    return morsel.value if morsel is not None else None


@pytest.fixture
def logged_in(client, owner):
    """The owner logged in through the API; the client holds the refresh cookie."""
    response = login(client, "owner")
    assert response.status_code == 200, response.content
    return response


@pytest.fixture
def owner_key(owner):
    """An API key of the owner with the default scope (chat), and its plaintext."""
    return api_key_services.api_key_create(user=owner, name="script")
