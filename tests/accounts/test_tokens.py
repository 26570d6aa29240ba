"""Login, refresh-cookie rotation, token families, logout, session revocation."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.conf import settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services, sessions
from accounts.models import RevokeReason, TokenFamily
from tests.accounts.conftest import COOKIE_HEADERS, login, post_json, refresh, refresh_cookie
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def me(client, access: str):
    return client.get("/api/auth/me", headers={"Authorization": f"Bearer {access}"})


def test_login_returns_access_token_user_and_sets_only_a_refresh_cookie(client, owner):
    response = login(client, "owner")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "access_expires_at", "user"}
    assert body["user"] == {
        "id": owner.pk,
        "username": "owner",
        "email": "owner@example.com",
        "is_staff": False,
        "email_verified": False,
    }
    expires = datetime.fromisoformat(body["access_expires_at"])
    assert expires.tzinfo is not None
    assert response["Cache-Control"] == "no-store"
    assert "refresh" not in response.content.decode()
    cookie = response.cookies[settings.REFRESH_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/auth/"
    assert int(cookie["max-age"]) == 7 * 24 * 3600
    assert cookie["secure"] == ""  # DEBUG in tests; the live test checks Secure without DEBUG
    assert TokenFamily.objects.filter(user=owner, revoked_at=None).count() == 1
    assert me(client, body["access"]).json()["username"] == "owner"


@pytest.mark.parametrize(
    ("username", "password"),
    [("owner", "wrong-password"), ("nobody", PASSWORD), ("OWNER", PASSWORD)],
    ids=["wrong password", "unknown user", "other case"],
)
def test_failed_login_is_the_same_401_whatever_was_wrong(client, owner, username, password):
    response = login(client, username, password)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert settings.REFRESH_COOKIE_NAME not in response.cookies
    assert not TokenFamily.objects.exists()


def test_inactive_user_cannot_log_in_and_is_told_nothing_more(client, owner):
    owner.is_active = False
    owner.save()

    response = login(client, "owner")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_login_ignores_a_stale_authorization_header(client, owner):
    response = post_json(
        client,
        "/api/auth/token",
        {"username": "owner", "password": PASSWORD},
        Authorization="Bearer garbage",
    )
    assert response.status_code == 200


def test_refresh_rotates_the_cookie_and_blacklists_the_old_token(client, logged_in, owner):
    old = refresh_cookie(logged_in)
    family = TokenFamily.objects.get(user=owner)

    response = refresh(client)

    assert response.status_code == 200
    assert set(response.json()) == {"access", "access_expires_at"}
    new = refresh_cookie(response)
    assert new and new != old
    family.refresh_from_db()
    assert family.rotations == 1 and family.revoked_at is None
    assert OutstandingToken.objects.filter(user=owner).count() == 2
    blacklisted = BlacklistedToken.objects.get()
    assert blacklisted.token.jti != family.current_jti
    assert me(client, response.json()["access"]).status_code == 200


def test_outstanding_token_rows_never_store_the_token_text(client, logged_in):
    refresh(client)
    assert set(OutstandingToken.objects.values_list("token", flat=True)) == {""}


def test_reused_refresh_token_revokes_the_whole_family(client, logged_in, owner):
    stolen = refresh_cookie(logged_in)
    assert refresh(client).status_code == 200  # the victim rotates; `stolen` is now old
    current = client.cookies[settings.REFRESH_COOKIE_NAME].value

    client.cookies[settings.REFRESH_COOKIE_NAME] = stolen
    replay = refresh(client)

    assert replay.status_code == 401
    assert replay.json()["code"] == "token_reused"
    assert replay["WWW-Authenticate"] == 'Bearer realm="api"'
    family = TokenFamily.objects.get(user=owner)
    assert family.revoke_reason == RevokeReason.REUSE and family.revoked_at is not None
    # The victim's current token died with the family.
    client.cookies[settings.REFRESH_COOKIE_NAME] = current
    after = refresh(client)
    assert after.status_code == 401
    assert after.json()["code"] == "token_not_valid"
    assert OutstandingToken.objects.filter(blacklistedtoken__isnull=True).count() == 0


def test_reuse_revokes_only_that_family_not_other_sessions(client, logged_in, owner):
    other_session = login(type(client)(), "owner")
    stolen = refresh_cookie(logged_in)
    refresh(client)
    client.cookies[settings.REFRESH_COOKIE_NAME] = stolen
    assert refresh(client).json()["code"] == "token_reused"

    assert TokenFamily.objects.filter(user=owner, revoked_at=None).count() == 1
    other = type(client)()
    other.cookies[settings.REFRESH_COOKIE_NAME] = refresh_cookie(other_session)
    assert refresh(other).status_code == 200


def test_refresh_without_cookie_is_401_not_authenticated(client, owner):
    response = refresh(client)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_failed_refresh_clears_the_dead_cookie(client):
    client.cookies[settings.REFRESH_COOKIE_NAME] = "garbage"
    response = refresh(client)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert response.cookies[settings.REFRESH_COOKIE_NAME]["max-age"] == 0


def test_logout_revokes_the_session_and_clears_the_cookie(client, logged_in, owner):
    response = post_json(client, "/api/auth/logout", **COOKIE_HEADERS)

    assert response.status_code == 204
    cookie = response.cookies[settings.REFRESH_COOKIE_NAME]
    assert cookie.value == "" and cookie["max-age"] == 0 and cookie["path"] == "/api/auth/"
    family = TokenFamily.objects.get(user=owner)
    assert family.revoke_reason == RevokeReason.LOGOUT
    client.cookies[settings.REFRESH_COOKIE_NAME] = refresh_cookie(logged_in)
    assert refresh(client).json()["code"] == "token_not_valid"


@pytest.mark.parametrize("cookie", [None, "garbage", "expired", "revoked"])
def test_logout_never_fails_once_the_origin_check_passes(client, owner, cookie):
    if cookie == "expired":
        from rest_framework_simplejwt.tokens import RefreshToken

        token = RefreshToken.for_user(owner)
        token.set_exp(lifetime=-settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"])
        client.cookies[settings.REFRESH_COOKIE_NAME] = str(token)
    elif cookie == "revoked":
        issued = sessions.token_family_start(user=owner)
        sessions.logout(raw=issued.refresh)
        client.cookies[settings.REFRESH_COOKIE_NAME] = issued.refresh
    elif cookie:
        client.cookies[settings.REFRESH_COOKIE_NAME] = cookie

    response = post_json(client, "/api/auth/logout", **COOKIE_HEADERS)

    assert response.status_code == 204
    assert response.cookies[settings.REFRESH_COOKIE_NAME]["max-age"] == 0


def test_logout_all_revokes_every_session_of_the_user_only(client, owner, second_user):
    first, second = login(client, "owner"), login(type(client)(), "owner")
    login(type(client)(), "second")
    access = first.json()["access"]

    response = post_json(client, "/api/auth/logout-all", Authorization=f"Bearer {access}")

    assert response.status_code == 204
    assert not TokenFamily.objects.filter(user=owner, revoked_at=None).exists()
    assert TokenFamily.objects.filter(user=second_user, revoked_at=None).count() == 1
    for session in (first, second):
        other = type(client)()
        other.cookies[settings.REFRESH_COOKIE_NAME] = refresh_cookie(session)
        assert refresh(other).json()["code"] == "token_not_valid"


def test_logout_all_needs_a_bearer_token_not_an_api_key(client, owner, owner_key):
    login(client, "owner")
    response = post_json(client, "/api/auth/logout-all", **{"X-API-Key": owner_key[1]})
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert TokenFamily.objects.filter(user=owner, revoked_at=None).count() == 1


def test_deactivated_user_gets_user_inactive_for_access_and_refresh(client, logged_in, owner):
    access = logged_in.json()["access"]
    owner.is_active = False  # as the admin checkbox does: no service involved
    owner.save()

    denied = me(client, access)
    assert denied.status_code == 401
    assert denied.json()["code"] == "user_inactive"
    assert denied["WWW-Authenticate"] == 'Bearer realm="api"'
    response = refresh(client)
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"
    assert TokenFamily.objects.get(user=owner).revoke_reason == RevokeReason.DEACTIVATED


def test_user_deactivate_service_revokes_sessions(owner):
    sessions.token_family_start(user=owner)
    services.user_deactivate(user=owner)
    assert TokenFamily.objects.get(user=owner).revoke_reason == RevokeReason.DEACTIVATED


def test_password_change_through_the_service_revokes_every_refresh_token(client, logged_in, owner):
    services.user_password_change(user=owner, password="another-long-password-77")

    assert TokenFamily.objects.get(user=owner).revoke_reason == RevokeReason.PASSWORD_CHANGE
    assert refresh(client).json()["code"] == "token_not_valid"


def test_password_changed_by_any_other_path_still_ends_the_session(client, logged_in, owner):
    owner.set_password("changed-in-the-shell-99")  # e.g. manage.py changepassword
    owner.save()

    response = refresh(client)

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert TokenFamily.objects.get(user=owner).revoke_reason == RevokeReason.PASSWORD_CHANGE


def test_tokens_of_a_deleted_user_are_rejected(client, logged_in, owner):
    access = logged_in.json()["access"]
    owner.delete()

    assert me(client, access).json()["code"] == "token_not_valid"
    response = refresh(client)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_access_token_in_the_refresh_cookie_is_rejected(client, logged_in, owner):
    client.cookies[settings.REFRESH_COOKIE_NAME] = logged_in.json()["access"]
    response = refresh(client)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert TokenFamily.objects.get(user=owner).rotations == 0


def test_me_returns_the_user_for_a_bearer_token(client, logged_in, owner):
    response = me(client, logged_in.json()["access"])
    assert response.status_code == 200
    assert response.json() == {
        "id": owner.pk,
        "username": "owner",
        "email": "owner@example.com",
        "is_staff": False,
        "email_verified": False,
    }


def test_trailing_slash_variants_are_404_not_500(client, owner):
    for path in ("/api/auth/token/", "/api/auth/me/", "/api/keys/"):
        response = client.post(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_wrong_method_is_405_with_a_code(client):
    response = client.get("/api/auth/token")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
