"""Admin: keys created with the plaintext shown once, revoke actions, sessions, staff only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts import api_key_services, apikeys, sessions
from accounts.models import ApiKey, RevokeReason, TokenFamily

pytestmark = pytest.mark.django_db

KEY_RE = re.compile(r"sk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_admin_creates_a_key_and_shows_the_plaintext_once(admin_client, owner):
    response = admin_client.post(
        reverse("admin:accounts_apikey_add"),
        {"user": owner.pk, "name": "from admin", "scopes": ["chat", "keys:read"]},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = KEY_RE.search(response.content.decode()).group(0)
    key = ApiKey.objects.get()
    assert key.user == owner and key.name == "from admin"
    assert sorted(key.scopes) == ["chat", "keys:read"]
    assert key.digest == apikeys.digest(plaintext)
    change = admin_client.get(reverse("admin:accounts_apikey_change", args=[key.pk]))
    listing = admin_client.get(reverse("admin:accounts_apikey_changelist"))
    for page in (change, listing):
        assert page.status_code == 200
        assert plaintext not in page.content.decode()
        assert key.prefix in page.content.decode()


def test_admin_revoke_action_revokes_selected_keys(admin_client, owner):
    key, _ = api_key_services.api_key_create(user=owner, name="k")
    response = admin_client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


@pytest.mark.parametrize("query", ["revoked=yes", "expired=no", "q=", "user__id__exact=1"])
def test_api_key_list_filters_and_search_work(admin_client, owner, query):
    key, _ = api_key_services.api_key_create(user=owner, name="findme")
    url = reverse("admin:accounts_apikey_changelist")
    response = admin_client.get(f"{url}?{query}")
    assert response.status_code == 200
    by_prefix = admin_client.get(f"{url}?q={key.prefix}")
    assert "findme" in by_prefix.content.decode()


def test_user_page_lists_keys_inline(admin_client, owner):
    key, _ = api_key_services.api_key_create(user=owner, name="inline-key")
    response = admin_client.get(reverse("admin:accounts_user_change", args=[owner.pk]))
    assert response.status_code == 200
    assert "inline-key" in response.content.decode()
    assert key.prefix in response.content.decode()


def test_revoke_all_sessions_action_ends_the_users_sessions(admin_client, owner, second_user):
    sessions.token_family_start(user=owner)
    sessions.token_family_start(user=owner)
    sessions.token_family_start(user=second_user)

    response = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "revoke_all_sessions", "_selected_action": [owner.pk]},
    )

    assert response.status_code == 302
    assert set(TokenFamily.objects.filter(user=owner).values_list("revoke_reason", flat=True)) == {
        RevokeReason.ADMIN
    }
    assert TokenFamily.objects.get(user=second_user).revoked_at is None


def test_admin_password_change_revokes_sessions(admin_client, owner):
    sessions.token_family_start(user=owner)
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[owner.pk]),
        {"password1": "brand-new-password-42", "password2": "brand-new-password-42"},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("brand-new-password-42")
    assert TokenFamily.objects.get(user=owner).revoke_reason == RevokeReason.PASSWORD_CHANGE


@pytest.mark.parametrize(
    "name",
    [
        "admin:token_blacklist_outstandingtoken_changelist",
        "admin:token_blacklist_blacklistedtoken_changelist",
        "admin:accounts_tokenfamily_changelist",
    ],
)
def test_token_pages_are_there_for_staff(admin_client, owner, name):
    sessions.token_family_start(user=owner)
    assert admin_client.get(reverse(name)).status_code == 200


def test_non_staff_users_are_sent_to_the_admin_login(client, owner):
    from tests.conftest import PASSWORD

    client.login(username="owner", password=PASSWORD)
    response = client.get(reverse("admin:accounts_apikey_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --------------------------------------------------------------------------
# The admin login: the API's login limits and audit log
# --------------------------------------------------------------------------


def admin_login(client, username: str, password: str, **extra):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password}, **extra
    )


def test_admin_login_is_throttled_with_a_429_page(client, admin_user):
    for _ in range(5):
        response = admin_login(client, "admin", "wrong")
        assert response.status_code == 200  # the form again, with its error

    blocked = admin_login(client, "admin", "password")

    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) >= 1
    assert "Too many attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    # The same counters as the API's login.
    from tests.accounts.conftest import login

    assert login(client, "admin", "password").status_code == 429


def test_an_admin_guesser_elsewhere_does_not_lock_the_admin_out(client, admin_user):
    for _ in range(6):
        admin_login(client, "admin", "wrong", REMOTE_ADDR="203.0.113.9")

    response = admin_login(client, "admin", "password")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin_user.pk)


def test_a_right_admin_password_does_not_count(client, admin_user):
    for _ in range(6):
        assert admin_login(client, "admin", "password").status_code == 302
        client.logout()
    for _ in range(4):
        admin_login(client, "admin", "wrong")
    assert admin_login(client, "admin", "password").status_code == 302


def test_admin_login_failures_and_successes_reach_the_audit_log(client, admin_user, owner, caplog):
    import logging

    from tests.conftest import PASSWORD

    caplog.set_level(logging.INFO, logger="accounts.audit")
    admin_login(client, "admin", "wrong-secret")
    admin_login(client, "owner", PASSWORD)  # right password, not staff
    admin_login(client, "admin", "password")

    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "accounts.audit")
    assert "admin login failed username='admin' ip=127.0.0.1" in text
    assert "admin login failed username='owner' ip=127.0.0.1" in text
    assert f"admin login user_id={admin_user.pk} ip=127.0.0.1" in text
    assert "wrong-secret" not in text and PASSWORD not in text
