"""The one typed reader of the process environment.

Every setting that comes from the environment goes through ``Env``. A value that
cannot be read raises ``EnvError`` naming the variable and the form it expects,
so a typo in ``.env`` stops start-up with one readable line (``manage.py`` and
``asgi.py`` print it without a traceback) instead of a half-configured server.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping
from typing import Any, overload
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DB_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}
_REDIS_SCHEMES = {"redis", "rediss", "unix"}
_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


class EnvError(ImproperlyConfigured):
    """A variable is set to something we cannot use."""

    def __init__(self, name: str, expected: str, value: str | None = None) -> None:
        self.name = name
        self.expected = expected
        # The value is not echoed: it may be a secret (a URL with a password).
        super().__init__(f"{name}: expected {expected}")


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def _raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def is_set(self, name: str) -> bool:
        return self._raw(name) is not None

    # A str default gives a str; without one the variable may be unset (None).
    @overload
    def str(self, name: builtins.str, default: builtins.str) -> builtins.str: ...
    @overload
    def str(self, name: builtins.str, default: None = None) -> builtins.str | None: ...
    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        value = self._raw(name)
        return default if value is None else value

    def bool(self, name: builtins.str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise EnvError(name, "a boolean (1/0, true/false, yes/no, on/off)")

    def int(self, name: builtins.str, default: int, *, min_value: int | None = None) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise EnvError(name, "an integer") from None
        if min_value is not None and number < min_value:
            raise EnvError(name, f"an integer >= {min_value}")
        return number

    def choice(
        self, name: builtins.str, default: builtins.str, choices: tuple[builtins.str, ...]
    ) -> builtins.str:
        value = self._raw(name)
        if value is None:
            return default
        if value not in choices:
            raise EnvError(name, "one of " + ", ".join(choices))
        return value

    def rate(self, name: builtins.str, default: builtins.str) -> builtins.str:
        """A DRF throttle rate: ``<count>/<period>``, period one of s, m, h, d (or longer)."""
        value = self._raw(name)
        if value is None:
            return default
        if not _RATE.match(value):
            raise EnvError(name, "a rate like 5/min or 100/hour")
        return value

    def list(self, name: builtins.str, default: list[builtins.str]) -> list[builtins.str]:
        value = self._raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def database(self, name: builtins.str, default: builtins.str) -> dict[builtins.str, Any]:
        """A ``DATABASES`` entry from a URL: ``sqlite:///path`` or ``postgres://...``."""
        url = self._raw(name) or default
        expected = "a URL like sqlite:///db.sqlite3 or postgres://user:password@host:5432/name"
        scheme = urlsplit(url).scheme
        if scheme not in _DB_SCHEMES:
            raise EnvError(name, expected)
        try:
            config: dict[str, Any] = dict(dj_database_url.parse(url))
        except (ValueError, KeyError):
            raise EnvError(name, expected) from None
        if scheme != "sqlite" and not (config.get("NAME") and config.get("HOST")):
            raise EnvError(name, expected)
        if scheme == "sqlite" and not config.get("NAME"):
            raise EnvError(name, expected)
        return config

    def redis_url(self, name: builtins.str) -> builtins.str | None:
        url = self._raw(name)
        if url is None:
            return None
        expected = "a URL like redis://host:6379/0"
        try:
            parts = urlsplit(url)
            port = parts.port  # raises ValueError on a non-numeric port
        except ValueError:
            raise EnvError(name, expected) from None
        if parts.scheme not in _REDIS_SCHEMES:
            raise EnvError(name, expected)
        if parts.scheme != "unix" and not parts.hostname:
            raise EnvError(name, expected)
        del port
        return url
