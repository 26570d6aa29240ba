"""Writes for accounts: login, refresh-token rotation, logout, users, API keys.

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
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import apikeys, throttles, tokens
from accounts.models import ApiKey, RevokeReason, Scope, TokenFamily, User, password_fingerprint
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


# --------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------


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


def user_sessions_revoke(
    *,
    user: User,
    reason: RevokeReason = RevokeReason.LOGOUT_ALL,
    except_session: uuid.UUID | None = None,
    revoke_api_keys: bool = False,
) -> int:
    """End every session of ``user`` (but ``except_session``); returns how many ended.
    Their access tokens are refused from the next request on. ``revoke_api_keys``
    also revokes every API key: the answer to "my password may have leaked"."""
    with transaction.atomic():
        families = user.token_families.all()
        if except_session is not None:
            families = families.exclude(pk=except_session)
        count = _families_revoke(families, reason=reason)
        keys = _api_keys_revoke(user=user) if revoke_api_keys else 0
    audit.info(
        "sessions revoked user_id=%s count=%s reason=%s api_keys_revoked=%s",
        user.pk,
        count,
        reason,
        keys,
    )
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


def user_password_change(
    *,
    user: User,
    password: str,
    keep_session: uuid.UUID | None = None,
    revoke_api_keys: bool = False,
) -> User:
    """Set a new password and end every session of the user but ``keep_session``
    (the one that asked for the change), which is re-pinned to the new password."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        if keep_session is not None:
            TokenFamily.objects.filter(pk=keep_session, user=user, revoked_at__isnull=True).update(
                password_fingerprint=_password_fingerprint(user)
            )
        user_sessions_revoke(
            user=user,
            reason=RevokeReason.PASSWORD_CHANGE,
            except_session=keep_session,
            revoke_api_keys=revoke_api_keys,
        )
    audit.info("password changed user_id=%s api_keys_revoked=%s", user.pk, revoke_api_keys)
    return user


def user_password_change_checked(
    *,
    user: User,
    current_password: str,
    new_password: str,
    ip: str,
    current_session: uuid.UUID | None,
    revoke_api_keys: bool = False,
) -> User:
    """``POST /api/auth/password``: the current password (throttled like a login),
    then Django's validators (400 with ``errors.new_password``), then the change."""
    password_confirm(user=user, password=current_password, ip=ip, field="current_password")
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as error:
        raise ApiError(
            400, "invalid", "Invalid input.", errors={"new_password": list(error.messages)}
        ) from None
    return user_password_change(
        user=user,
        password=new_password,
        keep_session=current_session,
        revoke_api_keys=revoke_api_keys,
    )


def user_deactivate(*, user: User) -> User:
    """Deactivate: access tokens and keys answer 401 ``user_inactive`` from the next
    request on (the authenticator reads ``is_active``); sessions and API keys are
    revoked, so reactivating the account does not bring back what it held."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    user_sessions_revoke(user=user, reason=RevokeReason.DEACTIVATED, revoke_api_keys=True)
    return user


def session_revoke(*, user: User, session_id: uuid.UUID) -> None:
    """End one of the user's own live sessions (the sessions page); anyone else's,
    or one already ended, is 404 like a missing one."""
    family = TokenFamily.objects.filter(pk=session_id, user=user, revoked_at__isnull=True).first()
    if family is None or not token_family_revoke(family=family, reason=RevokeReason.USER):
        raise ApiError(404, "not_found", "Not found.")


# --------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------


def _api_key_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    """``expires_at`` checked against ``API_KEY_MAX_DAYS``, or the default lifetime."""
    max_days, default_days = settings.API_KEY_MAX_DAYS, settings.API_KEY_DEFAULT_DAYS
    if expires_at is None:
        return now + timedelta(days=default_days) if default_days else None
    if expires_at <= now:
        raise ApiError(
            400, "invalid", "Invalid input.", errors={"expires_at": ["Must be in the future."]}
        )
    if max_days and expires_at > now + timedelta(days=max_days):
        raise ApiError(
            400,
            "invalid",
            "Invalid input.",
            errors={"expires_at": [f"At most {max_days} days from now."]},
        )
    return expires_at


def _live_api_keys(*, user: User, now: datetime) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True).exclude(expires_at__lte=now)


def api_key_create(
    *,
    user: User,
    name: str,
    scopes: Iterable[str] = (Scope.CHAT,),
    expires_at: datetime | None = None,
    daily_tokens: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it and its plaintext, which is never stored or shown again.

    ``daily_tokens``: the key's own daily token limit (``usage.KeyLimit``), if any.
    No ``expires_at``: ``API_KEY_DEFAULT_DAYS`` from now; later than
    ``API_KEY_MAX_DAYS`` is refused. A user holds at most ``API_KEY_MAX_PER_USER``
    live keys (409 ``api_key_limit``), counted under a lock on the user's row so
    parallel requests cannot overshoot."""
    scopes = sorted({str(scope) for scope in scopes})
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown or not scopes:
        raise ApiError(
            400, "invalid", "Invalid input.", errors={"scopes": [f"Unknown scopes: {unknown}"]}
        )
    now = timezone.now()
    expires_at = _api_key_expiry(expires_at, now)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        limit = settings.API_KEY_MAX_PER_USER
        if _live_api_keys(user=user, now=now).count() >= limit:
            raise ApiError(
                409,
                "api_key_limit",
                f"At most {limit} live API keys per user; revoke one first.",
            )
        for _attempt in range(5):
            prefix, plaintext = apikeys.generate()
            try:
                with transaction.atomic():  # a savepoint: a collision leaves the lock held
                    key = ApiKey.objects.create(
                        user=user,
                        name=name,
                        prefix=prefix,
                        digest=apikeys.digest(plaintext),
                        scopes=scopes,
                        created_at=now,
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


def user_api_key_create(
    *,
    user: User,
    password: str,
    ip: str,
    name: str,
    scopes: Iterable[str] = (Scope.CHAT,),
    expires_at: datetime | None = None,
    daily_tokens: int | None = None,
) -> tuple[ApiKey, str]:
    """``POST /api/keys``: a key outlives every session, so a stolen access token or
    refresh cookie alone must not mint one; the current password is asked first."""
    password_confirm(user=user, password=password, ip=ip)
    return api_key_create(
        user=user, name=name, scopes=scopes, expires_at=expires_at, daily_tokens=daily_tokens
    )


def _api_keys_revoke(*, user: User) -> int:
    now = timezone.now()
    live = list(_live_api_keys(user=user, now=now).values_list("prefix", flat=True))
    ApiKey.objects.filter(user=user, prefix__in=live).update(revoked_at=now)
    for prefix in live:
        audit.info("api key revoked user_id=%s prefix=%s", user.pk, prefix)
    return len(live)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key (idempotent). The row stays, for audit."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=api_key.revoked_at
        )
        audit.info("api key revoked user_id=%s prefix=%s", api_key.user_id, api_key.prefix)
    return api_key
