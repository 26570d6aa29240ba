"""TOTP two-factor: setup (/api/auth/mfa/totp, /confirm), the login's second step
(/api/auth/token/mfa), replay and recovery codes, limits, removal."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

import pyotp
import pytest
from django.conf import settings
from django.utils import timezone

from accounts import services
from accounts.models import MfaChallenge, RecoveryCode, TokenFamily, TotpDevice
from tests.accounts.conftest import login, post_json, refresh_cookie
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db

TOTP = "/api/auth/mfa/totp"
CONFIRM = "/api/auth/mfa/totp/confirm"
TOKEN_MFA = "/api/auth/token/mfa"


def code_at(secret: str, steps_ahead: int = 0) -> str:
    """The code for the current 30-second step, or one a step or more ahead."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def begin(client, user, password: str = PASSWORD):
    return post_json(client, TOTP, {"current_password": password}, **bearer(user))


def enable(client, user) -> tuple[str, list[str]]:
    """TOTP on for ``user``: its secret and recovery codes. The confirming code used
    the current step, so the next code a test may use is one step ahead."""
    secret = begin(client, user).json()["secret"]
    response = post_json(client, CONFIRM, {"code": code_at(secret)}, **bearer(user))
    assert response.status_code == 200, response.content
    return secret, response.json()["recovery_codes"]


def mfa_login(client, username: str = "owner") -> str:
    response = login(client, username)
    assert response.status_code == 200, response.content
    assert response.json()["mfa_required"] is True
    return response.json()["mfa_token"]


def second_step(client, mfa_token: str, code: str):
    return post_json(client, TOKEN_MFA, {"mfa_token": mfa_token, "code": code})


# --------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------


def test_setup_returns_a_pending_secret_its_url_and_a_qr_code(client, owner):
    response = begin(client, owner)

    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"secret", "otpauth_url", "qr_svg"}
    assert len(body["secret"]) == 32
    parsed = pyotp.parse_uri(body["otpauth_url"])
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == body["secret"]
    assert (parsed.digits, parsed.interval) == (6, 30)
    assert parsed.issuer == settings.SITE_NAME and parsed.name == "owner"
    assert body["qr_svg"].startswith("data:image/svg+xml")
    device = TotpDevice.objects.get(user=owner)
    assert device.confirmed_at is None
    status = client.get(TOTP, headers=bearer(owner)).json()
    assert status == {"enabled": False, "pending": True, "recovery_codes_remaining": 0}
    # Pending is not on: the login still gives a session at once.
    assert "access" in login(client, "owner").json()


def test_setup_needs_the_right_password(client, owner):
    response = begin(client, owner, "wrong-password")

    assert response.status_code == 403
    assert response.json()["code"] == "invalid_credentials"
    assert not TotpDevice.objects.filter(user=owner).exists()


def test_confirm_turns_totp_on_and_shows_ten_recovery_codes_stored_hashed(client, owner):
    secret = begin(client, owner).json()["secret"]

    response = post_json(client, CONFIRM, {"code": code_at(secret)}, **bearer(owner))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    codes = response.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=owner).values_list("digest", flat=True))
    assert stored == {hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in codes}
    assert not any(code.replace("-", "") in digest for code in codes for digest in stored)
    assert TotpDevice.objects.get(user=owner).confirmed_at is not None
    status = client.get(TOTP, headers=bearer(owner)).json()
    assert status == {"enabled": True, "pending": False, "recovery_codes_remaining": 10}


def test_confirm_with_a_wrong_code_is_403_and_totp_stays_off(client, owner):
    secret = begin(client, owner).json()["secret"]
    wrong = f"{(int(code_at(secret)) + 1) % 1_000_000:06d}"

    response = post_json(client, CONFIRM, {"code": wrong}, **bearer(owner))

    assert response.status_code == 403
    assert response.json()["code"] == "invalid_code"
    assert TotpDevice.objects.get(user=owner).confirmed_at is None
    assert not RecoveryCode.objects.filter(user=owner).exists()


def test_confirm_without_a_pending_setup_is_409(client, owner):
    response = post_json(client, CONFIRM, {"code": "123456"}, **bearer(owner))
    assert response.status_code == 409
    assert response.json()["code"] == "mfa_not_pending"


def test_a_second_setup_while_on_is_409_and_keeps_the_secret(client, owner):
    secret, _ = enable(client, owner)

    response = begin(client, owner)

    assert response.status_code == 409
    assert response.json()["code"] == "mfa_already_enabled"
    assert TotpDevice.objects.get(user=owner).secret == secret


def test_a_device_is_per_user(client, owner, second_user):
    enable(client, owner)
    status = client.get(TOTP, headers=bearer(second_user)).json()
    assert status == {"enabled": False, "pending": False, "recovery_codes_remaining": 0}
    assert "access" in login(client, "second").json()


