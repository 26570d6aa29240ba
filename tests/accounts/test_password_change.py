"""POST /api/auth/password: current password (throttled like a login), Django's
validators, every other session ended, the current one kept."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from accounts import sessions
from accounts.models import ApiKey, RevokeReason, TokenFamily
from tests.accounts.conftest import login, post_json, refresh
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-password-77"


def bearer_of(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def change(client: Client, access: str, body: dict):
    return post_json(client, "/api/auth/password", body, **bearer_of(access))


def test_password_change_ends_every_other_session_and_keeps_this_one(owner, second_user, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    other_browser = Client()
    other_access = login(other_browser, "owner").json()["access"]
    theirs = sessions.token_family_start(user=second_user)
    me = Client()
    access = login(me, "owner").json()["access"]

    response = change(me, access, {"current_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert response.status_code == 204, response.content
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    # This session: its access token and its refresh cookie keep working.
    assert me.get("/api/auth/me", headers=bearer_of(access)).status_code == 200
    rotated = refresh(me)
    assert rotated.status_code == 200
    assert me.get("/api/auth/me", headers=bearer_of(rotated.json()["access"])).status_code == 200
    # Every other session of the user has ended, at once.
    assert Client().get("/api/auth/me", headers=bearer_of(other_access)).status_code == 401
    assert refresh(other_browser).status_code == 401
    reasons = set(
        TokenFamily.objects.filter(user=owner, revoked_at__isnull=False).values_list(
            "revoke_reason", flat=True
        )
    )
    assert reasons == {RevokeReason.PASSWORD_CHANGE}
    assert TokenFamily.objects.filter(user=owner, revoked_at=None).count() == 1
    # Other users are untouched.
    assert TokenFamily.objects.get(pk=theirs.family_id).revoked_at is None
    assert f"password changed user_id={owner.pk}" in caplog.text
    assert PASSWORD not in caplog.text and NEW_PASSWORD not in caplog.text
    assert login(Client(), "owner", NEW_PASSWORD).status_code == 200


def test_wrong_current_password_is_403_and_changes_nothing(owner):
    me = Client()
    access = login(me, "owner").json()["access"]

    response = change(me, access, {"current_password": "wrong", "new_password": NEW_PASSWORD})

    assert response.status_code == 403
    assert response.json()["code"] == "invalid_credentials"
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    assert TokenFamily.objects.get(user=owner).revoked_at is None


def test_wrong_current_passwords_are_throttled_like_logins(owner):
    me = Client()
    access = login(me, "owner").json()["access"]
    for _ in range(5):
        response = change(me, access, {"current_password": "wrong", "new_password": NEW_PASSWORD})
        assert response.status_code == 403

    blocked = change(me, access, {"current_password": PASSWORD, "new_password": NEW_PASSWORD})

    assert blocked.status_code == 429
    assert blocked.json()["code"] == "throttled"
    assert int(blocked["Retry-After"]) >= 1
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    # The same counters as the login form.
    assert login(Client(), "owner").status_code == 429


@pytest.mark.parametrize(
    ("new_password", "message_part"),
    [("short", "too short"), ("password", "too common"), ("12345678901", "entirely numeric")],
)
def test_djangos_validators_apply_with_field_messages(owner, new_password, message_part):
    me = Client()
    access = login(me, "owner").json()["access"]

    response = change(me, access, {"current_password": PASSWORD, "new_password": new_password})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert any(message_part in message for message in body["errors"]["new_password"])
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"new_password": NEW_PASSWORD}, "password_required"),
        ({"current_password": "", "new_password": NEW_PASSWORD}, "password_required"),
        ({"current_password": PASSWORD}, "invalid"),
        ({"current_password": 5, "new_password": NEW_PASSWORD}, "invalid"),
        (
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "revoke_api_keys": "yes"},
            "invalid",
        ),
        ("[]", "invalid"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(owner, body, code):
    me = Client()
    access = login(me, "owner").json()["access"]

    response = change(me, access, body)

    assert response.status_code == 400
    assert response.json()["code"] == code
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_password_change_is_bearer_only(owner, owner_key):
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    with_key = post_json(Client(), "/api/auth/password", body, **{"X-API-Key": owner_key[1]})
    anonymous = post_json(Client(), "/api/auth/password", body)
    assert with_key.status_code == 403
    assert anonymous.status_code == 401
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_api_keys_survive_a_password_change_unless_asked(owner, owner_key):
    me = Client()
    access = login(me, "owner").json()["access"]
    change(me, access, {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert ApiKey.objects.get(pk=owner_key[0].pk).revoked_at is None

    response = change(
        me,
        access,
        {"current_password": NEW_PASSWORD, "new_password": PASSWORD, "revoke_api_keys": True},
    )

    assert response.status_code == 204
    assert ApiKey.objects.get(pk=owner_key[0].pk).revoked_at is not None
    denied = Client().get("/api/auth/me", headers={"X-API-Key": owner_key[1]})
    assert denied.json()["code"] == "api_key_invalid"


def test_a_token_without_a_session_keeps_no_session(owner):
    """A script's ``AccessToken.for_user`` token has no session to keep: all end."""
    sessions.token_family_start(user=owner)
    response = post_json(
        Client(),
        "/api/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        **bearer(owner),
    )
    assert response.status_code == 204
    assert not TokenFamily.objects.filter(user=owner, revoked_at=None).exists()
