"""API keys: the /api/keys endpoints, storage, and authentication with X-API-Key."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import api_key_services, apikeys
from accounts.models import ApiKey, Scope
from tests.accounts.conftest import post_json
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db

KEY_RE = re.compile(r"sk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def with_key(plaintext: str) -> dict[str, str]:
    return {"X-API-Key": plaintext}


def test_creating_a_key_returns_the_plaintext_once_and_stores_only_a_digest(client, owner):
    response = post_json(
        client, "/api/keys", {"name": "laptop script", "password": PASSWORD}, **bearer(owner)
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "name", "prefix", "scopes", "created_at", "last_used_at", "expires_at",
        "revoked_at", "key",
    }  # fmt: skip
    assert KEY_RE.fullmatch(body["key"])
    assert body["scopes"] == ["chat"]
    key = ApiKey.objects.get(pk=body["id"])
    assert key.user == owner and key.prefix == body["prefix"]
    assert body["key"].startswith(f"sk_{key.prefix}_")
    assert body["key"] not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    assert key.digest == apikeys.digest(body["key"]) and len(key.digest) == 64
    listed = client.get("/api/keys", headers=bearer(owner)).json()["results"]
    assert [item["id"] for item in listed] == [key.pk]
    assert "key" not in listed[0]


def test_the_secret_part_of_a_key_has_at_least_128_bits():
    _, plaintext = apikeys.generate()
    secret = plaintext.split("_", 2)[2]
    assert len(secret) * 6 >= 128


def test_key_list_shows_only_own_keys_newest_first(client, owner, outsider):
    api_key_services.api_key_create(user=owner, name="one")
    api_key_services.api_key_create(user=owner, name="two")
    api_key_services.api_key_create(user=outsider, name="not yours")

    response = client.get("/api/keys", headers=bearer(owner))

    assert response.status_code == 200
    assert [item["name"] for item in response.json()["results"]] == ["two", "one"]


def test_revoking_a_key_keeps_the_row_and_the_key_stops_working(client, owner, owner_key):
    key, plaintext = owner_key
    assert client.get("/api/auth/me", headers=with_key(plaintext)).status_code == 200

    response = client.delete(f"/api/keys/{key.pk}", headers=bearer(owner))

    assert response.status_code == 204
    key.refresh_from_db()
    assert key.revoked_at is not None
    denied = client.get("/api/auth/me", headers=with_key(plaintext))
    assert denied.status_code == 401
    assert denied.json()["code"] == "api_key_invalid"
    again = client.delete(f"/api/keys/{key.pk}", headers=bearer(owner))
    assert again.status_code == 204


def test_outsider_gets_404_on_the_owners_key_and_changes_nothing(client, outsider, owner_key):
    key, _ = owner_key
    response = client.delete(f"/api/keys/{key.pk}", headers=bearer(outsider))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    key.refresh_from_db()
    assert key.revoked_at is None


def test_key_endpoints_need_authentication(client, owner_key):
    key, _ = owner_key
    for response in (
        client.get("/api/keys"),
        post_json(client, "/api/keys", {"name": "x"}),
        client.delete(f"/api/keys/{key.pk}"),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_a_key_cannot_create_or_revoke_keys(client, owner):
    key, plaintext = api_key_services.api_key_create(
        user=owner, name="all", scopes=[Scope.CHAT, Scope.KEYS_READ]
    )
    created = post_json(client, "/api/keys", {"name": "minted"}, **with_key(plaintext))
    revoked = client.delete(f"/api/keys/{key.pk}", headers=with_key(plaintext))

    assert created.status_code == 403 and created.json()["code"] == "insufficient_scope"
    assert revoked.status_code == 403 and revoked.json()["code"] == "insufficient_scope"
    assert ApiKey.objects.count() == 1
    assert ApiKey.objects.get().revoked_at is None


def test_listing_keys_with_a_key_needs_the_keys_read_scope(client, owner, owner_key):
    _, chat_only = owner_key
    _, reader = api_key_services.api_key_create(user=owner, name="reader", scopes=[Scope.KEYS_READ])

    denied = client.get("/api/keys", headers=with_key(chat_only))
    allowed = client.get("/api/keys", headers=with_key(reader))

    assert denied.status_code == 403
    assert denied.json()["code"] == "insufficient_scope"
    assert allowed.status_code == 200
    assert len(allowed.json()["results"]) == 2


def test_me_accepts_a_key_of_any_scope(client, owner, owner_key):
    response = client.get("/api/auth/me", headers=with_key(owner_key[1]))
    assert response.status_code == 200
    assert response.json()["id"] == owner.pk


def test_key_with_expiry_and_scopes_can_be_created(client, owner):
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    response = post_json(
        client,
        "/api/keys",
        {
            "name": "ci",
            "expires_at": expires,
            "scopes": ["keys:read", "chat"],
            "password": PASSWORD,
        },
        **bearer(owner),
    )
    assert response.status_code == 201
    assert response.json()["scopes"] == ["chat", "keys:read"]
    assert response.json()["expires_at"] is not None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": 42},
        {"name": ["x"]},
        {"name": "x" * 101},
        {"name": "x", "scopes": ["admin"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": "chat"},
        {"name": "x", "expires_at": "yesterday"},
        {"name": "x", "expires_at": 1700000000},
        {"name": "x", "expires_at": "2001-01-01T00:00:00Z"},
    ],
)
def test_invalid_key_requests_are_400_and_create_nothing(client, owner, body):
    response = post_json(client, "/api/keys", {"password": PASSWORD, **body}, **bearer(owner))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]
    assert not ApiKey.objects.exists()


def bad_keys(owner, outsider) -> dict[str, str]:
    _, valid = api_key_services.api_key_create(user=owner, name="valid")
    revoked, revoked_plain = api_key_services.api_key_create(user=owner, name="revoked")
    api_key_services.api_key_revoke(api_key=revoked)
    expired, expired_plain = api_key_services.api_key_create(user=owner, name="expired")
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    prefix = valid.split("_")[1]
    return {
        "wrong secret": f"sk_{prefix}_{'A' * 43}",
        "unknown prefix": f"sk_{'0' * 12}_{'A' * 43}",
        "revoked": revoked_plain,
        "expired": expired_plain,
        "malformed": "sk_nothex_short",
        "not a key at all": "hello",
        "10 kB": "sk_" + "a" * 10_000,
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong secret",
        "unknown prefix",
        "revoked",
        "expired",
        "malformed",
        "not a key at all",
        "10 kB",
    ],
)
def test_bad_api_key_is_401_api_key_invalid(client, owner, outsider, case):
    plaintext = bad_keys(owner, outsider)[case]
    response = client.get("/api/auth/me", headers=with_key(plaintext))
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_invalid"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_key_of_an_inactive_user_is_401_user_inactive(client, owner, owner_key):
    owner.is_active = False
    owner.save()
    response = client.get("/api/auth/me", headers=with_key(owner_key[1]))
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_bearer_and_key_together_are_400_ambiguous(client, owner, owner_key):
    response = client.get("/api/auth/me", headers={**bearer(owner), **with_key(owner_key[1])})
    assert response.status_code == 400
    assert response.json()["code"] == "ambiguous_credentials"


def test_last_used_at_is_written_at_most_once_a_minute(client, owner, owner_key):
    key, plaintext = owner_key
    assert key.last_used_at is None

    client.get("/api/auth/me", headers=with_key(plaintext))
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    client.get("/api/auth/me", headers=with_key(plaintext))
    key.refresh_from_db()
    assert key.last_used_at == first

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(seconds=61))
    client.get("/api/auth/me", headers=with_key(plaintext))
    key.refresh_from_db()
    assert key.last_used_at > first


def test_a_request_with_a_fresh_key_costs_one_query(
    client, owner, owner_key, django_assert_num_queries
):
    key, plaintext = owner_key
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    with django_assert_num_queries(1):
        assert client.get("/api/auth/me", headers=with_key(plaintext)).status_code == 200


def test_a_bearer_request_costs_one_query(client, owner, django_assert_num_queries):
    headers = bearer(owner)
    with django_assert_num_queries(1):
        assert client.get("/api/auth/me", headers=headers).status_code == 200


def test_a_changed_pepper_invalidates_stored_keys(client, owner_key, settings):
    settings.API_KEY_PEPPER = "a-different-deployment-pepper"
    response = client.get("/api/auth/me", headers=with_key(owner_key[1]))
    assert response.json()["code"] == "api_key_invalid"
