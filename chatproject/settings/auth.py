"""Authentication: SimpleJWT, the refresh cookie, API keys and their lifetimes."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from chatproject.env import EnvError
from chatproject.settings.core import DEBUG, SECRET_KEY, env

# --------------------------------------------------------------------------
# Authentication: SimpleJWT, refresh cookie, API keys
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
# --------------------------------------------------------------------------

JWT_ACCESS_SECONDS = env.int("JWT_ACCESS_SECONDS", default=300, min_value=1)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=7, min_value=1)
JWT_LEEWAY_SECONDS = env.int("JWT_LEEWAY_SECONDS", default=10, min_value=0)
if JWT_LEEWAY_SECONDS > 30:
    raise EnvError("JWT_LEEWAY_SECONDS", "an integer from 0 to 30")
JWT_ALGORITHM = env.choice(
    "JWT_ALGORITHM", default="HS256", choices=("HS256", "HS384", "HS512", "RS256", "ES256")
)
# Tokens are signed with JWT_SIGNING_KEY (default: the secret key). To rotate it
# without logging everyone out, move the old value to JWT_SIGNING_KEY_FALLBACKS
# (comma list, verify only) for one refresh lifetime. docs/security.md.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY") or SECRET_KEY
JWT_SIGNING_KEY_FALLBACKS = env.list("JWT_SIGNING_KEY_FALLBACKS", default=[])
JWT_VERIFYING_KEY = env.str("JWT_VERIFYING_KEY")
if not JWT_ALGORITHM.startswith("HS") and not (env.is_set("JWT_SIGNING_KEY") and JWT_VERIFYING_KEY):
    raise EnvError(
        "JWT_VERIFYING_KEY", f"a PEM public key, with a PEM JWT_SIGNING_KEY, for {JWT_ALGORITHM}"
    )
SIMPLE_JWT: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=JWT_ACCESS_SECONDS),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": JWT_ALGORITHM,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "VERIFYING_KEY": JWT_VERIFYING_KEY or "",
    "ISSUER": env.str("JWT_ISSUER", default="chatproject"),
    "AUDIENCE": env.str("JWT_AUDIENCE", default="chatproject-api"),
    "LEEWAY": JWT_LEEWAY_SECONDS,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}
# The refresh token lives only in this cookie: HttpOnly, SameSite=Strict, sent only
# to the auth endpoints, Secure unless DEBUG (plain-HTTP development).
REFRESH_COOKIE_NAME = "refresh_token"
REFRESH_COOKIE_PATH = "/api/auth/"
REFRESH_COOKIE_SECURE = not DEBUG
# API keys are stored as HMAC-SHA256(pepper, key). Set API_KEY_PEPPER explicitly
# before you ever rotate DJANGO_SECRET_KEY: changing the pepper invalidates every key.
API_KEY_PEPPER = (
    env.str("API_KEY_PEPPER")
    or hmac.new(SECRET_KEY.encode(), b"chatproject.api-key-pepper", hashlib.sha256).hexdigest()
)
API_KEY_LAST_USED_INTERVAL = 60  # seconds between last_used_at writes per key
AUTH_THROTTLE_CACHE_PREFIX = "auth-throttle"
ALLOW_SIGNUP = env.bool("ALLOW_SIGNUP", default=DEBUG)

# --------------------------------------------------------------------------
# Session and API key lifetimes (docs/security.md)
# --------------------------------------------------------------------------

# A session (token family) ends this long after its login, however often it is
# refreshed: the rotated refresh token's expiry is capped at it.
JWT_SESSION_MAX_DAYS = env.int("JWT_SESSION_MAX_DAYS", default=30, min_value=1)
# API keys: lifetime when none is asked for, and the longest allowed (0 = no limit).
API_KEY_DEFAULT_DAYS = env.int("API_KEY_DEFAULT_DAYS", default=90, min_value=0)
API_KEY_MAX_DAYS = env.int("API_KEY_MAX_DAYS", default=365, min_value=0)
if API_KEY_MAX_DAYS and not 0 < API_KEY_DEFAULT_DAYS <= API_KEY_MAX_DAYS:
    raise EnvError(
        "API_KEY_DEFAULT_DAYS", f"an integer from 1 to API_KEY_MAX_DAYS ({API_KEY_MAX_DAYS})"
    )
# Live (unrevoked, unexpired) keys per user.
API_KEY_MAX_PER_USER = env.int("API_KEY_MAX_PER_USER", default=20, min_value=1)
