"""The one authenticator's async entry points: plain async views and WebSocket scopes.

The async ORM runs in another thread (another connection), so these tests use
committed rows (``transaction=True``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import RequestFactory
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import api_key_services
from accounts.authentication import (
    Principal,
    authenticate_request,
    authenticate_scope,
)
from accounts.models import ApiKey, Scope
from chatproject.errors import ApiError

pytestmark = pytest.mark.django_db(transaction=True)


def http_request(**headers):
    return RequestFactory().post("/api/chat", headers=headers)


def ws_scope(**headers) -> dict:
    return {
        "type": "websocket",
        "path": "/ws/chat",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


async def code_of(awaitable) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        await awaitable
    return caught.value.status, caught.value.code


async def test_bearer_token_gives_a_principal_with_every_scope(owner):
    token = AccessToken.for_user(owner)

    principal = await authenticate_request(
        http_request(Authorization=f"Bearer {token}"), scope=Scope.CHAT
    )

    assert isinstance(principal, Principal)
    assert principal.user.pk == owner.pk
    assert principal.api_key is None and principal.scopes is None
    assert principal.has_scope("chat") and principal.has_scope("keys:read")
    assert principal.token_expires_at is not None
    assert principal.token_expires_at > timezone.now()


async def test_api_key_gives_a_principal_limited_to_its_scopes(owner):
    key, plaintext = await sync_to_async(api_key_services.api_key_create)(user=owner, name="s")

    principal = await authenticate_request(http_request(**{"X-API-Key": plaintext}), scope="chat")

    assert principal.user.pk == owner.pk
    assert principal.api_key.pk == key.pk
    assert principal.scopes == frozenset({"chat"})
    assert not principal.has_scope("keys:read")
    status = await code_of(
        authenticate_request(http_request(**{"X-API-Key": plaintext}), scope="keys:read")
    )
    assert status == (403, "insufficient_scope")


async def test_api_key_use_is_recorded_without_blocking_the_request(owner):
    key, plaintext = await sync_to_async(api_key_services.api_key_create)(user=owner, name="s")

    await authenticate_request(http_request(**{"X-API-Key": plaintext}))

    # Written in the background: wait for the row to say so.
    for _ in range(250):
        refreshed = await ApiKey.objects.aget(pk=key.pk)
        if refreshed.last_used_at is not None:
            break
        await asyncio.sleep(0.02)
    assert refreshed.last_used_at is not None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (401, "not_authenticated")),
        ({"Authorization": "Bearer "}, (401, "token_not_valid")),
        ({"Authorization": "Bearer nonsense"}, (401, "token_not_valid")),
        ({"Authorization": "Basic YTpi"}, (401, "not_authenticated")),
        ({"X-API-Key": "sk_bad"}, (401, "api_key_invalid")),
        ({"Authorization": "Bearer x", "X-API-Key": "sk_x"}, (400, "ambiguous_credentials")),
    ],
)
async def test_async_view_authentication_failures_have_codes(headers, expected):
    assert await code_of(authenticate_request(http_request(**headers))) == expected


async def test_async_view_rejects_refresh_tokens_and_inactive_users(owner):
    refresh = await sync_to_async(RefreshToken.for_user)(owner)
    assert await code_of(authenticate_request(http_request(Authorization=f"Bearer {refresh}"))) == (
        401,
        "token_not_valid",
    )

    access = AccessToken.for_user(owner)
    owner.is_active = False
    await owner.asave()
    assert await code_of(authenticate_request(http_request(Authorization=f"Bearer {access}"))) == (
        401,
        "user_inactive",
    )


async def test_401_errors_carry_the_bearer_challenge():
    with pytest.raises(ApiError) as caught:
        await authenticate_request(http_request())
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer realm="api"'


async def test_websocket_token_comes_from_the_subprotocol_header(owner):
    token = AccessToken.for_user(owner)

    principal = await authenticate_scope(ws_scope(**{"Sec-WebSocket-Protocol": f"bearer, {token}"}))

    assert principal.user.pk == owner.pk
    assert principal.token_expires_at is not None


async def test_websocket_accepts_an_api_key_header_for_scripts(owner):
    _, plaintext = await sync_to_async(api_key_services.api_key_create)(user=owner, name="s")
    principal = await authenticate_scope(
        ws_scope(**{"X-API-Key": plaintext}), required_scope="chat"
    )
    assert principal.api_key is not None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (401, "not_authenticated")),
        ({"Sec-WebSocket-Protocol": "bearer"}, (401, "not_authenticated")),
        ({"Sec-WebSocket-Protocol": "chat, something"}, (401, "not_authenticated")),
        ({"Sec-WebSocket-Protocol": "bearer, garbage"}, (401, "token_not_valid")),
        (
            {"Sec-WebSocket-Protocol": "bearer, abc", "X-API-Key": "sk_x"},
            (400, "ambiguous_credentials"),
        ),
    ],
)
async def test_websocket_authentication_failures_have_the_same_codes(headers, expected):
    assert await code_of(authenticate_scope(ws_scope(**headers))) == expected


async def test_websocket_rejects_an_expired_token(owner):
    token = AccessToken.for_user(owner)
    token.set_exp(lifetime=-timedelta(minutes=2))
    scope = ws_scope(**{"Sec-WebSocket-Protocol": f"bearer, {token}"})
    assert await code_of(authenticate_scope(scope)) == (401, "token_not_valid")


async def test_async_bearer_authentication_is_one_query_and_sees_deletion(owner, db_thread_queries):
    token = AccessToken.for_user(owner)
    principal = await authenticate_request(http_request(Authorization=f"Bearer {token}"))
    assert principal.user.pk == owner.pk and principal.user.is_active
    assert len(db_thread_queries) == 1  # is_active, nothing else

    await owner.adelete()
    assert await code_of(authenticate_request(http_request(Authorization=f"Bearer {token}"))) == (
        401,
        "token_not_valid",
    )


async def test_the_async_paths_give_the_whole_user(owner):
    # An async view may read any field: a deferred one would raise here.
    token = AccessToken.for_user(owner)
    principal = await authenticate_request(http_request(Authorization=f"Bearer {token}"))
    assert (principal.user.username, principal.user.email) == (owner.username, owner.email)
