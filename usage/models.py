"""The usage ledger and the limits an admin sets.

- ``UsageRecord``: one row per turn, written once when the turn ends
  (``TurnSlot.release``), never per token. The daily quotas are sums over it.
- ``UsageLimits``: overrides of the environment defaults for one user or one
  group (exactly one of the two); an empty field means "not overridden here".
- ``KeyLimit``: an API key's own daily token limit. A table of its own rather
  than a column on ``accounts.ApiKey``, so this app owns its schema.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

UNLIMITED_HELP = "0 = unlimited."


class UsageRecord(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records"
    )
    # Null for the browser (a JWT); a deleted key's or conversation's rows stay counted.
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="usage_records",
    )
    conversation = models.ForeignKey(
        "chat.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="usage_records",
    )
    model = models.CharField(max_length=200)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "usage record"
        ordering = ("-created_at", "-id")
        indexes = [
            # The daily and monthly sums: one user's (or key's) rows since a time.
            models.Index(fields=["user", "created_at"], name="usage_user_time"),
            models.Index(fields=["api_key", "created_at"], name="usage_key_time"),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.input_tokens}+{self.output_tokens} tokens"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class UsageLimits(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="usage_limits",
    )
    group = models.OneToOneField(
        Group, on_delete=models.CASCADE, null=True, blank=True, related_name="usage_limits"
    )
    concurrent_turns = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Live turns at once. Empty: the next level's value.",
    )
    turns_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Turns started in any 60 seconds. Empty: the next level's value.",
    )
    daily_tokens = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text=f"Input + output tokens per UTC day. {UNLIMITED_HELP} Empty: the next level's value.",
    )

    class Meta:
        verbose_name = "usage limits"
        verbose_name_plural = "usage limits"
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="usage_limits_user_xor_group",
            ),
            models.CheckConstraint(
                condition=Q(concurrent_turns__isnull=True) | Q(concurrent_turns__gte=1),
                name="usage_limits_concurrent_min_1",
            ),
            models.CheckConstraint(
                condition=Q(turns_per_minute__isnull=True) | Q(turns_per_minute__gte=1),
                name="usage_limits_per_minute_min_1",
            ),
        ]

    def __str__(self) -> str:
        if self.user_id is not None:
            return f"limits of user {self.user}"
        return f"limits of group {self.group}"


class KeyLimit(models.Model):
    api_key = models.OneToOneField(
        "accounts.ApiKey", on_delete=models.CASCADE, primary_key=True, related_name="usage_limit"
    )
    daily_tokens = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text=(
            "Input + output tokens per UTC day for this key. Empty or 0: no limit of its "
            "own (the user's limit still applies)."
        ),
    )

    class Meta:
        verbose_name = "API key limit"

    def __str__(self) -> str:
        return f"limit of key {self.api_key_id}"
