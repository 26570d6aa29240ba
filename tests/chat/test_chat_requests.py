"""POST /api/chat refusals: everything that fails before the stream starts is a plain HTTP error."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.utils import timezone

from chat.models import Conversation, ConversationItem, Turn
from tests.chat.conftest import make_conversation, post_json, stream_post
from tests.conftest import bearer

CHAT = "/api/chat"

# Transactional: the view's queries run on chatproject.db's worker threads, which
# see committed rows only (as in production), not this test's open transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    return body


@pytest.fixture
def demo(settings):
    """The offline demo model, fast: no upstream anywhere."""
    settings.OPENAI_API_KEY = None
    settings.OPENAI_BASE_URL = None
    settings.CHAT_DEMO_TOKEN_MS = 0


def test_without_credentials_is_401_with_www_authenticate(client, db):
    response = post_json(client, CHAT, {"message": "hi"})
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_bad_token_is_401(client, db):
    response = post_json(client, CHAT, {"message": "hi"}, {"Authorization": "Bearer nope"})
    assert_error(response, 401, "token_not_valid")


def test_an_api_key_without_the_chat_scope_is_403(client, owner):
    from accounts.api_key_services import api_key_create

    _key, plaintext = api_key_create(user=owner, name="reader", scopes=["keys:read"])
    response = post_json(client, CHAT, {"message": "hi"}, {"X-API-Key": plaintext})
    assert_error(response, 403, "insufficient_scope")
    assert not Conversation.objects.exists()


def test_get_is_405(client, owner):
    response = client.get(CHAT, headers=bearer(owner))
    assert_error(response, 405, "method_not_allowed")


def test_a_body_over_1_mb_is_413_before_anything_else(client, db, settings):
    body = json.dumps({"message": "x" * 1_000_001})
    # No credentials at all: size is checked first.
    response = client.post(CHAT, data=body, content_type="application/json")
    assert_error(response, 413, "request_too_large")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        pytest.param("{not json", "parse_error", None, id="bad-json"),
        pytest.param("\xff\xfe", "parse_error", None, id="not-utf8"),
        pytest.param("[1, 2]", "parse_error", None, id="array"),
        pytest.param('"hello"', "parse_error", None, id="string"),
        pytest.param("", "parse_error", None, id="empty-body"),
        pytest.param({}, "invalid", "message", id="missing-message"),
        pytest.param({"message": ""}, "invalid", "message", id="empty-message"),
        pytest.param({"message": "  \n\t "}, "invalid", "message", id="blank-message"),
        pytest.param({"message": 42}, "invalid", "message", id="number-message"),
        pytest.param({"message": ["hi"]}, "invalid", "message", id="list-message"),
        pytest.param({"message": None}, "invalid", "message", id="null-message"),
        pytest.param('{"message": "a\\u0000b"}', "invalid", "message", id="nul-in-message"),
        pytest.param('{"message": "a\\ud800b"}', "invalid", "message", id="lone-surrogate"),
        pytest.param(
            {"message": "hi", "conversation_id": 7}, "invalid", "conversation_id", id="int-id"
        ),
        pytest.param(
            {"message": "hi", "conversation_id": {}}, "invalid", "conversation_id", id="object-id"
        ),
        pytest.param(
            {"message": "hi", "conversation_id": "abc"},
            "invalid",
            "conversation_id",
            id="not-a-uuid",
        ),
    ],
)
def test_bad_input_is_400(client, owner, body, code, field):
    response = post_json(client, CHAT, body, bearer(owner))
    payload = assert_error(response, 400, code)
    if field:
        assert list(payload["errors"]) == [field]
    assert not Conversation.objects.exists()


def test_a_message_over_the_limit_is_400(client, owner, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    response = post_json(client, CHAT, {"message": "x" * 11}, bearer(owner))
    payload = assert_error(response, 400, "invalid")
    assert "10" in payload["errors"]["message"][0]
    # Characters, not bytes: ten multi-byte characters are fine.
    assert stream_post(CHAT, {"message": "é" * 10}, bearer(owner)).status_code == 200


def test_an_unknown_conversation_is_404(client, owner):
    body = {"message": "hi", "conversation_id": "8d0b3a53-4d35-4a4e-9f3a-000000000000"}
    assert_error(post_json(client, CHAT, body, bearer(owner)), 404, "not_found")


def test_someone_elses_conversation_is_404_by_token_and_by_key(
    client, owner, outsider, outsider_key
):
    conversation = make_conversation(owner)
    body = {"message": "hi", "conversation_id": str(conversation.id)}
    assert_error(post_json(client, CHAT, body, bearer(outsider)), 404, "not_found")
    assert_error(post_json(client, CHAT, body, {"X-API-Key": outsider_key}), 404, "not_found")
    assert not ConversationItem.objects.exists()
    conversation.refresh_from_db()
    assert conversation.active_run is None


def test_a_run_in_flight_is_409(client, owner):
    conversation = make_conversation(owner)
    Conversation.objects.filter(id=conversation.id).update(
        active_run="2b1f9f8e-0000-4000-8000-000000000000", active_run_started_at=timezone.now()
    )
    body = {"message": "hi", "conversation_id": str(conversation.id)}
    assert_error(post_json(client, CHAT, body, bearer(owner)), 409, "run_in_progress")


def test_an_abandoned_run_lock_does_not_block_forever(client, owner, demo, settings):
    conversation = make_conversation(owner)
    long_ago = timezone.now() - timedelta(seconds=settings.CHAT_RUN_STALE_SECONDS + 1)
    Conversation.objects.filter(id=conversation.id).update(
        active_run="2b1f9f8e-0000-4000-8000-000000000000", active_run_started_at=long_ago
    )
    body = {"message": "hi", "conversation_id": str(conversation.id)}
    response = stream_post(CHAT, body, bearer(owner))
    assert response.status_code == 200
    assert response.body.endswith(b"data: [DONE]\n\n")
    conversation.refresh_from_db()
    assert conversation.active_run is None


def test_the_owners_api_key_with_chat_scope_can_chat(client, owner, owner_key, demo):
    response = stream_post(CHAT, {"message": "hi"}, {"X-API-Key": owner_key})
    assert response.status_code == 200
    body = response.body.decode()
    assert body.endswith("data: [DONE]\n\n")
    assert Conversation.objects.get().owner == owner


@pytest.mark.django_db(transaction=True)
async def test_the_view_streams_from_an_async_generator(
    owner, demo, settings, close_db_connections
):
    from asgiref.sync import sync_to_async

    settings.CHAT_DEMO_TOKEN_MS = 1  # tokens apart in time arrive as separate chunks

    headers = await sync_to_async(bearer)(owner)
    response = await AsyncClient().post(
        CHAT, {"message": "hi"}, content_type="application/json", headers=headers
    )
    assert response.status_code == 200
    # A sync iterator would be buffered whole under ASGI (docs/architecture.md).
    assert isinstance(response, StreamingHttpResponse)
    assert response.is_async is True
    chunks = [chunk async for chunk in response.streaming_content]
    assert len(chunks) > 10  # token by token, not one buffered blob
    assert chunks[-1] == b"data: [DONE]\n\n"


@pytest.mark.live
def test_a_body_over_1_mb_without_content_length_is_413(app_server, owner):
    def chunks():
        for _ in range(11):
            yield b"x" * 100_000

    # A generator body is sent chunked: no Content-Length to trust.
    response = httpx.post(
        f"{app_server.url}{CHAT}",
        content=chunks(),
        headers={**bearer(owner), "Content-Type": "application/json"},
    )
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


@pytest.mark.live
def test_a_trailing_slash_is_404_not_500(app_server, owner):
    response = httpx.post(
        f"{app_server.url}/api/chat/", json={"message": "x"}, headers=bearer(owner)
    )
    assert response.status_code == 404


def test_no_turn_is_recorded_for_a_refused_request(client, owner):
    post_json(client, CHAT, {"message": ""}, bearer(owner))
    assert not Turn.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_a_stream_that_never_started_still_releases_the_conversation(
    owner, demo, close_db_connections
):
    """The client left before Django ran the body: the response's close() records the turn."""
    import asyncio

    from asgiref.sync import sync_to_async

    conversation = await sync_to_async(make_conversation)(owner)
    headers = await sync_to_async(bearer)(owner)
    response = await AsyncClient().post(
        CHAT,
        {"message": "Are you there?", "conversation_id": str(conversation.id)},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200
    await sync_to_async(response.close)()  # what Django does after a cancelled send

    for _ in range(100):
        if await Turn.objects.filter(conversation=conversation).exclude(status="running").aexists():
            break
        await asyncio.sleep(0.02)
    turn = await Turn.objects.aget(conversation=conversation)
    assert turn.status == "interrupted"
    await conversation.arefresh_from_db()
    assert conversation.active_run is None
    items = [item.data async for item in ConversationItem.objects.filter(conversation=conversation)]
    assert items == [{"role": "user", "content": "Are you there?"}]
