"""Reads for accounts: plain functions, keyword-only."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import ApiKey, TokenFamily, User
from chatproject.errors import ApiError


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys, newest first, revoked ones included (they stay for audit)."""
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def api_key_get(*, user: User, key_id: int) -> ApiKey:
    """One of the user's own keys; anyone else's is 404, exactly like a missing one."""
    key = ApiKey.objects.filter(user=user, pk=key_id).first()
    if key is None:
        raise ApiError(404, "not_found", "Not found.")
    return key


def token_family_active_list(*, user: User) -> QuerySet[TokenFamily]:
    return TokenFamily.objects.filter(user=user, revoked_at__isnull=True)


def session_list(*, user: User) -> QuerySet[TokenFamily]:
    """The user's live sessions, newest first: not ended, refresh token unexpired,
    within ``JWT_SESSION_MAX_DAYS`` of the login."""
    now = timezone.now()
    return (
        TokenFamily.objects.filter(
            user=user,
            revoked_at__isnull=True,
            created_at__gt=now - timedelta(days=settings.JWT_SESSION_MAX_DAYS),
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-pk")
    )
