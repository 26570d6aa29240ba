"""Signing and verifying JWTs: the only place that touches PyJWT.

Tokens are *built* with SimpleJWT's classes (so ``AccessToken.for_user`` in a
test or a script gives a token this module accepts) but *verified* here, because
the checks we need are stricter than the library's defaults:

- only the configured algorithm (``alg: none`` and RS/HS confusion fail);
- ``exp``, ``iat``, ``jti``, ``iss``, ``aud`` and ``token_type`` must be present,
  and the type must be the one the caller expects (a refresh token is never an
  access token, unlike SimpleJWT's ``UntypedToken``);
- an old signing key in ``JWT_SIGNING_KEY_FALLBACKS`` still verifies, so the key
  can be rotated without logging everyone out at once.

Everything here is CPU only, safe to call on the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import jwt
from django.conf import settings
from rest_framework_simplejwt.settings import api_settings

from chatproject.errors import ApiError

# A real token is ~300 bytes; refuse to parse anything absurd.
MAX_TOKEN_LENGTH = 4096
_REQUIRED = ["exp", "iat", "jti", "iss", "aud", "token_type"]


def token_invalid(detail: str = "Token is invalid or expired.") -> ApiError:
    return ApiError(401, "token_not_valid", detail)


def _verifying_keys() -> list[str]:
    primary = api_settings.VERIFYING_KEY or api_settings.SIGNING_KEY
    if not api_settings.ALGORITHM.startswith("HS"):
        return [primary]
    return [primary, *getattr(settings, "JWT_SIGNING_KEY_FALLBACKS", [])]


def decode(raw: str, *, kind: Literal["access", "refresh"]) -> dict[str, Any]:
    """Verify ``raw`` and return its claims, or raise ``ApiError`` 401 token_not_valid."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise token_invalid()
    payload: dict[str, Any] | None = None
    for key in _verifying_keys():
        try:
            payload = jwt.decode(
                raw,
                key,
                algorithms=[api_settings.ALGORITHM],
                audience=api_settings.AUDIENCE,
                issuer=api_settings.ISSUER,
                leeway=api_settings.LEEWAY,
                options={"require": _REQUIRED},
            )
            break
        except jwt.InvalidSignatureError:
            continue  # maybe signed with a fallback key
        except jwt.ExpiredSignatureError:
            raise token_invalid("Token has expired.") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise token_invalid() from None
    if payload is None:
        raise token_invalid()
    if payload.get("token_type") != kind:
        raise token_invalid(f"Not an {kind} token." if kind == "access" else "Not a refresh token.")
    if payload.get(api_settings.USER_ID_CLAIM) is None:
        raise token_invalid()
    return payload


def user_id_of(payload: dict[str, Any]) -> int:
    try:
        return int(payload[api_settings.USER_ID_CLAIM])
    except (KeyError, TypeError, ValueError):
        raise token_invalid() from None


def expiry_of(payload: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(payload["exp"]), tz=UTC)


def bearer_access_verifies(authorization: str | None) -> bool:
    """Is ``authorization`` ``Bearer <an access token whose signature, expiry and
    type verify>``? Never authentication -- the token's session and user are not
    checked (``accounts.authentication`` does that, on the database) -- only a
    cheap sign that work started ahead of it is for a caller holding a real
    token (the chat views set up a turn's agent meanwhile)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        decode(token.strip(), kind="access")
    except ApiError:
        return False
    return True
