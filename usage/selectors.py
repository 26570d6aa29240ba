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

from usage import slots
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
    # Whose facts, read when: ``turn_admit`` checks they are the turn's.
    user_id: int
    api_key_id: int | None
    read_at: datetime


# The admission query as SQL, per database vendor and caller kind (see
# ``admission_facts``): ``_ADMISSION_SQL[(vendor, with_key)]``.
_ADMISSION_SQL: dict[tuple[str, bool], str] = {}

# The rows' first column: which fact the row carries.
_LIMIT_ROW, _USER_TOTAL, _KEY_LIMIT, _KEY_TOTAL = 0, 1, 2, 3


def _admission_sql(connection: Any, with_key: bool) -> str:
    sql = _ADMISSION_SQL.get((connection.vendor, with_key))
    if sql is not None:
        return sql
    from django.contrib.auth import get_user_model

    quote = connection.ops.quote_name

    def table(model: Any) -> str:
        return quote(model._meta.db_table)

    def column(model: Any, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    memberships = get_user_model().groups.through
    limits_fields = ", ".join(column(UsageLimits, name) for name in _FIELDS)
    total = (
        f"COALESCE(SUM({column(UsageRecord, 'input_tokens')} + "
        f"{column(UsageRecord, 'output_tokens')}), 0)"
    )
    since = f"{column(UsageRecord, 'created_at')} >= %s"
    # One statement, one row per fact: (kind, is_user_row, concurrent, per_minute,
    # daily or total). Identifiers from the models, quoted by the backend; every
    # value is a parameter.
    parts = [
        f"SELECT {_LIMIT_ROW}, {column(UsageLimits, 'user')} IS NOT NULL, {limits_fields} "  # noqa: S608
        f"FROM {table(UsageLimits)} WHERE {column(UsageLimits, 'user')} = %s "
        f"OR {column(UsageLimits, 'group')} IN (SELECT {column(memberships, 'group')} "
        f"FROM {table(memberships)} WHERE {column(memberships, 'user')} = %s)",
        f"SELECT {_USER_TOTAL}, NULL, NULL, NULL, {total} FROM {table(UsageRecord)} "  # noqa: S608
        f"WHERE {column(UsageRecord, 'user')} = %s AND {since}",
    ]
    if with_key:
        parts += [
            f"SELECT {_KEY_LIMIT}, NULL, NULL, NULL, {column(KeyLimit, 'daily_tokens')} "  # noqa: S608
            f"FROM {table(KeyLimit)} WHERE {column(KeyLimit, 'api_key')} = %s",
            f"SELECT {_KEY_TOTAL}, NULL, NULL, NULL, {total} FROM {table(UsageRecord)} "  # noqa: S608
            f"WHERE {column(UsageRecord, 'api_key')} = %s AND {since}",
        ]
    sql = " UNION ALL ".join(parts)
    _ADMISSION_SQL[(connection.vendor, with_key)] = sql
    return sql


def admission_facts(*, user_id: int, api_key_id: int | None, now: datetime) -> AdmissionFacts:
    """The limits and today's sums, as ``limits_effective``, ``tokens_since`` and
    ``key_daily_limit`` compute them, in one SQL statement.

    Every turn pays this before its first token, and building these small
    queries through the ORM costs several times what the database needs to
    answer them, one round trip each (figures in docs/performance.md, "Usage
    checks"): the statement is built once per database vendor instead. The
    tests check both paths agree.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections[DEFAULT_DB_ALIAS]
    with_key = api_key_id is not None
    since = connection.ops.adapt_datetimefield_value(day_start(now))
    params: list[Any] = [user_id, user_id, user_id, since]
    if with_key:
        params += [api_key_id, api_key_id, since]
    with connection.cursor() as cursor:
        cursor.execute(_admission_sql(connection, with_key), params)
        rows = cursor.fetchall()
    limits = _resolve([(bool(row[1]), *row[2:]) for row in rows if row[0] == _LIMIT_ROW])
    facts = {row[0]: row[4] for row in rows if row[0] != _LIMIT_ROW}
    used = int(facts.get(_USER_TOTAL) or 0) if limits.daily_tokens else 0
    key_limit = facts.get(_KEY_LIMIT) or None
    key_used = int(facts.get(_KEY_TOTAL) or 0) if key_limit else 0
    return AdmissionFacts(
        limits, used, int(key_limit) if key_limit else None, key_used, user_id, api_key_id, now
    )


def usage_summary(*, user_id: int, api_key_id: int | None, now: datetime) -> dict[str, Any]:
    """``GET /api/usage``: the caller's own numbers (only ever the caller's)."""
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
