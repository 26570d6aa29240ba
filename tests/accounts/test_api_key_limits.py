"""Minting a key takes the password; keys have a lifetime and a per-user ceiling;
which containment steps revoke keys."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts import api_key_services, services
from accounts.models import ApiKey
from tests.accounts.conftest import login, post_json, refresh
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db


def create(client: Client, owner, **body):
    return post_json(client, "/api/keys", {"name": "k", **body}, **bearer(owner))


def test_a_stolen_access_token_alone_cannot_mint_a_key(client, owner):
    missing = create(client, owner)
    wrong = create(client, owner, password="guess")

    assert missing.status_code == 400
    assert missing.json()["code"] == "password_required"
    assert missing.json()["errors"] == {"password": ["This field is required."]}
    assert create(client, owner, password="").json()["code"] == "password_required"
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "invalid_credentials"
    assert not ApiKey.objects.exists()


def test_wrong_key_passwords_are_counted_by_the_login_throttle(client, owner, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    for _ in range(5):
        assert create(client, owner, password="guess").status_code == 403

    blocked = create(client, owner, password=PASSWORD)

    assert blocked.status_code == 429
    assert blocked.json()["code"] == "throttled"
    assert not ApiKey.objects.exists()
    assert login(client, "owner").status_code == 429  # one set of counters
    assert f"password confirmation failed user_id={owner.pk}" in caplog.text
    assert "guess" not in caplog.text


def test_right_passwords_do_not_count(client, owner):
    for index in range(6):
        assert create(client, owner, password=PASSWORD, name=f"k{index}").status_code == 201


def test_a_key_without_expiry_gets_the_default_lifetime(client, owner):
    response = create(client, owner, password=PASSWORD)

    assert response.status_code == 201
    key = ApiKey.objects.get()
    expected = timezone.now() + timedelta(days=settings.API_KEY_DEFAULT_DAYS)
    assert settings.API_KEY_DEFAULT_DAYS == 90
    assert key.expires_at is not None
    assert abs(key.expires_at - expected) < timedelta(minutes=1)
    assert response.json()["expires_at"] is not None


def test_a_key_cannot_outlive_the_maximum(client, owner):
    assert settings.API_KEY_MAX_DAYS == 365
    too_late = (timezone.now() + timedelta(days=366)).isoformat()
    in_time = (timezone.now() + timedelta(days=364)).isoformat()

    refused = create(client, owner, password=PASSWORD, expires_at=too_late)
    accepted = create(client, owner, password=PASSWORD, expires_at=in_time)

    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid"
    assert "expires_at" in refused.json()["errors"]
    assert accepted.status_code == 201
    assert ApiKey.objects.count() == 1


def test_zero_means_no_limit(client, owner, settings):
    settings.API_KEY_DEFAULT_DAYS = 0
    settings.API_KEY_MAX_DAYS = 0
    far = (timezone.now() + timedelta(days=3650)).isoformat()

    assert create(client, owner, password=PASSWORD).json()["expires_at"] is None
    assert create(client, owner, password=PASSWORD, expires_at=far).status_code == 201


def test_admin_created_keys_get_the_default_lifetime_too(owner):
    key, _ = api_key_services.api_key_create(user=owner, name="from admin")
    assert key.expires_at is not None


def test_at_most_the_configured_number_of_live_keys(client, owner, second_user, settings):
    settings.API_KEY_MAX_PER_USER = 3
    keys = [api_key_services.api_key_create(user=owner, name=f"k{i}")[0] for i in range(3)]
    api_key_services.api_key_create(user=second_user, name="not counted")

    refused = create(client, owner, password=PASSWORD)

    assert refused.status_code == 409
    assert refused.json()["code"] == "api_key_limit"
    assert ApiKey.objects.filter(user=owner).count() == 3
    # Revoked and expired keys do not count.
    api_key_services.api_key_revoke(api_key=keys[0])
    ApiKey.objects.filter(pk=keys[1].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert create(client, owner, password=PASSWORD).status_code == 201
    assert create(client, owner, password=PASSWORD).status_code == 201
    assert create(client, owner, password=PASSWORD).status_code == 409


def test_default_limit_is_twenty():
    assert settings.API_KEY_MAX_PER_USER == 20


# --------------------------------------------------------------------------
# Containment: which steps revoke keys (docs/security.md, "API keys")
# --------------------------------------------------------------------------


def test_logout_all_offers_to_revoke_every_key(client, owner, second_user):
    kept, _ = api_key_services.api_key_create(user=owner, name="kept")
    theirs, _ = api_key_services.api_key_create(user=second_user, name="theirs")
    access = login(Client(), "owner").json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    assert post_json(client, "/api/auth/logout-all", **headers).status_code == 204
    kept.refresh_from_db()
    assert kept.revoked_at is None

    access = login(Client(), "owner").json()["access"]
    response = post_json(
        client,
        "/api/auth/logout-all",
        {"revoke_api_keys": True},
        Authorization=f"Bearer {access}",
    )

    assert response.status_code == 204
    kept.refresh_from_db()
    theirs.refresh_from_db()
    assert kept.revoked_at is not None
    assert theirs.revoked_at is None


def test_logout_all_refuses_a_non_boolean_flag(client, owner):
    key, _ = api_key_services.api_key_create(user=owner, name="k")
    response = post_json(
        client, "/api/auth/logout-all", {"revoke_api_keys": "yes"}, **bearer(owner)
    )
    assert response.status_code == 400
    key.refresh_from_db()
    assert key.revoked_at is None


def test_deactivation_revokes_keys(owner, owner_key):
    services.user_deactivate(user=owner)
    assert ApiKey.objects.get(pk=owner_key[0].pk).revoked_at is not None


def test_reuse_detection_leaves_keys_alone(client, owner, owner_key):
    """A stolen refresh cookie cannot mint a key (that needs the password), so the
    user's scripts keep working when a replayed cookie ends the session."""
    login(client, "owner")
    stolen = client.cookies[settings.REFRESH_COOKIE_NAME].value
    refresh(client)
    client.cookies[settings.REFRESH_COOKIE_NAME] = stolen
    assert refresh(client).json()["code"] == "token_reused"
    assert ApiKey.objects.get(pk=owner_key[0].pk).revoked_at is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"API_KEY_DEFAULT_DAYS": "400"}, "API_KEY_DEFAULT_DAYS"),
        ({"API_KEY_DEFAULT_DAYS": "0"}, "API_KEY_DEFAULT_DAYS"),
        ({"API_KEY_MAX_PER_USER": "0"}, "API_KEY_MAX_PER_USER"),
        ({"JWT_SESSION_MAX_DAYS": "0"}, "JWT_SESSION_MAX_DAYS"),
    ],
)
def test_bad_lifetimes_stop_startup_with_one_line(env, variable):
    from tests.test_settings import _manage

    result = _manage("check", DJANGO_DEBUG="1", **env)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}: expected ")
