"""TOTP two-factor authentication (RFC 6238: 30-second steps, 6 digits, ±1 step)
with pyotp, and one-time recovery codes.

- Setup: ``totp_begin`` (password required) makes a pending device and returns
  its secret as an ``otpauth://`` URL and a QR code; ``totp_confirm`` with a first
  valid code turns it on and returns 10 recovery codes, once. Only their SHA-256
  is stored: each has 80 random bits, so no slow hash is needed.
- Login: with a confirmed device, a right password gives no session but an
  ``mfa_token`` (``login_challenge``); ``challenge_complete`` exchanges it and a
  TOTP or recovery code for the normal session. The token lives 5 minutes, is
  stored as its SHA-256, works once, and dies after 5 wrong codes.
- Replay: a device remembers the last time step it accepted (``last_step``), and
  a code is accepted only for a later step, by one conditional ``UPDATE``; so a
  code seen over a shoulder or in a log cannot be used again, even concurrently.
- Wrong codes and wrong passwords count against the login limits of the user's
  username and of the client IP (``accounts.throttles``), like failed logins.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import pyotp
import segno
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from pyotp.exceptions import OTPVerificationError

from accounts import sessions, throttles
from accounts.models import MfaChallenge, RecoveryCode, TotpDevice, User
from chatproject.errors import ApiError

audit = logging.getLogger("accounts.audit")

VALID_WINDOW = 1  # steps either side of now: a clock 30 s off still works
RECOVERY_CODE_COUNT = 10
MFA_TOKEN_LIFETIME = timedelta(minutes=5)
MAX_CHALLENGE_FAILURES = 5
_TOTP_CODE = re.compile(r"^\d{6}$")
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: no 0/1/8/9 to misread
_RECOVERY_CODE = re.compile(r"^[a-z2-7]{16}$")

SecondFactor = Literal["totp", "recovery_code"]


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_url: str
    qr_svg: str  # a data: URI of the QR code of otpauth_url


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=6, interval=30)


def invalid_code(status: int) -> ApiError:
    return ApiError(status, "invalid_code", "Wrong or already used code.")


def mfa_token_invalid() -> ApiError:
    return ApiError(
        401, "mfa_token_invalid", "This sign-in step is invalid or has expired; sign in again."
    )


def confirmed_device(user: User) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def mfa_enabled(user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


# --------------------------------------------------------------------------
# Checking codes
# --------------------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def totp_accept(*, device: TotpDevice, code: str) -> bool:
    """True when ``code`` is right for a step later than the last one accepted; that
    step is then recorded, so the same code (or an older one) never works again."""
    code = _normalise(code)
    if not _TOTP_CODE.match(code):
        return False
    try:
        step = _totp(device.secret).verify_and_get_timecode(code, valid_window=VALID_WINDOW)
    except OTPVerificationError:
        return False
    accepted = TotpDevice.objects.filter(pk=device.pk, last_step__lt=step).update(last_step=step)
    if accepted:
        device.last_step = step
    return accepted == 1


def recovery_code_use(*, user: User, code: str) -> bool:
    """Spend one unused recovery code; True if ``code`` was one."""
    code = _normalise(code)
    if not _RECOVERY_CODE.match(code):
        return False
    used = RecoveryCode.objects.filter(
        user=user, digest=_digest(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    if used:
        remaining = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
        audit.warning("recovery code used user_id=%s remaining=%s", user.pk, remaining)
    return used == 1


def second_factor_check(*, user: User, code: str) -> SecondFactor | None:
    """Which second factor ``code`` is, if it is a valid one of the user's (spent now)."""
    device = confirmed_device(user)
    if device is None:
        return None
    if totp_accept(device=device, code=code):
        return "totp"
    if recovery_code_use(user=user, code=code):
        return "recovery_code"
    return None


