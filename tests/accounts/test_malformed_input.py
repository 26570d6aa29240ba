"""Malformed JSON and wrong JSON types on every endpoint: a 400 with a code, nothing changed."""

from __future__ import annotations

import pytest

from accounts.models import ApiKey, TokenFamily, User
from tests.accounts.conftest import COOKIE_HEADERS, post_json
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

BODIES = {
    "malformed": ('{"username": "owner",', "parse_error"),
    "truncated": ("{", "parse_error"),
    "a list": ("[]", "invalid"),
    "a string": ('"hello"', "invalid"),
    "a number": ("42", "invalid"),
    "null": ("null", "invalid"),
}
TYPED_BODIES = {
    "/api/auth/register": [
        {"username": 1, "password": "a-long-enough-password-1"},
        {"username": "x", "password": ["a-long-enough-password-1"]},
        {"username": {"a": 1}, "password": "a-long-enough-password-1"},
        {"username": "x", "password": "a-long-enough-password-1", "email": 5},
    ],
    "/api/auth/token": [
        {"username": 123, "password": "x"},
        {"username": "owner", "password": None},
        {"username": True, "password": "x"},
        {"username": "owner", "password": {"$ne": ""}},
    ],
    "/api/keys": [{"name": 5}, {"name": None}, {"name": "x", "scopes": [1]}],
}


def headers_for(path: str, owner) -> dict[str, str]:
    if path in ("/api/auth/token/refresh", "/api/auth/logout"):
        return COOKIE_HEADERS
    if path in ("/api/auth/logout-all", "/api/keys"):
        return bearer(owner)
    return {}


def state() -> tuple:
    return User.objects.count(), TokenFamily.objects.count(), ApiKey.objects.count()


ENDPOINTS = [
    "/api/auth/register",
    "/api/auth/token",
    "/api/auth/token/refresh",
    "/api/auth/logout",
    "/api/auth/logout-all",
    "/api/keys",
]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_malformed_or_non_object_body_is_400(client, owner, path, body):
    raw, code = body
    before = state()

    response = post_json(client, path, raw, **headers_for(path, owner))

    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert "detail" in response.json()
    assert state() == before


@pytest.mark.parametrize(
    ("path", "body"),
    [(path, body) for path, bodies in TYPED_BODIES.items() for body in bodies],
)
def test_wrong_json_types_are_400_with_field_errors(client, owner, path, body):
    before = state()

    response = post_json(client, path, body, **headers_for(path, owner))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]
    assert state() == before


def test_form_encoded_body_is_415(client, owner):
    response = client.post("/api/auth/token", {"username": "owner", "password": "x"})
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_ten_kilobyte_username_is_400_not_a_crash(client):
    response = post_json(client, "/api/auth/token", {"username": "u" * 10_000, "password": "x"})
    assert response.status_code == 400
    assert "username" in response.json()["errors"]


def test_non_integer_key_id_is_404(client, owner):
    response = client.delete("/api/keys/abc", headers=bearer(owner))
    assert response.status_code == 404
