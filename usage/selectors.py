"""Reads: effective limits, token totals, and what ``GET /api/usage`` reports.

Effective limits, per field: the user's own override, else the most generous
value among the user's groups, else the environment default. "Most generous"
because a group grants an allowance (a "pro" group lifts its members above the
default); to hold one member of a generous group back, give that user an
override. For ``daily_tokens`` 0 (unlimited) is the most generous value.

Days are UTC days and months UTC months, whatever ``TIME_ZONE`` says: a quota
resets at the same instant for every user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q, Sum

from usage.models import KeyLimit, UsageLimits, UsageRecord

USER, GROUP, DEFAULT = "user", "group", "default"


def day_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def next_midnight(now: datetime) -> datetime:
    return day_start(now) + timedelta(days=1)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


@dataclass(frozen=True)
class Limits:
    concurrent_turns: int
    turns_per_minute: int
    daily_tokens: int  # 0 = unlimited
    # Where each value came from: "user", "group" or "default" (the admin shows it).
    sources: tuple[tuple[str, str], ...] = ()

    def source(self, field: str) -> str:
        return dict(self.sources).get(field, DEFAULT)


_FIELDS = ("concurrent_turns", "turns_per_minute", "daily_tokens")


def _more_generous(field: str, a: int, b: int) -> int:
    if field == "daily_tokens" and 0 in (a, b):
        return 0
    return max(a, b)


def _resolve(rows: list[tuple[Any, ...]]) -> Limits:
    """``rows``: ``(is_user_row, concurrent_turns, turns_per_minute, daily_tokens)``."""
    values: dict[str, int] = {
        "concurrent_turns": settings.CHAT_CONCURRENT_TURNS,
        "turns_per_minute": settings.CHAT_TURNS_PER_MINUTE,
        "daily_tokens": settings.CHAT_DAILY_TOKENS,
    }
    sources: dict[str, str] = {}
    for index, field in enumerate(_FIELDS, start=1):
        own = [row[index] for row in rows if row[0] and row[index] is not None]
        grouped = [row[index] for row in rows if not row[0] and row[index] is not None]
        if own:
            values[field], sources[field] = own[0], USER
        elif grouped:
            best = grouped[0]
            for value in grouped[1:]:
                best = _more_generous(field, best, value)
            values[field], sources[field] = best, GROUP
    return Limits(**values, sources=tuple(sources.items()))


def limits_effective(*, user_id: int) -> Limits:
    rows = UsageLimits.objects.filter(Q(user_id=user_id) | Q(group__user=user_id)).values_list(
        "user_id", *_FIELDS
    )
    return _resolve([(row[0] is not None, *row[1:]) for row in rows])


_TOTAL = Sum(F("input_tokens") + F("output_tokens"))


def tokens_since(
    *, since: datetime, user_id: int | None = None, api_key_id: int | None = None
) -> int:
    rows = UsageRecord.objects.filter(created_at__gte=since)
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if api_key_id is not None:
        rows = rows.filter(api_key_id=api_key_id)
    return rows.aggregate(total=_TOTAL)["total"] or 0


def key_daily_limit(*, api_key_id: int) -> int | None:
    """The key's own daily token limit; None when it has none (unset or 0)."""
    limit = KeyLimit.objects.filter(api_key_id=api_key_id).values_list("daily_tokens", flat=True)
    value = limit.first()
    return value or None


@dataclass(frozen=True)
class Totals:
    today: int
    this_month: int


def totals(*, now: datetime, user_id: int | None = None, api_key_id: int | None = None) -> Totals:
    """Tokens today and this month (UTC) of a user or a key, in one query (the admin)."""
    rows = UsageRecord.objects.filter(created_at__gte=month_start(now))
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if api_key_id is not None:
        rows = rows.filter(api_key_id=api_key_id)
    total = F("input_tokens") + F("output_tokens")
    sums = rows.aggregate(
        month=Sum(total), today=Sum(total, filter=Q(created_at__gte=day_start(now)))
    )
    return Totals(today=sums["today"] or 0, this_month=sums["month"] or 0)


@dataclass(frozen=True)
class AdmissionFacts:
    """What ``turn_admit`` needs from the database, read in one job."""

    limits: Limits
    used_today: int  # the user's tokens today (0 when their quota is unlimited: not read)
    key_limit: int | None
    key_used_today: int


def admission_facts(*, user_id: int, api_key_id: int | None, now: datetime) -> AdmissionFacts:
    limits = limits_effective(user_id=user_id)
    since = day_start(now)
    used = tokens_since(since=since, user_id=user_id) if limits.daily_tokens else 0
    key_limit = key_daily_limit(api_key_id=api_key_id) if api_key_id is not None else None
    key_used = tokens_since(since=since, api_key_id=api_key_id) if key_limit else 0
    return AdmissionFacts(limits, used, key_limit, key_used)


def usage_summary(*, user_id: int, api_key_id: int | None, now: datetime) -> dict[str, Any]:
    """``GET /api/usage``: the caller's own numbers (only ever the caller's)."""
    from usage import slots

    limits = limits_effective(user_id=user_id)
    since = day_start(now)
    active, last_minute = slots.store().snapshot(user_id)
    body: dict[str, Any] = {
        "tokens": {
            "used": tokens_since(since=since, user_id=user_id),
            "limit": limits.daily_tokens or None,
            "resets_at": next_midnight(now).isoformat().replace("+00:00", "Z"),
        },
        "turns": {"last_minute": last_minute, "per_minute_limit": limits.turns_per_minute},
        "concurrent_turns": {"active": active, "limit": limits.concurrent_turns},
    }
    if api_key_id is not None:
        body["key"] = {
            "id": api_key_id,
            "used": tokens_since(since=since, api_key_id=api_key_id),
            "limit": key_daily_limit(api_key_id=api_key_id),
        }
    return body
