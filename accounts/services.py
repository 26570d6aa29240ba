"""Writes for accounts: login, refresh-token rotation, logout, users, API keys.

Token families (see ``TokenFamily``): a login starts one; ``refresh_token_rotate``
locks the family row (``SELECT … FOR UPDATE``; SQLite serialises writers with
``BEGIN IMMEDIATE``), checks that the presented token is the family's current
one, and replaces it. SimpleJWT's own blacklist check and write are two steps,
so two concurrent refreshes could both succeed; under the row lock exactly one
does. A presented token that is *not* current was already rotated: that is
reuse, and the whole family is revoked (401 ``token_reused``).

Audit log lines (logger ``accounts.audit``) carry usernames, user ids, IPs, key
prefixes and session ids, never a password, a token or a full key.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import apikeys, throttles, tokens
from accounts.models import ApiKey, RevokeReason, Scope, TokenFamily, User
from chatproject.errors import ApiError
from usage import services as usage_services

audit = logging.getLogger("accounts.audit")


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    family_id: uuid.UUID
    access: str
    access_expires_at: datetime
    refresh: str
    refresh_expires_at: datetime


def _password_fingerprint(user: User) -> str:
    return salted_hmac(
        "accounts.TokenFamily.password", user.password, algorithm="sha256"
    ).hexdigest()


def _issue(*, family: TokenFamily, user: User) -> IssuedTokens:
    """A new refresh token for ``family`` (made its current one) and its access token."""
    refresh = RefreshToken()
    refresh[api_settings.USER_ID_CLAIM] = str(user.pk)
    refresh["fam"] = str(family.pk)
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
    access = refresh.access_token
    return IssuedTokens(
        user=user,
        family_id=family.pk,
        access=str(access),
        access_expires_at=tokens.expiry_of(access.payload),
        refresh=str(refresh),
        refresh_expires_at=refresh_expires_at,
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


# --------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------


def token_family_start(*, user: User) -> IssuedTokens:
    """Start a session (token family) for an already authenticated user."""
    with transaction.atomic():
        family = TokenFamily(user=user, password_fingerprint=_password_fingerprint(user))
        issued = _issue(family=family, user=user)
        family.save()
    return issued


def auth_login(
    *, username: str, password: str, ip: str, request: HttpRequest | None = None
) -> IssuedTokens:
    """Check a password and start a session. Unknown user, wrong password and an
    inactive account all give the same 401 ``invalid_credentials``; failures (only
    failures) count against the per-username and per-IP limits."""
    throttles.login_check(username=username, ip=ip)
    user = authenticate(request, username=username, password=password)
    if user is None:
        throttles.login_failure_record(username=username, ip=ip)
        audit.warning("login failed username=%r ip=%s", username[:150], ip)
        raise ApiError(401, "invalid_credentials", "Wrong username or password.")
    issued = token_family_start(user=user)
    audit.info("login user_id=%s ip=%s session=%s", user.pk, ip, issued.family_id)
    return issued


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
            family.last_rotated_at = timezone.now()
            family.rotations += 1
            family.save(update_fields=["current_jti", "last_rotated_at", "rotations"])
            _blacklist([old_jti])
    if failure is not None:
        raise failure  # after the commit: the revocation above must stick
    return issued


def logout(*, raw: str | None) -> None:
    """Revoke the session (family) of a refresh token. Never fails: a missing,
    expired, forged or already revoked token has nothing left to revoke."""
    if not raw:
        return
    try:
        payload = tokens.decode(raw, kind="refresh")
        user_id, family_id = tokens.user_id_of(payload), _family_id(payload)
    except ApiError:
        return
    with transaction.atomic():
        _families_revoke(
            TokenFamily.objects.filter(pk=family_id, user_id=user_id), reason=RevokeReason.LOGOUT
        )


def token_family_revoke(*, family: TokenFamily, reason: RevokeReason = RevokeReason.ADMIN) -> bool:
    """End one session; False when it had already ended."""
    with transaction.atomic():
        return _families_revoke(TokenFamily.objects.filter(pk=family.pk), reason=reason) == 1


def user_sessions_revoke(*, user: User, reason: RevokeReason = RevokeReason.LOGOUT_ALL) -> int:
    """Revoke every refresh token of ``user``; returns the number of sessions ended.
    Access tokens stay valid until they expire (minutes), unless the user is inactive."""
    with transaction.atomic():
        count = _families_revoke(user.token_families.all(), reason=reason)
    audit.info("sessions revoked user_id=%s count=%s reason=%s", user.pk, count, reason)
    return count


# --------------------------------------------------------------------------
# Users
# --------------------------------------------------------------------------


def user_register(*, username: str, password: str, email: str = "") -> User:
    errors: dict[str, list[str]] = {}
    username_field = User._meta.get_field("username")
    try:
        username_field.run_validators(username)
    except DjangoValidationError as error:
        errors["username"] = list(error.messages)
    if "username" not in errors and User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["A user with that username already exists."]
    try:
        validate_password(password, user=User(username=username, email=email))
    except DjangoValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise ApiError(400, "invalid", "Invalid input.", errors=errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
    except IntegrityError:  # lost a race for the same username
        raise ApiError(
            400,
            "invalid",
            "Invalid input.",
            errors={"username": ["A user with that username already exists."]},
        ) from None
    audit.info("user registered user_id=%s username=%r", user.pk, user.username)
    return user


def user_password_change(*, user: User, password: str) -> User:
    """Set a new password and end every session of the user."""
    user.set_password(password)
    user.save(update_fields=["password"])
    user_sessions_revoke(user=user, reason=RevokeReason.PASSWORD_CHANGE)
    return user


def user_deactivate(*, user: User) -> User:
    """Deactivate: access tokens and keys answer 401 ``user_inactive`` from the next
    request on (the authenticator reads ``is_active``); sessions are revoked."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    user_sessions_revoke(user=user, reason=RevokeReason.DEACTIVATED)
    return user


# --------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------


def api_key_create(
    *,
    user: User,
    name: str,
    scopes: Iterable[str] = (Scope.CHAT,),
    expires_at: datetime | None = None,
    daily_tokens: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it and its plaintext, which is never stored or shown again.
    ``daily_tokens``: the key's own daily token limit (``usage.KeyLimit``), if any."""
    scopes = sorted({str(scope) for scope in scopes})
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown or not scopes:
        raise ApiError(
            400, "invalid", "Invalid input.", errors={"scopes": [f"Unknown scopes: {unknown}"]}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiError(
            400, "invalid", "Invalid input.", errors={"expires_at": ["Must be in the future."]}
        )
    for _attempt in range(5):
        prefix, plaintext = apikeys.generate()
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    user=user,
                    name=name,
                    prefix=prefix,
                    digest=apikeys.digest(plaintext),
                    scopes=scopes,
                    expires_at=expires_at,
                )
                if daily_tokens is not None:
                    usage_services.key_limit_set(api_key_id=key.pk, daily_tokens=daily_tokens)
            break
        except IntegrityError:  # prefix collision (48 bits): draw again
            continue
    else:
        raise RuntimeError("could not draw a unique API key prefix")
    audit.info("api key created user_id=%s prefix=%s scopes=%s", user.pk, prefix, scopes)
    return key, plaintext


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key (idempotent). The row stays, for audit."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=api_key.revoked_at
        )
        audit.info("api key revoked user_id=%s prefix=%s", api_key.user_id, api_key.prefix)
    return api_key
