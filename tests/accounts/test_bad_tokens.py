"""Bearer tokens that must be refused: each a clear 401 with a code, nothing changed."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.accounts.conftest import refresh

pytestmark = pytest.mark.django_db


def claims(user, **extra) -> dict:
    token = AccessToken.for_user(user)
    payload = dict(token.payload)
    payload.update(aud=settings.SIMPLE_JWT["AUDIENCE"], iss=settings.SIMPLE_JWT["ISSUER"])
    payload.update(extra)
    return payload


def sign(payload: dict, key: str | bytes | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(
        payload, settings.SIMPLE_JWT["SIGNING_KEY"] if key is None else key, algorithm
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def alg_none(user) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims(user)).encode())}."


def rsa_keys() -> tuple[bytes, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, public


def rs256_signed(user) -> str:
    return sign(claims(user), rsa_keys()[0], "RS256")


def hs256_with_public_key_as_secret(user) -> str:
    """The RS/HS confusion: HS256 "signed" with a public key an attacker can know."""
    public = rsa_keys()[1]
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims(user)).encode())
    import hashlib
    import hmac

    signature = hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def hand_edited(user, other) -> str:
    header, _, signature = str(AccessToken.for_user(user)).split(".")
    forged = claims(user, user_id=str(other.pk))
    return f"{header}.{b64(json.dumps(forged).encode())}.{signature}"


def expired(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=5))
    return str(token)


BAD_TOKENS = {
    "empty": lambda owner, outsider: "",
    "garbage": lambda owner, outsider: "not-a-jwt",
    "truncated": lambda owner, outsider: str(AccessToken.for_user(owner))[:-10],
    "alg none": lambda owner, outsider: alg_none(owner),
    "signed with another key": lambda owner, outsider: sign(claims(owner), "another-key-" * 4),
    "RS256 instead of HS256": lambda owner, outsider: rs256_signed(owner),
    "HS256 keyed with a public key": lambda owner, outsider: hs256_with_public_key_as_secret(owner),
    "expired": lambda owner, outsider: expired(owner),
    "refresh token as access": lambda owner, outsider: str(RefreshToken.for_user(owner)),
    "payload edited to another user": lambda owner, outsider: hand_edited(owner, outsider),
    "wrong audience": lambda owner, outsider: sign(claims(owner, aud="someone-else")),
    "wrong issuer": lambda owner, outsider: sign(claims(owner, iss="evil")),
    "no expiry": lambda owner, outsider: sign(
        {k: v for k, v in claims(owner).items() if k != "exp"}
    ),
    "no token type": lambda owner, outsider: sign(
        {k: v for k, v in claims(owner).items() if k != "token_type"}
    ),
    "10 kB": lambda owner, outsider: "a" * 10_000,
}


@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_bearer_token_is_401_token_not_valid(client, owner, outsider, make_token):
    response = client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {make_token(owner, outsider)}"}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_missing_header_is_401_not_authenticated(client):
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Basic b3duZXI6cHc=", "Token abc", "bearer"])
def test_other_authorization_schemes_are_401(client, owner, header):
    response = client.get("/api/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "token_not_valid"}


def test_valid_token_with_lowercase_scheme_is_accepted(client, owner):
    response = client.get(
        "/api/auth/me", headers={"Authorization": f"bearer {AccessToken.for_user(owner)}"}
    )
    assert response.status_code == 200


def test_token_within_leeway_is_accepted_but_not_beyond_it(client, owner):
    token = AccessToken.for_user(owner)
    token.set_exp(lifetime=-timedelta(seconds=settings.SIMPLE_JWT["LEEWAY"] - 3))
    ok = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    token.set_exp(lifetime=-timedelta(seconds=settings.SIMPLE_JWT["LEEWAY"] + 3))
    late = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert late.status_code == 401


def test_leeway_is_at_most_30_seconds_and_only_hs256_is_accepted():
    assert settings.SIMPLE_JWT["LEEWAY"] <= 30
    assert settings.SIMPLE_JWT["ALGORITHM"] == "HS256"
    assert settings.SIMPLE_JWT["ISSUER"] and settings.SIMPLE_JWT["AUDIENCE"]


def test_token_signed_with_a_fallback_key_still_verifies(client, owner, settings):
    old_key = "the-previous-signing-key-" * 2
    settings.JWT_SIGNING_KEY_FALLBACKS = [old_key]
    token = sign(claims(owner), old_key)
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    settings.JWT_SIGNING_KEY_FALLBACKS = []
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


@pytest.mark.parametrize(
    "make_token",
    [
        lambda owner: "garbage",
        lambda owner: sign({**claims(owner), "token_type": "refresh", "fam": "x"}, "other-key" * 4),
        lambda owner: str(RefreshToken.for_user(owner)),  # ours, but of no family
        lambda owner: "a" * 10_000,
    ],
    ids=["garbage", "another key", "no family", "10 kB"],
)
def test_bad_refresh_cookie_is_401_token_not_valid(client, owner, make_token):
    client.cookies[settings.REFRESH_COOKIE_NAME] = make_token(owner)
    response = refresh(client)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_well_formed_token_built_by_these_helpers_is_accepted(client, owner):
    """The control for the cases above: they fail for the one thing each changes."""
    token = sign(claims(owner))
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