# --------------------------------------------------------------------------
# Login
# --------------------------------------------------------------------------


def test_with_totp_on_the_password_gives_an_mfa_token_and_no_session(client, owner):
    enable(client, owner)

    response = login(client, "owner")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"mfa_required", "mfa_token"}
    assert body["mfa_required"] is True
    assert refresh_cookie(response) is None
    assert not TokenFamily.objects.filter(user=owner).exists()
    challenge = MfaChallenge.objects.get(user=owner)
    assert challenge.digest == hashlib.sha256(body["mfa_token"].encode()).hexdigest()
    assert timedelta(minutes=4) < challenge.expires_at - timezone.now() <= timedelta(minutes=5)


def test_a_wrong_password_with_totp_on_is_the_usual_401(client, owner):
    enable(client, owner)
    response = login(client, "owner", "wrong-password")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert not MfaChallenge.objects.exists()


def test_the_mfa_token_and_a_code_give_the_normal_login_answer(client, owner):
    secret, _ = enable(client, owner)
    mfa_token = mfa_login(client)

    response = second_step(client, mfa_token, code_at(secret, 1))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "access_expires_at", "user"}
    assert body["user"]["username"] == "owner"
    assert refresh_cookie(response)
    assert TokenFamily.objects.filter(user=owner, revoked_at__isnull=True).count() == 1
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access']}"})
    assert me.status_code == 200


def test_the_code_that_confirmed_the_setup_cannot_log_in(client, owner):
    secret = begin(client, owner).json()["secret"]
    code = code_at(secret)
    post_json(client, CONFIRM, {"code": code}, **bearer(owner))

    response = second_step(client, mfa_login(client), code)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_code"


def test_a_totp_code_is_accepted_once(client, owner):
    secret, _ = enable(client, owner)
    code = code_at(secret, 1)
    assert second_step(client, mfa_login(client), code).status_code == 200

    replayed = second_step(client, mfa_login(client), code)

    assert replayed.status_code == 401
    assert replayed.json()["code"] == "invalid_code"
    assert TokenFamily.objects.filter(user=owner).count() == 1


def test_an_older_step_is_refused_after_a_newer_one(client, owner):
    secret, _ = enable(client, owner)
    assert second_step(client, mfa_login(client), code_at(secret, 1)).status_code == 200
    # The confirming step was now - so it is older still; now+1 was used: nothing earlier works.
    assert second_step(client, mfa_login(client), code_at(secret, 0)).status_code == 401


def test_a_code_more_than_a_step_away_is_refused(client, owner):
    secret, _ = enable(client, owner)
    response = second_step(client, mfa_login(client), code_at(secret, 3))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_code"


def test_an_mfa_token_works_once(client, owner):
    secret, _ = enable(client, owner)
    mfa_token = mfa_login(client)
    assert second_step(client, mfa_token, code_at(secret, 1)).status_code == 200

    again = second_step(client, mfa_token, code_at(secret, 1))

    assert again.status_code == 401
    assert again.json()["code"] == "mfa_token_invalid"


def test_an_expired_mfa_token_is_refused(client, owner):
    secret, _ = enable(client, owner)
    mfa_token = mfa_login(client)
    MfaChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = second_step(client, mfa_token, code_at(secret, 1))

    assert response.status_code == 401
    assert response.json()["code"] == "mfa_token_invalid"
    assert not TokenFamily.objects.filter(user=owner).exists()
    # The code was not spent by the refused attempt.
    assert second_step(client, mfa_login(client), code_at(secret, 1)).status_code == 200


def test_an_unknown_mfa_token_is_refused(client, owner):
    secret, _ = enable(client, owner)
    response = second_step(client, "not-a-real-token", code_at(secret, 1))
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_token_invalid"
    assert response["WWW-Authenticate"]


def test_a_wrong_code_keeps_the_mfa_token_usable_for_a_retry(client, owner):
    secret, _ = enable(client, owner)
    mfa_token = mfa_login(client)

    wrong = second_step(client, mfa_token, "000000" if code_at(secret, 1) != "000000" else "111111")

    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_code"
    assert second_step(client, mfa_token, code_at(secret, 1)).status_code == 200


def test_wrong_codes_are_throttled_like_failed_logins(client, owner):
    enable(client, owner)
    mfa_token = mfa_login(client)
    for _ in range(5):
        assert second_step(client, mfa_token, "abcdefgh").json()["code"] == "invalid_code"

    throttled = second_step(client, mfa_token, "abcdefgh")

    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    # The same limit as the password: the username is locked out for a while.
    assert login(client, "owner").status_code == 429


def test_an_mfa_token_dies_after_five_wrong_codes(client, owner, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "login_failures_username": "100/min",
            "login_failures_username_ip": "100/min",
        },
    }
    secret, _ = enable(client, owner)
    mfa_token = mfa_login(client)
    for _ in range(5):
        second_step(client, mfa_token, "abcdefgh")

    response = second_step(client, mfa_token, code_at(secret, 1))

    assert response.status_code == 401
    assert response.json()["code"] == "mfa_token_invalid"


