"""Email verification (REQUIRE_EMAIL_VERIFICATION=1): registration emails a link,
/api/auth/email/verify confirms it once, unverified users log in but cannot chat
(/api/chat, /api/runs, the WebSocket: 403 email_unverified), resend is throttled."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from accounts import emails
from accounts.verification import verification_tokens
from tests.accounts.conftest import login, post_json
from tests.conftest import PASSWORD, bearer

REGISTER = "/api/auth/register"
VERIFY = "/api/auth/email/verify"
RESEND = "/api/auth/email/verify/resend"
LINK = re.compile(r"(\S+)/verify-email\?uid=([^&\s]+)&token=(\S+)")


def verify_link(body: str) -> dict[str, str]:
    match = LINK.search(body)
    assert match is not None, body
    return {"uid": match.group(2), "token": match.group(3)}


@pytest.fixture
def required(settings):
    settings.REQUIRE_EMAIL_VERIFICATION = True
    return settings


def outbox(mailoutbox) -> list:
    emails.wait_for_sent()
    return list(mailoutbox)


def register(client, username: str = "newbie", email: str | None = "newbie@example.com"):
    body = {"username": username, "password": PASSWORD}
    if email is not None:
        body["email"] = email
    return post_json(client, REGISTER, body)


@pytest.mark.django_db
def test_registration_emails_a_verification_link(client, required, mailoutbox, django_user_model):
    response = register(client)

    assert response.status_code == 201
    [message] = outbox(mailoutbox)
    assert message.to == ["newbie@example.com"]
    link = verify_link(message.body)
    user = django_user_model.objects.get(username="newbie")
    assert link["uid"] == emails.uid_of(user.pk)
    assert not user.email_verified
    token = login(client, "newbie").json()["access"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["email_verified"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("email", [None, ""])
def test_registration_without_an_address_is_400_when_verification_is_required(
    client, required, mailoutbox, django_user_model, email
):
    response = register(client, email=email)

    assert response.status_code == 400
    assert response.json()["errors"]["email"]
    assert not django_user_model.objects.filter(username="newbie").exists()
    assert outbox(mailoutbox) == []


@pytest.mark.django_db
def test_without_the_setting_registration_sends_nothing(client, mailoutbox):
    assert register(client, email=None).status_code == 201
    assert register(client, "other", "other@example.com").status_code == 201
    assert outbox(mailoutbox) == []


@pytest.mark.django_db
def test_the_link_verifies_the_address_once(client, required, mailoutbox, django_user_model):
    register(client)
    link = verify_link(outbox(mailoutbox)[0].body)

    first = post_json(client, VERIFY, link)
    again = post_json(client, VERIFY, link)

    assert first.status_code == 204
    assert again.status_code == 400
    assert again.json()["code"] == "verification_token_invalid"
    user = django_user_model.objects.get(username="newbie")
    assert user.email_verified and user.verified_email == "newbie@example.com"


@pytest.mark.django_db
def test_a_link_for_an_old_address_does_not_verify_the_new_one(client, owner):
    link = {"uid": emails.uid_of(owner.pk), "token": verification_tokens.make_token(owner)}
    owner.email = "new-address@example.com"
    owner.save()

    response = post_json(client, VERIFY, link)

    assert response.status_code == 400
    owner.refresh_from_db()
    assert not owner.email_verified


@pytest.mark.django_db
def test_changing_a_verified_address_makes_it_unverified(owner):
    owner.verified_email = owner.email
    assert owner.email_verified
    owner.email = "elsewhere@example.com"
    assert not owner.email_verified


@pytest.mark.django_db
def test_a_reset_token_is_not_a_verification_token(client, owner):
    from django.contrib.auth.tokens import default_token_generator

    link = {"uid": emails.uid_of(owner.pk), "token": default_token_generator.make_token(owner)}
    assert post_json(client, VERIFY, link).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param("{oops", "parse_error", id="malformed"),
        pytest.param({"uid": "MQ"}, "invalid", id="missing-token"),
        pytest.param({"uid": ["MQ"], "token": "x"}, "invalid", id="list"),
        pytest.param({"uid": "%%%", "token": "1-2"}, "verification_token_invalid", id="bad-uid"),
        pytest.param({"uid": "MQ", "token": "1-2"}, "verification_token_invalid", id="bad-token"),
    ],
)
def test_bad_verifications_are_400(client, owner, body, code):
    response = post_json(client, VERIFY, body)
    assert response.status_code == 400
    assert response.json()["code"] == code


@pytest.mark.django_db
def test_resend_sends_a_new_link_and_is_throttled(client, owner, mailoutbox):
    for _ in range(3):
        assert post_json(client, RESEND, None, **bearer(owner)).status_code == 202
    throttled = post_json(client, RESEND, None, **bearer(owner))

    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    sent = outbox(mailoutbox)
    assert len(sent) == 3 and all(m.to == ["owner@example.com"] for m in sent)
    assert post_json(client, VERIFY, verify_link(sent[-1].body)).status_code == 204


@pytest.mark.django_db
def test_resend_for_a_verified_address_or_none_is_refused(client, owner, second_user):
    owner.verified_email = owner.email
    owner.save()
    second_user.email = ""
    second_user.save()

    verified = post_json(client, RESEND, None, **bearer(owner))
    missing = post_json(client, RESEND, None, **bearer(second_user))

    assert (verified.status_code, verified.json()["code"]) == (409, "email_already_verified")
    assert (missing.status_code, missing.json()["code"]) == (400, "email_missing")


@pytest.mark.django_db
def test_resend_needs_a_bearer_token(client, owner, owner_key):
    _, plaintext = owner_key
    assert post_json(client, RESEND, None).status_code == 401
    with_key = post_json(client, RESEND, None, **{"X-API-Key": plaintext})
    assert with_key.status_code == 403
    assert post_json(client, RESEND, "[1]", **bearer(owner)).status_code == 400


@pytest.mark.django_db
def test_verification_is_audited(client, required, mailoutbox, caplog, django_user_model):
    import logging

    caplog.set_level(logging.INFO, logger="accounts.audit")
    register(client)
    link = verify_link(outbox(mailoutbox)[0].body)
    post_json(client, VERIFY, link)

    user = django_user_model.objects.get(username="newbie")
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "accounts.audit")
    assert f"email verification sent user_id={user.pk}" in text
    assert f"email verified user_id={user.pk}" in text
    assert link["token"] not in text


# --------------------------------------------------------------------------
# The chat paths, on a real server with the setting on
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _verifying_server(server_factory, tmp_path_factory):
    outbox_dir = tmp_path_factory.mktemp("emails")
    server = server_factory(
        REQUIRE_EMAIL_VERIFICATION="1",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox_dir),
        CHAT_DEMO_TOKEN_MS="0",
        THROTTLE_EMAIL_LINK_IP="1000/min",
    )
    return server, outbox_dir


@pytest.fixture
def verifying_server(_verifying_server, transactional_db):
    return _verifying_server


def wait_for_email(outbox_dir: Path, to: str) -> str:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for path in sorted(outbox_dir.glob("*.log")):
            text = path.read_text()
            if f"To: {to}" in text:
                return text
        time.sleep(0.05)
    raise AssertionError(f"no email to {to}")


def chat_refusals(url: str, access: str) -> list[tuple[int, str]]:
    headers = {"Authorization": f"Bearer {access}"}
    answers = []
    for path in ("/api/chat", "/api/runs"):
        response = httpx.post(f"{url}{path}", json={"message": "hi"}, headers=headers, timeout=10)
        answers.append((response.status_code, response.json()["code"]))
    return answers


def socket_close_code(url: str, access: str) -> int:
    ws_url = url.replace("http://", "ws://") + "/ws/chat"
    with connect(
        ws_url,
        origin=Origin(url),
        subprotocols=[Subprotocol("bearer"), Subprotocol(access)],
        open_timeout=5,
        proxy=None,
    ) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd is not None
    # Daphne does not pass the close reason on; the code says it: 4000 + HTTP status.
    return closed.value.rcvd.code


@pytest.mark.live
def test_unverified_users_log_in_but_cannot_chat_until_they_verify(verifying_server):
    server, outbox_dir = verifying_server
    url = server.url
    registered = httpx.post(
        f"{url}{REGISTER}",
        json={"username": "fresh", "password": PASSWORD, "email": "fresh@example.com"},
    )
    assert registered.status_code == 201
    link = verify_link(wait_for_email(outbox_dir, "fresh@example.com"))
    access = httpx.post(
        f"{url}/api/auth/token", json={"username": "fresh", "password": PASSWORD}
    ).json()["access"]

    assert chat_refusals(url, access) == [(403, "email_unverified"), (403, "email_unverified")]
    assert socket_close_code(url, access) == 4403

    assert httpx.post(f"{url}{VERIFY}", json=link).status_code == 204

    with httpx.stream(
        "POST",
        f"{url}/api/chat",
        json={"message": "hi"},
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    ) as stream:
        assert stream.status_code == 200
        body = "".join(stream.iter_text())
    assert body.rstrip().endswith("data: [DONE]")
    first = json.loads(body.split("\n", 1)[0].removeprefix("data: "))
    assert first["type"] == "conversation"
