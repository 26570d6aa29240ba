"""The API key format: ``sk_<prefix>_<secret>``.

The 12-hex-digit prefix is public (it is shown in lists and logs and finds the
row); the 256-bit secret is not stored anywhere. The database keeps an
HMAC-SHA256 of the whole key under ``API_KEY_PEPPER``, a per-deployment secret
that does not live in the database, so a leaked table alone cannot be used to
check guesses offline.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings

from chatproject.errors import ApiError

PREFIX_LENGTH = 12
_KEY_RE = re.compile(r"sk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


def generate() -> tuple[str, str]:
    """A new ``(prefix, plaintext)``; the caller stores only ``digest(plaintext)``."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    return prefix, f"sk_{prefix}_{secrets.token_urlsafe(32)}"


def digest(plaintext: str) -> str:
    return hmac.new(
        settings.API_KEY_PEPPER.encode(), plaintext.encode(), hashlib.sha256
    ).hexdigest()


def api_key_invalid(detail: str = "Invalid API key.") -> ApiError:
    return ApiError(401, "api_key_invalid", detail)


def prefix_of(plaintext: str) -> str:
    """The lookup prefix of a well-formed key, else ``ApiError`` (no query made)."""
    match = _KEY_RE.fullmatch(plaintext)
    if match is None:
        raise api_key_invalid("Malformed API key.")
    return match.group(1)
