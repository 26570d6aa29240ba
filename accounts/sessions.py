"""Writes for sessions (token families): login, refresh-token rotation, logout,
ending one session, and the password re-check before a sensitive change.

Token families (see ``TokenFamily``): a login starts one; ``refresh_token_rotate``
locks the family row (``SELECT … FOR UPDATE``; SQLite serialises writers with
``BEGIN IMMEDIATE``), checks that the presented token is the family's current
one, and replaces it. SimpleJWT's own blacklist check and write are two steps,
so two concurrent refreshes could both succeed; under the row lock exactly one
does. A presented token that is *not* current was already rotated: that is
reuse, and the whole family is revoked (401 ``token_reused``).

A session lives at most ``JWT_SESSION_MAX_DAYS`` from its login: every token it
issues, refresh or access, expires by then. Ending a session (logout, logout-all,
reuse, password change, deactivation, the sessions page) refuses its access
tokens at once too: they carry the session id, and the authenticator reads the
session row on each request (``accounts.authentication``).

Audit log lines (logger ``accounts.audit``) carry usernames, user ids, IPs, key
prefixes and session ids, never a password, a token or a full key.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import throttles, tokens
from accounts.models import RevokeReason, TokenFamily, User, password_fingerprint
from chatproject.errors import ApiError

audit = logging.getLogger("accounts.audit")


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    family_id: uuid.UUID
    access: str
    access_expires_at: datetime
    refresh: str
    refresh_expires_at: datetime
    # The refresh cookie's Max-Age: the refresh lifetime, or less near the session's end.
    refresh_max_age: int


def _password_fingerprint(user: User) -> str:
    return password_fingerprint(user.password)


_USER_AGENT_LENGTH = TokenFamily._meta.get_field("user_agent").max_length or 256
_IP_LENGTH = TokenFamily._meta.get_field("ip").max_length or 64


def session_ends_at(family: TokenFamily) -> datetime:
    """The absolute end of a session: ``JWT_SESSION_MAX_DAYS`` after its login."""
    return family.created_at + timedelta(days=settings.JWT_SESSION_MAX_DAYS)


def _issue(*, family: TokenFamily, user: User) -> IssuedTokens:
    """A new refresh token for ``family`` (made its current one) and its access token,
    neither valid past the session's absolute end."""
    refresh = RefreshToken()
    refresh[api_settings.USER_ID_CLAIM] = str(user.pk)
    refresh["fam"] = str(family.pk)  # copied into the access token too
    ends = session_ends_at(family)
    max_age = int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds())
    if tokens.expiry_of(refresh.payload) > ends:
        refresh.set_exp(from_time=ends, lifetime=timedelta(0))
        max_age = max(0, int((ends - refresh.current_time).total_seconds()))
    refresh_expires_at = tokens.expiry_of(refresh.payload)
    # The token text is not stored: a database dump must not hold live sessions.
    OutstandingToken.objects.create(
        user=user,
        jti=refresh["jti"],
        token="",
        created_at=timezone.now(),
        expires_at=refresh_expires_at,
    )
    family.current_jti = refresh["jti"]
    family.expires_at = refresh_expires_at
    access = refresh.access_token
    if tokens.expiry_of(access.payload) > refresh_expires_at:
        access.set_exp(from_time=refresh_expires_at, lifetime=timedelta(0))
    return IssuedTokens(
        user=user,
        family_id=family.pk,
        access=str(access),
        access_expires_at=tokens.expiry_of(access.payload),
        refresh=str(refresh),
        refresh_expires_at=refresh_expires_at,
        refresh_max_age=max_age,
    )


def _blacklist(jtis: Iterable[str]) -> None:
    outstanding = OutstandingToken.objects.filter(jti__in=list(jtis), blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )


def _families_revoke(families: QuerySet[TokenFamily], *, reason: RevokeReason) -> int:
    live = list(families.filter(revoked_at__isnull=True).values_list("pk", "current_jti"))
    if not live:
        return 0
    TokenFamily.objects.filter(pk__in=[pk for pk, _ in live]).update(
        revoked_at=timezone.now(), revoke_reason=reason
    )
    _blacklist(jti for _, jti in live)
    return len(live)


def token_family_start(*, user: User, ip: str = "", user_agent: str = "") -> IssuedTokens:
    """Start a session (token family) for an already authenticated user."""
    now = timezone.now()
    with transaction.atomic():
        family = TokenFamily(
            user=user,
            password_fingerprint=_password_fingerprint(user),
            created_at=now,
            last_used_at=now,
            ip=ip[:_IP_LENGTH],
            user_agent=user_agent[:_USER_AGENT_LENGTH],
        )
        issued = _issue(family=family, user=user)
        family.save()
    return issued


