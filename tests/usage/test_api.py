"""``GET /api/usage`` through the URL routing, and ``daily_tokens`` at key creation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from accounts.api_key_services import api_key_create
from accounts.models import ApiKey, Scope
from tests.conftest import PASSWORD, bearer
from tests.usage.conftest import spend, yesterday
from usage.models import KeyLimit, UsageLimits
from usage.turns import turn_admit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client() -> Client:
    return Client()


def with_key(plaintext: str) -> dict[str, str]:
    return {"X-API-Key": plaintext}


def test_usage_reports_todays_tokens_turns_and_limits(client, owner, second_user, settings):
    settings.CHAT_CONCURRENT_TURNS = 3
    settings.CHAT_TURNS_PER_MINUTE = 20
    settings.CHAT_DAILY_TOKENS = 1000
    spend(owner, 300)
    spend(owner, 50, at=yesterday())
    spend(second_user, 700)  # someone else's: never in the owner's numbers
    async_to_sync(turn_admit)(user=owner)

    response = client.get("/api/usage", headers=bearer(owner))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    resets = datetime.fromisoformat(body["tokens"].pop("resets_at"))
    assert body == {
        "tokens": {"used": 300, "limit": 1000},
        "turns": {"last_minute": 1, "per_minute_limit": 20},
        "concurrent_turns": {"active": 1, "limit": 3},
    }
    now = datetime.now(UTC)
    assert resets.tzinfo is not None and resets.utcoffset() == timedelta(0)
    assert (resets.hour, resets.minute, resets.second) == (0, 0, 0)
    assert timedelta(0) < resets - now <= timedelta(days=1)


def test_another_users_usage_is_never_visible(client, owner, outsider):
    spend(owner, 300)
    async_to_sync(turn_admit)(user=owner)
    body = client.get("/api/usage", headers=bearer(outsider)).json()
    assert body["tokens"]["used"] == 0
    assert body["turns"]["last_minute"] == 0
    assert body["concurrent_turns"]["active"] == 0
    # Query parameters choose nothing.
    body = client.get(f"/api/usage?user_id={owner.pk}", headers=bearer(outsider)).json()
    assert body["tokens"]["used"] == 0


def test_an_unlimited_quota_is_null_and_overrides_show(client, owner, settings):
    settings.CHAT_DAILY_TOKENS = 0
    UsageLimits.objects.create(user=owner, concurrent_turns=7)
    body = client.get("/api/usage", headers=bearer(owner)).json()
    assert body["tokens"]["limit"] is None
    assert body["concurrent_turns"]["limit"] == 7


def test_with_a_key_the_body_adds_the_keys_own_use_and_limit(client, owner):
    key, plaintext = api_key_create(user=owner, name="ci", daily_tokens=500)
    other, _ = api_key_create(user=owner, name="other")
    spend(owner, 40, api_key=key)
    spend(owner, 60, api_key=other)
    spend(owner, 100)

    body = client.get("/api/usage", headers=with_key(plaintext)).json()

    assert body["tokens"]["used"] == 200  # the user's total: keys and browser together
    assert body["key"] == {"id": key.pk, "used": 40, "limit": 500}
    assert "key" not in client.get("/api/usage", headers=bearer(owner)).json()


def test_a_key_without_the_chat_scope_is_refused_and_no_credentials_is_401(client, owner):
    _, plaintext = api_key_create(user=owner, name="ro", scopes=[Scope.KEYS_READ])
    refused = client.get("/api/usage", headers=with_key(plaintext))
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    anonymous = client.get("/api/usage")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert client.post("/api/usage", headers=bearer(owner)).status_code == 405


def post_key(client, owner, body):
    return client.post(
        "/api/keys",
        data=json.dumps({"password": PASSWORD, **body}),
        content_type="application/json",
        headers=bearer(owner),
    )


def test_a_key_can_be_created_with_its_own_daily_limit(client, owner):
    response = post_key(client, owner, {"name": "ci", "daily_tokens": 5000})
    assert response.status_code == 201
    key = ApiKey.objects.get(pk=response.json()["id"])
    assert KeyLimit.objects.get(api_key=key).daily_tokens == 5000

    plain = post_key(client, owner, {"name": "plain"})
    assert plain.status_code == 201
    assert not KeyLimit.objects.filter(api_key_id=plain.json()["id"]).exists()


@pytest.mark.parametrize("value", [-1, "5000", 1.5, True, 2**63])
def test_a_bad_daily_limit_is_400_and_creates_no_key(client, owner, value):
    response = post_key(client, owner, {"name": "ci", "daily_tokens": value})
    assert response.status_code == 400
    assert "daily_tokens" in response.json()["errors"]
    assert not ApiKey.objects.exists()


def test_the_usage_endpoint_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema", headers={"Accept": "application/json"}).json()
    operation = schema["paths"]["/api/usage"]["get"]
    assert {"bearerAuth": []} in operation["security"] and {"apiKeyAuth": []} in operation[
        "security"
    ]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/UsageOutput"}
    output = schema["components"]["schemas"]["UsageOutput"]
    assert sorted(output["required"]) == ["concurrent_turns", "tokens", "turns"]
    assert schema["components"]["schemas"]["UsageTokens"]["properties"]["limit"]["nullable"] is True
