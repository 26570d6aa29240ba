"""DjangoSession: the Agents SDK Session protocol on the ORM, writes deferred to the end of the turn."""

from __future__ import annotations

import pytest
from agents.memory import Session
from asgiref.sync import sync_to_async

from chat.models import ConversationItem
from chat.session import DjangoSession
from tests.chat.conftest import make_conversation

pytestmark = pytest.mark.django_db(transaction=True)


def stored(conversation) -> list:
    return list(
        ConversationItem.objects.filter(conversation=conversation)
        .order_by("position")
        .values_list("position", "data")
    )


async def test_session_reads_stored_items_then_pending_and_writes_when_the_turn_ends(
    owner, close_db_connections
):
    first = {"role": "user", "content": "one"}
    conversation = await sync_to_async(make_conversation)(owner, items=[first])
    session = DjangoSession(conversation.id)
    assert isinstance(session, Session)

    second = {"role": "assistant", "content": "two"}
    await session.add_items([second])
    assert await session.get_items() == [first, second]
    assert await session.get_items(limit=1) == [second]
    assert await sync_to_async(stored)(conversation) == [(0, first)]  # nothing written yet

    assert await sync_to_async(session.write)(session.take_pending()) == 1
    assert await sync_to_async(stored)(conversation) == [(0, first), (1, second)]
    # A fresh session sees the same history.
    assert await DjangoSession(conversation.id).get_items() == [first, second]


async def test_pop_and_clear(owner, close_db_connections):
    items = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    conversation = await sync_to_async(make_conversation)(owner, items=items)
    session = DjangoSession(conversation.id)
    await session.add_items([{"role": "user", "content": "c"}])

    assert await session.pop_item() == {"role": "user", "content": "c"}  # pending first
    assert await session.pop_item() == items[1]  # then the stored tail
    assert await sync_to_async(stored)(conversation) == [(0, items[0])]

    await session.add_items([{"role": "user", "content": "d"}])
    await sync_to_async(session.write)(session.take_pending())
    assert await sync_to_async(stored)(conversation) == [
        (0, items[0]),
        (1, {"role": "user", "content": "d"}),
    ]

    await session.clear_session()
    assert await session.get_items() == []
    assert await session.pop_item() is None
    assert await sync_to_async(stored)(conversation) == []
