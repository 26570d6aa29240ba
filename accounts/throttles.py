"""Rate limits for the auth endpoints, counted in Django's cache.

With ``REDIS_URL`` set the cache is Redis, so a limit holds across every worker
and process; the default local-memory cache counts per process. The rates live
in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``"5/min"``).

The count is a sliding-window estimate (the previous fixed window, weighted by
how much of it still overlaps the last ``window`` seconds, plus the current
one): two atomic ``incr`` counters per identity, no read-modify-write race, and
no double burst at a window boundary. Identities (usernames, IPs) are hashed
into the key, so a 10 kB username cannot make a 10 kB cache key.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from chatproject.errors import ApiError

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"5/min"`` → ``(5, 60)``."""
    try:
        count, period = rate.split("/")
        limit, window = int(count), _PERIODS[period.strip()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"throttle rate {rate!r}: expected N/s|min|hour|day") from None
    if limit < 1:
        raise ImproperlyConfigured(f"throttle rate {rate!r}: expected N >= 1")
    return limit, window


def _rate(name: str) -> tuple[int, int]:
    rate = api_settings.DEFAULT_THROTTLE_RATES[name]
    if not isinstance(rate, str):
        raise ImproperlyConfigured(f"throttle rate {rate!r}: expected N/s|min|hour|day")
    return parse_rate(rate)


def _base_key(name: str, ident: str) -> str:
    digest = hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()[:32]
    return f"{settings.AUTH_THROTTLE_CACHE_PREFIX}:{name}:{digest}"


def retry_after(name: str, ident: str, *, now: float | None = None) -> int | None:
    """Seconds until ``ident`` may try again, or None when it is under the limit."""
    limit, window = _rate(name)
    now = time.time() if now is None else now
    bucket = int(now // window)
    elapsed = now - bucket * window
    base = _base_key(name, ident)
    counts = cache.get_many([f"{base}:{bucket}", f"{base}:{bucket - 1}"])
    current = counts.get(f"{base}:{bucket}", 0)
    previous = counts.get(f"{base}:{bucket - 1}", 0)
    if previous * (window - elapsed) / window + current < limit:
        return None
    if current >= limit:
        # After this window ends, `current` becomes the decaying previous window.
        wait = (window - elapsed) + window * (1 - limit / current)
    else:
        wait = (window - elapsed) - window * (limit - current) / previous
    return max(1, math.ceil(wait + 1e-6))


def hit(name: str, ident: str, *, now: float | None = None) -> None:
    _, window = _rate(name)
    now = time.time() if now is None else now
    key = f"{_base_key(name, ident)}:{int(now // window)}"
    cache.add(key, 0, timeout=2 * window)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=2 * window)


def throttled(wait: int) -> ApiError:
    return ApiError(
        429,
        "throttled",
        f"Too many attempts. Try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


def login_check(*, username: str, ip: str) -> None:
    """Raise 429 when this username or this IP has failed too often."""
    waits = [
        retry_after("login_failures_username", username.casefold()),
        retry_after("login_failures_ip", ip),
    ]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise throttled(wait)


def login_failure_record(*, username: str, ip: str) -> None:
    hit("login_failures_username", username.casefold())
    hit("login_failures_ip", ip)


class _IpRateThrottle(BaseThrottle):
    """Every request counts, per client IP (``NUM_PROXIES`` decides which IP)."""

    rate_name = ""

    def allow_request(self, request: Request, view: APIView) -> bool:
        ident = self.get_ident(request)
        self._wait = retry_after(self.rate_name, ident)
        if self._wait is not None:
            return False
        hit(self.rate_name, ident)
        return True

    def wait(self) -> int | None:
        return self._wait


class RefreshThrottle(_IpRateThrottle):
    rate_name = "refresh"


class RegisterThrottle(_IpRateThrottle):
    rate_name = "register"
