"""A new conversation's agent set up ahead of admission (``chat.turn.turn_prepare``,
``chat.hold``): nothing reaches the model before ``turn_begin`` admits the turn;
a turn refused, or whose caller fails authentication, is stopped and sends
nothing. In process, against the fake upstream (real HTTP to it) and the offline
demo model; the views' use of it over HTTP by ``test_chat_requests.py`` and the
revocation tests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.tokens import bearer_access_verifies
from chat.inputs import ChatInput
from chat.models import Conversation
from chat.turn import turn_begin, turn_prepare
from chatproject import shutdown
from chatproject.errors import ApiError
from tests.accounts.conftest import login
from tests.chat.test_turn_lifecycle import produce
from tests.fake_openai import text
from usage.models import UsageLimits, UsageRecord

# Long enough for an unheld agent to have sent its request many times over
# (its set-up takes milliseconds).
SETTLE_SECONDS = 0.4


@pytest.fixture
def hold_env(transactional_db, upstream_settings, inproc_runs, fake, monkeypatch):
    monkeypatch.setattr(shutdown, "_draining", False)
    monkeypatch.setattr(shutdown, "_live", set())
    return fake


def deltas(produced: list[dict[str, Any]]) -> str:
    return "".join(event["delta"] for event in produced if event["type"] == "text_delta")


async def test_the_first_model_request_waits_for_admission(hold_env, owner):
    hold_env.push(text("Held, then sent."))
    data = ChatInput(message="Hello")

    prepared = turn_prepare(data)
    assert prepared is not None
    await asyncio.sleep(SETTLE_SECONDS)
    # The SDK has set the run up (what the hold is for) but sent nothing.
    assert prepared._result is not None
    assert hold_env.requests == []

    turn = await turn_begin(user=owner, data=data, prepared=prepared)
    assert turn is prepared
    produced = await produce(turn)

    assert deltas(produced) == "Held, then sent."
    assert len(hold_env.requests) == 1
    conversation = await Conversation.objects.aget(pk=turn.start.conversation_id)
    assert conversation.owner_id == owner.pk


async def test_a_refused_turn_is_stopped_and_sends_nothing(hold_env, owner):
    hold_env.push(text("Never asked for."))
    await UsageLimits.objects.acreate(user=owner, daily_tokens=10)
    await UsageRecord.objects.acreate(user=owner, model="m", input_tokens=6, output_tokens=4)
    data = ChatInput(message="Over budget")

    prepared = turn_prepare(data)
    assert prepared is not None
    with pytest.raises(ApiError) as refused:
        await turn_begin(user=owner, data=data, prepared=prepared)

    assert (refused.value.status, refused.value.code) == (429, "token_quota_exceeded")
    await asyncio.sleep(SETTLE_SECONDS)
    assert prepared._pump is not None and prepared._pump.done()
    assert hold_env.requests == []
    assert not await Conversation.objects.filter(pk=prepared.start.conversation_id).aexists()


async def test_a_turn_discarded_before_admission_sends_nothing(hold_env):
    """What the views do when the caller's credentials fail: ``discard``."""
    hold_env.push(text("Never asked for."))
    prepared = turn_prepare(ChatInput(message="Who am I?"))
    assert prepared is not None
    await asyncio.sleep(0.05)

    prepared.discard()

    await asyncio.sleep(SETTLE_SECONDS)
    assert prepared._pump is not None and prepared._pump.done()
    assert hold_env.requests == []


async def test_an_existing_conversation_is_not_prepared(hold_env, owner):
    conversation = await Conversation.objects.acreate(owner=owner, title="t")
    assert turn_prepare(ChatInput(message="again", conversation_id=conversation.pk)) is None


async def test_the_offline_demo_model_waits_too(transactional_db, inproc_runs, settings, owner):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.CHAT_DEMO_TOKEN_MS = 0
    data = ChatInput(message="Hello demo")

    prepared = turn_prepare(data)
    assert prepared is not None
    await asyncio.sleep(SETTLE_SECONDS)
    assert prepared._queue is not None and prepared._queue.empty()  # no reply yet

    turn = await turn_begin(user=owner, data=data, prepared=prepared)
    produced = await produce(turn)

    assert deltas(produced)
    assert produced[-1]["type"] == "usage"


@pytest.mark.django_db
def test_only_a_bearer_access_token_that_verifies_counts(owner):
    access = str(AccessToken.for_user(owner))
    assert bearer_access_verifies(f"Bearer {access}")
    assert bearer_access_verifies(f"bearer  {access} ")
    assert not bearer_access_verifies(None)
    assert not bearer_access_verifies(access)  # no scheme
    assert not bearer_access_verifies(f"Basic {access}")
    assert not bearer_access_verifies(f"Bearer {access[:-4]}AAAA")  # forged signature
    assert not bearer_access_verifies(f"Bearer {RefreshToken.for_user(owner)}")
    expired = AccessToken.for_user(owner)
    expired.set_exp(lifetime=-expired.lifetime - expired.lifetime)
    assert not bearer_access_verifies(f"Bearer {expired}")


@pytest.fixture
async def revoked_access(owner) -> str:
    """An access token that verifies, of a session that has ended."""
    access = (await sync_to_async(login)(_sync_client(), "owner")).json()["access"]
    await _end_sessions(owner)
    return access


@pytest.mark.django_db(transaction=True)
async def test_a_revoked_token_gets_its_401_and_nothing_is_sent_or_stored(
    hold_env, revoked_access, async_client: AsyncClient
):
    """The token verifies (so the view sets the turn up) but its session has ended."""
    hold_env.push(text("Never asked for."))

    response = await chat_post(async_client, revoked_access, {"message": "hello"})

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    await asyncio.sleep(SETTLE_SECONDS)
    assert hold_env.requests == []
    assert not await Conversation.objects.aexists()


@pytest.mark.django_db(transaction=True)
async def test_a_revoked_token_with_a_bad_body_is_still_a_401(
    hold_env, revoked_access, async_client: AsyncClient
):
    """Credentials are answered before the input, as without the early set-up."""
    response = await chat_post(async_client, revoked_access, {"message": ""})

    assert (response.status_code, response.json()["code"]) == (401, "token_revoked")


async def chat_post(client: AsyncClient, access: str, body: dict[str, Any]) -> Any:
    return await client.post(
        "/api/chat",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {access}"},
    )


def _sync_client() -> Any:
    from django.test import Client

    return Client()


@sync_to_async
def _end_sessions(user: Any) -> None:
    from accounts import sessions
    from accounts.models import TokenFamily

    for family in TokenFamily.objects.filter(user=user):
        sessions.token_family_revoke(family=family)
