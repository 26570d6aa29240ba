"""Audit log: who, where, which key prefix; never a password, token or full key."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings

from tests.accounts.conftest import login, post_json, refresh, refresh_cookie
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db


def audit_text(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "accounts.audit")


def test_security_events_are_logged_without_secrets(client, owner, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")

    login(client, "owner", "wrong-password-secret")
    ok = login(client, "owner")
    stolen = refresh_cookie(ok)
    rotated = refresh(client)
    client.cookies[settings.REFRESH_COOKIE_NAME] = stolen
    refresh(client)
    created = post_json(
        client, "/api/keys", {"name": "k", "password": PASSWORD}, **bearer(owner)
    ).json()
    client.delete(f"/api/keys/{created['id']}", headers=bearer(owner))

    text = audit_text(caplog)
    assert "login failed username='owner' ip=127.0.0.1" in text
    assert "reuse detected" in text
    assert f"api key created user_id={owner.pk} prefix={created['prefix']}" in text
    assert f"api key revoked user_id={owner.pk} prefix={created['prefix']}" in text
    for secret in (
        PASSWORD,
        "wrong-password-secret",
        stolen,
        refresh_cookie(rotated),
        ok.json()["access"],
        created["key"],
        created["key"].split("_", 2)[2],
    ):
        assert secret is not None and secret not in text


def test_log_lines_cannot_be_forged_with_newlines_in_the_username(client, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    login(client, "eve\nINFO accounts.audit login user_id=1", "x")
    assert "\n" not in audit_text(caplog)