def auth_login(
    *,
    username: str,
    password: str,
    ip: str,
    request: HttpRequest | None = None,
    user_agent: str = "",
    previous_refresh: str | None = None,
) -> IssuedTokens:
    """Check a password and start a session. Unknown user, wrong password and an
    inactive account all give the same 401 ``invalid_credentials``. The attempt is
    counted before the password hash (``throttles.login_attempt_begin``); only
    failures stay counted. ``previous_refresh``, the refresh cookie this browser
    still held, is that session's end: one browser, one session."""
    attempt = throttles.login_attempt_begin(username=username, ip=ip)
    user = authenticate(request, username=username, password=password)
    if user is None:
        audit.warning("login failed username=%r ip=%s", username[:150], ip)
        raise ApiError(401, "invalid_credentials", "Wrong username or password.")
    attempt.succeeded()
    if previous_refresh:
        _logout(raw=previous_refresh, reason=RevokeReason.LOGIN)
    issued = token_family_start(user=user, ip=ip, user_agent=user_agent)
    audit.info("login user_id=%s ip=%s session=%s", user.pk, ip, issued.family_id)
    return issued


def password_confirm(*, user: User, password: str, ip: str, field: str = "password") -> None:
    """Re-check the signed-in user's password before a sensitive change (API keys,
    password change). Missing: 400 ``password_required``. Counted exactly like a
    login attempt; a wrong password is 403 ``invalid_credentials`` (the caller is
    authenticated, so not 401, which the SPA would answer by refreshing)."""
    if not password:
        raise ApiError(
            400,
            "password_required",
            "Your current password is required.",
            errors={field: ["This field is required."]},
        )
    attempt = throttles.login_attempt_begin(username=user.get_username(), ip=ip)
    if not user.check_password(password):
        audit.warning("password confirmation failed user_id=%s ip=%s", user.pk, ip)
        raise ApiError(403, "invalid_credentials", "Wrong password.")
    attempt.succeeded()


def _family_id(payload: dict) -> uuid.UUID:
    try:
        return uuid.UUID(str(payload["fam"]))
    except (KeyError, ValueError):
        raise tokens.token_invalid() from None


def refresh_token_rotate(*, raw: str, ip: str = "") -> IssuedTokens:
    """Exchange a refresh token for a new pair; see the module docstring."""
    payload = tokens.decode(raw, kind="refresh")
    user_id = tokens.user_id_of(payload)
    family_id = _family_id(payload)
    failure: ApiError | None = None
    with transaction.atomic():
        family = (
            TokenFamily.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=family_id, user_id=user_id)
            .first()
        )
        if family is None:  # never issued here, or the user was deleted
            failure = tokens.token_invalid()
        elif family.revoked_at is not None:
            failure = tokens.token_invalid("This session has ended; log in again.")
        elif timezone.now() >= session_ends_at(family):
            # Tokens issued before the cap existed; newer ones have already expired.
            _families_revoke(TokenFamily.objects.filter(pk=family.pk), reason=RevokeReason.EXPIRED)
            failure = tokens.token_invalid(
                "This session has reached its maximum age; log in again."
            )
        elif not family.user.is_active:
            _families_revoke(family.user.token_families.all(), reason=RevokeReason.DEACTIVATED)
            failure = ApiError(401, "user_inactive", "This account is inactive.")
        elif family.password_fingerprint != _password_fingerprint(family.user):
            _families_revoke(family.user.token_families.all(), reason=RevokeReason.PASSWORD_CHANGE)
            failure = tokens.token_invalid("The password has changed; log in again.")
        elif family.current_jti != payload["jti"]:
            _families_revoke(TokenFamily.objects.filter(pk=family.pk), reason=RevokeReason.REUSE)
            audit.warning(
                "refresh token reuse detected user_id=%s ip=%s session=%s: session revoked",
                user_id,
                ip,
                family.pk,
            )
            failure = ApiError(
                401,
                "token_reused",
                "This refresh token was already used; the session has been revoked.",
            )
        else:
            old_jti = family.current_jti
            issued = _issue(family=family, user=family.user)
            family.last_rotated_at = family.last_used_at = timezone.now()
            family.rotations += 1
            if ip:
                family.ip = ip[:_IP_LENGTH]
            family.save(
                update_fields=[
                    "current_jti",
                    "expires_at",
                    "last_rotated_at",
                    "last_used_at",
                    "rotations",
                    "ip",
                ]
            )
            _blacklist([old_jti])
    if failure is not None:
        raise failure  # after the commit: the revocation above must stick
    return issued


def _logout(*, raw: str, reason: RevokeReason) -> None:
    try:
        payload = tokens.decode(raw, kind="refresh")
        user_id, family_id = tokens.user_id_of(payload), _family_id(payload)
    except ApiError:
        return
    with transaction.atomic():
        _families_revoke(TokenFamily.objects.filter(pk=family_id, user_id=user_id), reason=reason)


def logout(*, raw: str | None) -> None:
    """Revoke the session (family) of a refresh token. Never fails: a missing,
    expired, forged or already revoked token has nothing left to revoke."""
    if raw:
        _logout(raw=raw, reason=RevokeReason.LOGOUT)


def token_family_revoke(*, family: TokenFamily, reason: RevokeReason = RevokeReason.ADMIN) -> bool:
    """End one session; False when it had already ended."""
    with transaction.atomic():
        ended = _families_revoke(TokenFamily.objects.filter(pk=family.pk), reason=reason) == 1
    if ended:
        audit.info(
            "session revoked user_id=%s session=%s reason=%s", family.user_id, family.pk, reason
        )
    return ended
