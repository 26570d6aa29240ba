"""Writes for API keys: creating one (lifetime and per-user limits, and the
password re-check of ``POST /api/keys``) and revoking one.

The key format (prefix, secret, peppered digest) is ``accounts.apikeys``; the
lists are ``accounts.selectors``; the authenticator is ``accounts.authentication``.

Audit log lines (logger ``accounts.audit``) carry usernames, user ids, IPs, key
prefixes and session ids, never a password, a token or a full key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import apikeys
from accounts.models import ApiKey, Scope, User
from accounts.sessions import password_confirm
from chatproject.errors import ApiError
from usage import services as usage_services

audit = logging.getLogger("accounts.audit")


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
