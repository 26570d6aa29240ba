"""POST /api/auth/password/reset and /reset/confirm: the same answer for every
address, links through Django's email framework, once, expiring, every session ended."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator

from accounts import emails
from accounts.models import TokenFamily
from tests.accounts.conftest import login, post_json, refresh
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

RESET = "/api/auth/password/reset"
CONFIRM = "/api/auth/password/reset/confirm"
NEW_PASSWORD = "a-brand-new-passphrase-77"
LINK = re.compile(r"(\S+)/reset-password\?uid=([^&\s]+)&token=(\S+)")


def sent(mailoutbox) -> list:
    emails.wait_for_sent()
    return list(mailoutbox)


def reset_link(message) -> tuple[str, str, str]:
    match = LINK.search(message.body)
    assert match is not None, message.body
    return match.group(1), match.group(2), match.group(3)


def request_reset(client, email: str, **headers):
    return post_json(client, RESET, {"email": email}, **headers)


def test_a_known_address_gets_a_link_to_the_frontend(client, owner, mailoutbox, settings):
    settings.FRONTEND_ORIGIN = "https://chat.example.com"

    response = request_reset(client, "OWNER@example.com")

    assert response.status_code == 202
    assert response.content == b""
    [message] = sent(mailoutbox)
    assert message.to == ["owner@example.com"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert "\n" not in message.subject and "password" in message.subject.lower()
    origin, uid, token = reset_link(message)
    assert origin == "https://chat.example.com"
    assert uid == emails.uid_of(owner.pk)
    assert default_token_generator.check_token(owner, token)
    assert "&amp;" not in message.body  # a plain-text email: no HTML escaping


def test_under_debug_without_frontend_origin_the_link_uses_the_requests_origin(
    client, owner, mailoutbox
):
    request_reset(client, "owner@example.com", Origin="http://localhost:5173")
    request_reset(client, "owner@example.com")

    first, second = sent(mailoutbox)
    assert reset_link(first)[0] == "http://localhost:5173"
    assert reset_link(second)[0] == "http://testserver"


def test_without_frontend_origin_in_production_nothing_is_sent(client, owner, mailoutbox, settings):
    settings.FRONTEND_ORIGIN = None
    settings.FRONTEND_ORIGIN_FROM_REQUEST = False  # what DEBUG off sets

    response = request_reset(client, "owner@example.com", Origin="https://evil.example")

    assert response.status_code == 503
    assert response.json()["code"] == "email_not_configured"
    assert sent(mailoutbox) == []


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, owner, mailoutbox):
    known = request_reset(client, "owner@example.com")
    unknown = request_reset(client, "nobody@example.com")

    assert (unknown.status_code, unknown.content) == (known.status_code, known.content)
    assert [m.to for m in sent(mailoutbox)] == [["owner@example.com"]]


def test_inactive_users_and_users_without_a_usable_password_get_no_email(
    client, owner, second_user, mailoutbox
):
    owner.is_active = False
    owner.save()
    second_user.set_unusable_password()
    second_user.save()

    assert request_reset(client, "owner@example.com").status_code == 202
    assert request_reset(client, "second@example.com").status_code == 202
    assert sent(mailoutbox) == []


def test_every_account_with_the_address_gets_its_own_link(client, owner, second_user, mailoutbox):
    second_user.email = "OWNER@example.com"
    second_user.save()

    request_reset(client, "owner@example.com")

    uids = {reset_link(m)[1] for m in sent(mailoutbox)}
    assert len(uids) == 2


def test_requests_are_throttled_per_address_whether_or_not_it_exists(client, owner):
    for address in ("owner@example.com", "nobody@example.com"):
        for _ in range(3):
            assert request_reset(client, address).status_code == 202
        throttled = request_reset(client, address)
        assert throttled.status_code == 429
        assert throttled.json()["code"] == "throttled"
        assert int(throttled["Retry-After"]) >= 1


def test_requests_are_throttled_per_ip(client):
    for number in range(10):
        assert request_reset(client, f"user{number}@example.com").status_code == 202
    assert request_reset(client, "another@example.com").status_code == 429


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("{not json", id="malformed"),
        pytest.param([], id="array"),
        pytest.param({}, id="missing"),
        pytest.param({"email": 123}, id="number"),
        pytest.param({"email": ["owner@example.com"]}, id="list"),
        pytest.param({"email": "not-an-address"}, id="not-an-address"),
    ],
)
def test_bad_reset_requests_are_400_and_send_nothing(client, owner, mailoutbox, body):
    response = post_json(client, RESET, body)

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "parse_error"}
    assert sent(mailoutbox) == []


# --------------------------------------------------------------------------
# Confirm
# --------------------------------------------------------------------------


def link_for(client, mailoutbox, address: str = "owner@example.com") -> dict[str, str]:
    assert request_reset(client, address).status_code == 202
    _, uid, token = reset_link(sent(mailoutbox)[-1])
    return {"uid": uid, "token": token}


def test_confirm_sets_the_password_and_ends_every_session(client, owner, mailoutbox):
    assert login(client, "owner").status_code == 200  # a session, cookie in the client
    link = link_for(client, mailoutbox)

    response = post_json(client, CONFIRM, {**link, "new_password": NEW_PASSWORD})

    assert response.status_code == 204
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert not TokenFamily.objects.filter(user=owner, revoked_at__isnull=True).exists()
    assert refresh(client).status_code == 401
    assert login(client, "owner", PASSWORD).status_code == 401
    assert login(client, "owner", NEW_PASSWORD).status_code == 200


def test_a_link_works_once(client, owner, mailoutbox):
    link = link_for(client, mailoutbox)
    assert post_json(client, CONFIRM, {**link, "new_password": NEW_PASSWORD}).status_code == 204

    again = post_json(client, CONFIRM, {**link, "new_password": "yet-another-passphrase-88"})

    assert again.status_code == 400
    assert again.json()["code"] == "reset_token_invalid"
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_an_expired_link_is_refused(client, owner, settings):
    class TwoHoursAgo(PasswordResetTokenGenerator):
        def _now(self) -> datetime:
            return datetime.now() - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)

    link = {"uid": emails.uid_of(owner.pk), "token": TwoHoursAgo().make_token(owner)}

    response = post_json(client, CONFIRM, {**link, "new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert response.json()["code"] == "reset_token_invalid"
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_a_link_for_one_user_does_not_reset_another(client, owner, second_user, mailoutbox):
    link = link_for(client, mailoutbox)
    forged = {"uid": emails.uid_of(second_user.pk), "token": link["token"]}

    response = post_json(client, CONFIRM, {**forged, "new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert response.json()["code"] == "reset_token_invalid"
    second_user.refresh_from_db()
    assert second_user.check_password(PASSWORD)


def test_a_weak_password_is_400_with_field_messages_and_the_link_still_works(
    client, owner, mailoutbox
):
    link = link_for(client, mailoutbox)

    weak = post_json(client, CONFIRM, {**link, "new_password": "123"})

    assert weak.status_code == 400
    assert weak.json()["code"] == "invalid"
    assert weak.json()["errors"]["new_password"]
    assert post_json(client, CONFIRM, {**link, "new_password": NEW_PASSWORD}).status_code == 204


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param("{not json", "parse_error", id="malformed"),
        pytest.param({"uid": "x", "token": "y"}, "invalid", id="missing-password"),
        pytest.param({"uid": 1, "token": "y", "new_password": NEW_PASSWORD}, "invalid", id="int-uid"),
        pytest.param({"uid": "!!", "token": "y", "new_password": NEW_PASSWORD}, "reset_token_invalid", id="bad-uid"),
        pytest.param({"uid": "MTIzNDU2Nzg5", "token": "y", "new_password": NEW_PASSWORD}, "reset_token_invalid", id="unknown-user"),
        pytest.param({"uid": "MQ", "token": "not-a-token", "new_password": NEW_PASSWORD}, "reset_token_invalid", id="bad-token"),
        pytest.param({"uid": "MQ", "token": "x" * 200, "new_password": NEW_PASSWORD}, "invalid", id="long-token"),
    ],
)  # fmt: skip
def test_bad_confirmations_are_400(client, owner, body, code):
    response = post_json(client, CONFIRM, body)

    assert response.status_code == 400
    assert response.json()["code"] == code
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_confirmations_are_throttled_per_ip(client, owner):
    body = {"uid": emails.uid_of(owner.pk), "token": "1-2", "new_password": NEW_PASSWORD}
    for _ in range(30):
        assert post_json(client, CONFIRM, body).status_code == 400
    assert post_json(client, CONFIRM, body).status_code == 429


def test_reset_is_audited_without_the_token_or_password(client, owner, mailoutbox, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    link = link_for(client, mailoutbox)
    request_reset(client, "nobody@example.com")
    post_json(client, CONFIRM, {**link, "new_password": NEW_PASSWORD})

    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "accounts.audit")
    assert f"password reset requested user_id={owner.pk} ip=127.0.0.1" in text
    assert "password reset requested for no account ip=127.0.0.1" in text
    assert f"password reset user_id={owner.pk}" in text
    assert "nobody@example.com" not in text
    for secret in (link["token"], NEW_PASSWORD):
        assert secret not in text