def test_a_recovery_code_logs_in_once(client, owner, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    _, codes = enable(client, owner)

    first = second_step(client, mfa_login(client), codes[3].upper().replace("-", " "))
    again = second_step(client, mfa_login(client), codes[3])

    assert first.status_code == 200
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_code"
    assert client.get(TOTP, headers=bearer(owner)).json()["recovery_codes_remaining"] == 9
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "accounts.audit")
    assert f"recovery code used user_id={owner.pk} remaining=9" in text
    assert codes[3] not in text


def test_another_users_recovery_code_does_not_work(client, owner, second_user):
    enable(client, owner)
    _, their_codes = enable(client, second_user)
    response = second_step(client, mfa_login(client), their_codes[0])
    assert response.status_code == 401


def test_an_inactive_user_cannot_finish_the_login(client, owner):
    secret, _ = enable(client, owner)
    mfa_token = mfa_login(client)
    services.user_deactivate(user=owner)
    response = second_step(client, mfa_token, code_at(secret, 1))
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_token_invalid"


# --------------------------------------------------------------------------
# Removal
# --------------------------------------------------------------------------


def disable(client, user, password: str, code: str):
    return client.delete(
        TOTP,
        data={"current_password": password, "code": code},
        content_type="application/json",
        headers=bearer(user),
    )


def test_disable_needs_the_password_and_a_code(client, owner, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    secret, _ = enable(client, owner)

    wrong_password = disable(client, owner, "wrong-password", code_at(secret, 1))
    wrong_code = disable(client, owner, PASSWORD, "12345")
    done = disable(client, owner, PASSWORD, code_at(secret, 1))

    assert (wrong_password.status_code, wrong_password.json()["code"]) == (
        403,
        "invalid_credentials",
    )
    assert (wrong_code.status_code, wrong_code.json()["code"]) == (403, "invalid_code")
    assert done.status_code == 204
    assert not TotpDevice.objects.filter(user=owner).exists()
    assert not RecoveryCode.objects.filter(user=owner).exists()
    assert "access" in login(client, "owner").json()
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "accounts.audit")
    assert f"mfa enabled user_id={owner.pk}" in text
    assert f"mfa disabled user_id={owner.pk}" in text


def test_disable_accepts_a_recovery_code(client, owner):
    _, codes = enable(client, owner)
    assert disable(client, owner, PASSWORD, codes[0]).status_code == 204


def test_disable_when_off_is_409(client, owner):
    response = disable(client, owner, PASSWORD, "123456")
    assert response.status_code == 409
    assert response.json()["code"] == "mfa_not_enabled"


# --------------------------------------------------------------------------
# Bad input and credentials
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("post", TOTP, "{oops", id="setup-malformed"),
        pytest.param("post", TOTP, {}, id="setup-missing"),
        pytest.param("post", TOTP, {"current_password": 123}, id="setup-int"),
        pytest.param("post", CONFIRM, [], id="confirm-array"),
        pytest.param("post", CONFIRM, {"code": 123456}, id="confirm-int"),
        pytest.param("post", CONFIRM, {"code": None}, id="confirm-null"),
        pytest.param("delete", TOTP, {"current_password": PASSWORD}, id="disable-missing-code"),
        pytest.param("delete", TOTP, {"current_password": PASSWORD, "code": 1}, id="disable-int"),
        pytest.param("post", TOKEN_MFA, "{oops", id="login-malformed"),
        pytest.param("post", TOKEN_MFA, {"mfa_token": "x"}, id="login-missing-code"),
        pytest.param("post", TOKEN_MFA, {"mfa_token": 1, "code": "123456"}, id="login-int"),
        pytest.param("post", TOKEN_MFA, {"mfa_token": "x" * 500, "code": "1"}, id="login-long"),
    ],
)
def test_bad_input_is_400(client, owner, method, path, body):
    import json

    data = body if isinstance(body, str) else json.dumps(body)
    headers = {} if path == TOKEN_MFA else bearer(owner)
    response = getattr(client, method)(
        path, data=data, content_type="application/json", headers=headers
    )

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "parse_error"}
    assert not TotpDevice.objects.filter(user=owner).exists()


@pytest.mark.parametrize("path", [TOTP, CONFIRM])
def test_setup_endpoints_need_a_bearer_token_and_refuse_api_keys(client, owner, owner_key, path):
    _, plaintext = owner_key
    anonymous = post_json(client, path, {"current_password": PASSWORD, "code": "1"})
    with_key = post_json(
        client, path, {"current_password": PASSWORD, "code": "1"}, **{"X-API-Key": plaintext}
    )

    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert with_key.status_code == 403
    assert with_key.json()["code"] == "insufficient_scope"
