"""Writes for users: registration, password changes, deactivation, and ending a
user's sessions (all of them, or one from the sessions page).

Sessions themselves (login, refresh-token rotation, logout) are in
``accounts.sessions``; API keys in ``accounts.api_key_services``. Ending a
session refuses its access tokens at once (``accounts.authentication``).

Audit log lines (logger ``accounts.audit``) carry usernames, user ids, IPs, key
prefixes and session ids, never a password, a token or a full key.
"""

from __future__ import annotations

import logging
import uuid

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from accounts.api_key_services import _api_keys_revoke
from accounts.models import RevokeReason, TokenFamily, User
from accounts.sessions import (
    _families_revoke,
    _password_fingerprint,
    password_confirm,
    token_family_revoke,
)
from chatproject.errors import ApiError

audit = logging.getLogger("accounts.audit")


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