# Every password or code check here is counted on the login limits *before* it is
# made (``throttles.login_attempt_begin``), so parallel guesses cannot pass the
# limit; a right answer gives the count back (``attempt.succeeded()``), a wrong
# one leaves it counted.


def _failure(*, user: User, ip: str, what: str) -> None:
    audit.warning("%s user_id=%s ip=%s", what, user.pk, ip)


def _password_check(*, user: User, password: str, ip: str) -> None:
    """403 ``invalid_credentials`` (not 401: the caller's token is fine) when wrong."""
    attempt = throttles.login_attempt_begin(username=user.get_username(), ip=ip)
    if not user.check_password(password):
        _failure(user=user, ip=ip, what="mfa change refused: wrong password")
        raise ApiError(403, "invalid_credentials", "Wrong password.")
    attempt.succeeded()


# --------------------------------------------------------------------------
# Setup and removal (Bearer endpoints)
# --------------------------------------------------------------------------


def _recovery_codes_new(*, user: User) -> list[str]:
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, digest=_digest(code)) for code in codes]
    )
    return ["-".join(code[i : i + 4] for i in range(0, 16, 4)) for code in codes]


def totp_begin(*, user: User, current_password: str, ip: str) -> TotpSetup:
    """A new pending device (replacing an earlier pending one); 409 when TOTP is on."""
    _password_check(user=user, password=current_password, ip=ip)
    if mfa_enabled(user):
        raise ApiError(409, "mfa_already_enabled", "Two-factor authentication is already on.")
    secret = pyotp.random_base32(length=32)
    TotpDevice.objects.update_or_create(
        user=user,
        defaults={
            "secret": secret,
            "confirmed_at": None,
            "last_step": 0,
            "created_at": timezone.now(),
        },
    )
    url = _totp(secret).provisioning_uri(name=user.get_username(), issuer_name=settings.SITE_NAME)
    qr = segno.make(url, error="m").svg_data_uri(scale=5, border=2)
    return TotpSetup(secret=secret, otpauth_url=url, qr_svg=qr)


def totp_confirm(*, user: User, code: str, ip: str) -> list[str]:
    """Turn a pending device on with its first code; returns the recovery codes."""
    attempt = throttles.login_attempt_begin(username=user.get_username(), ip=ip)
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        attempt.succeeded()  # no code was checked
        if mfa_enabled(user):
            raise ApiError(409, "mfa_already_enabled", "Two-factor authentication is already on.")
        raise ApiError(409, "mfa_not_pending", "Start the setup first (POST /api/auth/mfa/totp).")
    if not totp_accept(device=device, code=code):
        _failure(user=user, ip=ip, what="mfa confirm: wrong code")
        raise invalid_code(403)
    attempt.succeeded()
    with transaction.atomic():
        TotpDevice.objects.filter(pk=device.pk).update(confirmed_at=timezone.now())
        codes = _recovery_codes_new(user=user)
    audit.info("mfa enabled user_id=%s ip=%s", user.pk, ip)
    return codes


def totp_disable(*, user: User, current_password: str, code: str, ip: str) -> None:
    """Turn TOTP off: the password and a current code (or a recovery code) are needed."""
    if not mfa_enabled(user):
        raise ApiError(409, "mfa_not_enabled", "Two-factor authentication is not on.")
    _password_check(user=user, password=current_password, ip=ip)
    attempt = throttles.login_attempt_begin(username=user.get_username(), ip=ip)
    if second_factor_check(user=user, code=code) is None:
        _failure(user=user, ip=ip, what="mfa disable: wrong code")
        raise invalid_code(403)
    attempt.succeeded()
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        MfaChallenge.objects.filter(user=user).delete()
    audit.info("mfa disabled user_id=%s ip=%s", user.pk, ip)


