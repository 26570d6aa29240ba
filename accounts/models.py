"""Accounts: the custom user, refresh-token families and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac


class User(AbstractUser):
    """The project's user. A custom model from day one, so fields can be added
    later without Django's hard mid-project switch of ``AUTH_USER_MODEL``."""

    # The address the user proved to own (accounts/verification.py). Kept as the
    # address, not a flag, so an email changed later (in the admin) is unverified.
    verified_email = models.EmailField(blank=True, default="")

    class Meta:
        db_table = "accounts_user"

    @property
    def email_verified(self) -> bool:
        return bool(self.email) and self.verified_email.casefold() == self.email.casefold()


def password_fingerprint(password_hash: str) -> str:
    """A keyed digest of a user's password hash: it changes with the password."""
    return salted_hmac(
        "accounts.TokenFamily.password", password_hash, algorithm="sha256"
    ).hexdigest()


class RevokeReason(models.TextChoices):
    LOGOUT = "logout", "logout"
    LOGOUT_ALL = "logout_all", "logout everywhere"
    REUSE = "reuse", "refresh token reused"
    PASSWORD_CHANGE = "password_change", "password changed"
    DEACTIVATED = "deactivated", "user deactivated"
    ADMIN = "admin", "revoked by an administrator"
    USER = "user", "ended by the user (sessions page)"
    LOGIN = "login", "replaced by a new login in the same browser"
    EXPIRED = "expired", "past JWT_SESSION_MAX_DAYS"


class TokenFamily(models.Model):
    """One login session: the chain of refresh tokens that rotation produces.

    A login starts a family; every rotation replaces ``current_jti``. Only the
    token whose jti is ``current_jti`` may be exchanged. A signed refresh token of
    this family with any other jti was already rotated, so presenting it is reuse
    (a stolen copy, or the victim after the thief): the whole family is revoked and
    both parties must log in again (Auth0's "automatic reuse detection").

    ``password_fingerprint`` pins the family to the password it was started with,
    so a password change made by any path (admin, shell, ``changepassword``) ends it.

    Access tokens carry the family id (claim ``fam``), and the authenticator reads
    this row (joined with its user) on every request: ending a family refuses its
    access tokens at once, not when they expire. ``expires_at`` is the current
    refresh token's expiry (never later than ``JWT_SESSION_MAX_DAYS`` after
    ``created_at``); ``ip`` and ``last_used_at`` are updated at login and refresh.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_families"
    )
    current_jti = models.CharField(max_length=64)
    password_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_rotated_at = models.DateTimeField(null=True, blank=True)
    rotations = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    # As the throttles see it (a proxy header can hold anything): text, not inet.
    ip = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "session (token family)"
        verbose_name_plural = "sessions (token families)"
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"session {str(self.id)[:8]} of {self.user_id}"


class Scope(models.TextChoices):
    """What an API key may do. JWT users (the browser) may do everything."""

    CHAT = "chat", "chat and conversations"
    KEYS_READ = "keys:read", "list own API keys"


class ApiKey(models.Model):
    """An API key as healthchecks stores them: the visible ``prefix`` finds the row,
    only an HMAC digest of the whole key (with a per-deployment pepper) is kept, and
    the comparison is constant-time. The plaintext is shown once, at creation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.name} (sk_{self.prefix}_…)"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


# --------------------------------------------------------------------------
# Two-factor authentication (accounts/mfa.py)
# --------------------------------------------------------------------------


class TotpDevice(models.Model):
    """A user's TOTP authenticator (RFC 6238). Pending until ``confirmed_at`` is set
    by a first valid code; only a confirmed device is asked for at login.

    ``last_step`` is the last accepted time step: a code is accepted only for a
    later step, so an observed code cannot be replayed within its window.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "pending"
        return f"TOTP of {self.user_id} ({state})"


class RecoveryCode(models.Model):
    """A one-time recovery code; only its SHA-256 is kept (the code has 80 random bits)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "digest"], name="recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class MfaChallenge(models.Model):
    """A password accepted, a second factor still due: what an ``mfa_token`` names.
    Only the token's SHA-256 is stored; it expires and works once."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_challenges"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"MFA challenge of {self.user_id}"
