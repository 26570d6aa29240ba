"""Rate limits for the auth endpoints, counted in Django's cache.

With ``REDIS_URL`` set the cache is Redis, so a limit holds across every worker
and process; the default local-memory cache counts per process. The rates live
in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``"5/min"``).

The count is a sliding-window estimate (the previous fixed window, weighted by
how much of it still overlaps the last ``window`` seconds, plus the current
one): two atomic ``incr`` counters per identity, no read-modify-write race, and
no double burst at a window boundary. Identities (usernames, IPs) are hashed
into the key, so a 10 kB username cannot make a 10 kB cache key.

Every limit counts *before* it decides: ``take`` increments the counter and
compares the value it got back, so N parallel requests get N distinct counts and
at most the limit pass (a read-then-record check lets all N through while the
first is still hashing its password). Login attempts (``login_attempt_begin``)
count per (username, IP), per IP and per username, before the password hash;
a refused attempt gives its counts back at once, a successful one when it
succeeds, so only failures (and attempts still running) stay counted. The
per-username limit is a higher ceiling than the per-(username, IP) one: a
guesser from one address locks out only that (username, address) pair, and
reaching the ceiling takes many addresses (docs/security.md, "Login limits").
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


def _wait(limit: int, window: int, elapsed: float, current: int, previous: int) -> int | None:
    """Seconds until one more request fits, or None when it fits now."""
    if previous * (window - elapsed) / window + current < limit:
        return None
    if current >= limit:
        # After this window ends, `current` becomes the decaying previous window.
        wait = (window - elapsed) + window * (1 - limit / current)
    else:
        wait = (window - elapsed) - window * (limit - current) / previous
    return max(1, math.ceil(wait + 1e-6))


def retry_after(name: str, ident: str, *, now: float | None = None) -> int | None:
    """Seconds until ``ident`` may try again, or None when it is under the limit."""
    limit, window = _rate(name)
    now = time.time() if now is None else now
    bucket = int(now // window)
    base = _base_key(name, ident)
    counts = cache.get_many([f"{base}:{bucket}", f"{base}:{bucket - 1}"])
    current = counts.get(f"{base}:{bucket}", 0)
    previous = counts.get(f"{base}:{bucket - 1}", 0)
    return _wait(limit, window, now - bucket * window, current, previous)


def _incr(key: str, window: int) -> int:
    """Atomically add one; the value returned is this caller's own."""
    cache.add(key, 0, timeout=2 * window)
    try:
        return cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=2 * window)
        return 1


def hit(name: str, ident: str, *, now: float | None = None) -> None:
    """Count one for ``ident`` in the current window."""
    _, window = _rate(name)
    now = time.time() if now is None else now
    _incr(f"{_base_key(name, ident)}:{int(now // window)}", window)


def _give_back(keys: list[str]) -> None:
    for key in keys:
        try:
            cache.decr(key)
        except ValueError:  # expired meanwhile: nothing left to give back
            pass


def take(name: str, ident: str, *, now: float | None = None) -> tuple[str | None, int | None]:
    """Count one request, then decide on the count the increment returned:
    ``(counter key, None)`` when it may go on, ``(None, wait)`` when it is over the
    limit (its count is given back at once)."""
    limit, window = _rate(name)
    now = time.time() if now is None else now
    bucket = int(now // window)
    base = _base_key(name, ident)
    key = f"{base}:{bucket}"
    mine = _incr(key, window)
    previous = cache.get(f"{base}:{bucket - 1}", 0)  # a closed window: no more increments
    # Requests counted before this one: `mine - 1`; this one fits if that is under the limit.
    wait = _wait(limit, window, now - bucket * window, mine - 1, previous)
    if wait is None:
        return key, None
    _give_back([key])
    return None, wait


def throttled(wait: int) -> ApiError:
    return ApiError(
        429,
        "throttled",
        f"Too many attempts. Try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


class LoginAttempt:
    """The counts one password check holds; see the module docstring."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = keys

    def succeeded(self) -> None:
        """Successful logins do not count: give the counts back."""
        _give_back(self._keys)
        self._keys = []


def login_attempt_begin(*, username: str, ip: str) -> LoginAttempt:
    """Count a password attempt before it is checked; 429 ``throttled`` when over a limit.

    The narrowest limit goes first, so an attempt refused for its own
    (username, IP) pair never reaches the shared per-username ceiling."""
    keys: list[str] = []
    for name, ident in _login_limits(username, ip):
        key, wait = take(name, ident)
        if wait is not None:
            _give_back(keys)
            raise throttled(wait)
        assert key is not None
        keys.append(key)
    return LoginAttempt(keys)


def _login_limits(username: str, ip: str) -> list[tuple[str, str]]:
    user = username.casefold()
    return [
        ("login_failures_username_ip", f"{user}\x00{ip}"),
        ("login_failures_ip", ip),
        ("login_failures_username", user),
    ]


class _IpRateThrottle(BaseThrottle):
    """Every request counts, per client IP (``NUM_PROXIES`` decides which IP)."""

    rate_name = ""

    def allow_request(self, request: Request, view: APIView) -> bool:
        _, self._wait = take(self.rate_name, self.get_ident(request))
        return self._wait is None

    def wait(self) -> int | None:
        return self._wait


class RefreshThrottle(_IpRateThrottle):
    rate_name = "refresh"


class RegisterThrottle(_IpRateThrottle):
    rate_name = "register"