def totp_reset_by_admin(*, user: User, admin_id: int | None) -> bool:
    """Turn a user's two-factor off for them (lost phone and recovery codes)."""
    with transaction.atomic():
        deleted, _ = TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        MfaChallenge.objects.filter(user=user).delete()
    if deleted:
        audit.warning("mfa disabled by an administrator user_id=%s admin_id=%s", user.pk, admin_id)
    return bool(deleted)


@dataclass(frozen=True)
class MfaStatus:
    enabled: bool
    pending: bool
    recovery_codes_remaining: int


def mfa_status(*, user: User) -> MfaStatus:
    device = TotpDevice.objects.filter(user=user).first()
    remaining = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
    return MfaStatus(
        enabled=device is not None and device.confirmed_at is not None,
        pending=device is not None and device.confirmed_at is None,
        recovery_codes_remaining=remaining if device and device.confirmed_at else 0,
    )


# --------------------------------------------------------------------------
# Login
# --------------------------------------------------------------------------


def login_challenge(
    *, username: str, password: str, ip: str, request: HttpRequest | None = None
) -> str | None:
    """For a user with TOTP on: check the password (throttled and audited as a login)
    and return an ``mfa_token``. For everyone else None: the normal login goes on."""
    if not TotpDevice.objects.filter(
        **{f"user__{User.USERNAME_FIELD}": username}, confirmed_at__isnull=False
    ).exists():
        return None
    attempt = throttles.login_attempt_begin(username=username, ip=ip)
    user = authenticate(request, username=username, password=password)
    if not isinstance(user, User):
        audit.warning("login failed username=%r ip=%s", username[:150], ip)
        raise ApiError(401, "invalid_credentials", "Wrong username or password.")
    attempt.succeeded()  # the code is counted again at its own step
    now = timezone.now()
    MfaChallenge.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    raw = secrets.token_urlsafe(32)
    MfaChallenge.objects.create(digest=_digest(raw), user=user, expires_at=now + MFA_TOKEN_LIFETIME)
    audit.info("login password accepted, second factor due user_id=%s ip=%s", user.pk, ip)
    return raw


def challenge_complete(
    *, mfa_token: str, code: str, ip: str, user_agent: str = ""
) -> sessions.IssuedTokens:
    """Exchange an ``mfa_token`` and a code for a session. 401 ``mfa_token_invalid``
    (unknown, used, expired, too many wrong codes) or 401 ``invalid_code``."""
    challenge = (
        MfaChallenge.objects.select_related("user").filter(digest=_digest(mfa_token)).first()
    )
    if challenge is None:
        raise mfa_token_invalid()
    user = challenge.user
    # Before the token's own checks: a throttled caller learns nothing more from it.
    attempt = throttles.login_attempt_begin(username=user.get_username(), ip=ip)
    now = timezone.now()
    if (
        challenge.used_at is not None
        or challenge.expires_at <= now
        or challenge.failures >= MAX_CHALLENGE_FAILURES
        or not user.is_active
    ):
        raise mfa_token_invalid()
    method: SecondFactor | None = None
    issued: sessions.IssuedTokens | None = None
    with transaction.atomic():
        claimed = MfaChallenge.objects.filter(
            pk=challenge.pk,
            used_at__isnull=True,
            expires_at__gt=now,
            failures__lt=MAX_CHALLENGE_FAILURES,
        ).update(used_at=now)
        if claimed:
            method = second_factor_check(user=user, code=code)
            if method is None:
                transaction.set_rollback(True)  # the token stays usable for a retry
            else:
                issued = sessions.token_family_start(user=user, ip=ip, user_agent=user_agent)
    if not claimed:
        raise mfa_token_invalid()
    if issued is None:
        MfaChallenge.objects.filter(pk=challenge.pk).update(failures=F("failures") + 1)
        _failure(user=user, ip=ip, what="login second factor failed")
        raise invalid_code(401)
    attempt.succeeded()
    audit.info(
        "login user_id=%s ip=%s session=%s second_factor=%s", user.pk, ip, issued.family_id, method
    )
    return issued
