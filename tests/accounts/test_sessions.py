"""Sessions: the list and revoke endpoints, the absolute lifetime, one session per browser."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts import sessions, tokens
from accounts.models import RevokeReason, TokenFamily
from tests.accounts.conftest import login, post_json, refresh, refresh_cookie
from tests.conftest import bearer

pytestmark = pytest.mark.django_db


def bearer_of(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def browser(user_agent: str, ip: str = "127.0.0.1") -> Client:
    return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)


def test_sessions_lists_own_live_sessions_newest_first(owner, outsider):
    laptop, phone = browser("Laptop/1.0"), browser("Phone/2.0", ip="10.0.0.7")
    first = login(laptop, "owner").json()["access"]
    current = login(phone, "owner").json()["access"]
    ended = login(Client(), "owner")
    sessions.logout(raw=refresh_cookie(ended))
    login(Client(), "outsider")

    response = Client().get("/api/auth/sessions", headers=bearer_of(current))

    assert response.status_code == 200
    results = response.json()["results"]
    assert [row["user_agent"] for row in results] == ["Phone/2.0", "Laptop/1.0"]
    assert set(results[0]) == {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}
    assert [row["current"] for row in results] == [True, False]
    assert [row["ip"] for row in results] == ["10.0.0.7", "127.0.0.1"]
    assert results[0]["last_used_at"] is not None
    families = TokenFamily.objects.filter(user=owner, revoked_at=None).order_by("-created_at")
    assert [row["id"] for row in results] == [str(family.pk) for family in families]
    # The other session's token sees the same list, with itself as current.
    other = Client().get("/api/auth/sessions", headers=bearer_of(first)).json()["results"]
    assert [row["current"] for row in other] == [False, True]


def test_sessions_list_leaves_out_expired_sessions(owner):
    access = login(Client(), "owner").json()["access"]
    old = sessions.token_family_start(user=owner)
    TokenFamily.objects.filter(pk=old.family_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    results = Client().get("/api/auth/sessions", headers=bearer_of(access)).json()["results"]

    assert str(old.family_id) not in [row["id"] for row in results]
    assert len(results) == 1


def test_refresh_updates_last_used_at_and_ip(owner):
    client = browser("Laptop/1.0")
    login(client, "owner")
    family = TokenFamily.objects.get(user=owner)
    TokenFamily.objects.filter(pk=family.pk).update(
        last_used_at=timezone.now() - timedelta(hours=1)
    )

    client.defaults["REMOTE_ADDR"] = "10.1.2.3"
    assert refresh(client).status_code == 200

    family.refresh_from_db()
    assert family.last_used_at is not None
    assert family.last_used_at > timezone.now() - timedelta(minutes=1)
    assert family.ip == "10.1.2.3"


def test_deleting_a_session_ends_its_cookie_and_its_access_tokens(owner, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    victim = Client()
    victim_access = login(victim, "owner").json()["access"]
    mine = login(Client(), "owner").json()["access"]
    session = TokenFamily.objects.filter(user=owner).order_by("created_at").first()

    response = Client().delete(f"/api/auth/sessions/{session.pk}", headers=bearer_of(mine))

    assert response.status_code == 204
    session.refresh_from_db()
    assert session.revoke_reason == RevokeReason.USER
    assert refresh(victim).status_code == 401
    me = Client().get("/api/auth/me", headers=bearer_of(victim_access))
    assert me.json()["code"] == "token_revoked"
    assert Client().get("/api/auth/me", headers=bearer_of(mine)).status_code == 200
    assert f"session revoked user_id={owner.pk} session={session.pk}" in caplog.text
    # Gone from the list, and a second delete is 404.
    listed = Client().get("/api/auth/sessions", headers=bearer_of(mine)).json()["results"]
    assert str(session.pk) not in [row["id"] for row in listed]
    again = Client().delete(f"/api/auth/sessions/{session.pk}", headers=bearer_of(mine))
    assert again.status_code == 404


def test_another_users_session_is_404_and_stays_live(owner, outsider):
    theirs = sessions.token_family_start(user=owner)
    mine = login(Client(), "outsider").json()["access"]

    response = Client().delete(f"/api/auth/sessions/{theirs.family_id}", headers=bearer_of(mine))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert TokenFamily.objects.get(pk=theirs.family_id).revoked_at is None
    assert Client().get("/api/auth/me", headers=bearer_of(theirs.access)).status_code == 200


@pytest.mark.parametrize("session_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_unknown_or_malformed_session_ids_are_404(owner, session_id):
    response = Client().delete(f"/api/auth/sessions/{session_id}", headers=bearer(owner))
    assert response.status_code == 404


def test_session_endpoints_refuse_api_keys_and_anonymous_callers(owner, owner_key):
    session = sessions.token_family_start(user=owner)
    key_headers = {"X-API-Key": owner_key[1]}
    assert Client().get("/api/auth/sessions", headers=key_headers).status_code == 403
    assert Client().get("/api/auth/sessions").status_code == 401
    url = f"/api/auth/sessions/{session.family_id}"
    assert Client().delete(url, headers=key_headers).status_code == 403
    assert Client().delete(url).status_code == 401
    assert TokenFamily.objects.get(pk=session.family_id).revoked_at is None


# --------------------------------------------------------------------------
# Absolute lifetime: JWT_SESSION_MAX_DAYS from login, whatever the rotations
# --------------------------------------------------------------------------


def test_rotation_never_extends_a_session_past_its_maximum_age(owner, settings):
    settings.JWT_SESSION_MAX_DAYS = 30
    client = Client()
    login(client, "owner")
    family = TokenFamily.objects.get(user=owner)
    started = timezone.now() - timedelta(days=29, hours=23)
    TokenFamily.objects.filter(pk=family.pk).update(created_at=started)

    response = refresh(client)

    assert response.status_code == 200
    ends = started + timedelta(days=30)
    payload = tokens.decode(refresh_cookie(response) or "", kind="refresh")
    assert abs(tokens.expiry_of(payload) - ends) < timedelta(seconds=2)
    assert 3500 <= int(response.cookies[settings.REFRESH_COOKIE_NAME]["max-age"]) <= 3600
    access = tokens.decode(response.json()["access"], kind="access")
    assert tokens.expiry_of(access) <= ends + timedelta(seconds=1)


def test_a_session_past_its_maximum_age_cannot_refresh(owner, settings):
    """A refresh token from before the cap (or a changed setting) still ends there."""
    settings.JWT_SESSION_MAX_DAYS = 30
    client = Client()
    login(client, "owner")
    TokenFamily.objects.filter(user=owner).update(
        created_at=timezone.now() - timedelta(days=30, seconds=1)
    )

    response = refresh(client)

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert TokenFamily.objects.get(user=owner).revoke_reason == RevokeReason.EXPIRED


def test_session_max_days_is_read_from_the_environment():
    assert settings.JWT_SESSION_MAX_DAYS == 30


# --------------------------------------------------------------------------
# One browser, one session
# --------------------------------------------------------------------------


def test_logging_in_with_a_refresh_cookie_present_ends_that_old_session(owner, second_user):
    client = Client()
    old_access = login(client, "owner").json()["access"]
    old = TokenFamily.objects.get(user=owner)

    # The same browser logs in again (here as another user, as on a shared computer).
    assert login(client, "second").status_code == 200

    old.refresh_from_db()
    assert old.revoke_reason == RevokeReason.LOGIN
    assert Client().get("/api/auth/me", headers=bearer_of(old_access)).status_code == 401
    assert TokenFamily.objects.get(user=second_user).revoked_at is None


def test_a_failed_login_leaves_the_old_session_alone(owner):
    client = Client()
    login(client, "owner")
    assert login(client, "owner", "wrong").status_code == 401
    assert TokenFamily.objects.get(user=owner).revoked_at is None


def test_login_with_a_garbage_cookie_still_works(owner):
    client = Client()
    client.cookies[settings.REFRESH_COOKIE_NAME] = "garbage"
    assert login(client, "owner").status_code == 200


def test_logout_all_is_still_bearer_only_and_ends_the_caller_too(owner):
    access = login(Client(), "owner").json()["access"]
    assert post_json(Client(), "/api/auth/logout-all", **bearer_of(access)).status_code == 204
    assert Client().get("/api/auth/me", headers=bearer_of(access)).status_code == 401


def test_ending_the_current_session_logs_this_browser_out(owner):
    client = Client()
    access = login(client, "owner").json()["access"]
    current = TokenFamily.objects.get(user=owner)

    response = client.delete(f"/api/auth/sessions/{current.pk}", headers=bearer_of(access))

    assert response.status_code == 204
    assert client.get("/api/auth/me", headers=bearer_of(access)).json()["code"] == "token_revoked"
    assert refresh(client).status_code == 401
