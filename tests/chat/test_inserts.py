"""chat.inserts.insert_new: the turn-start rows in one statement on PostgreSQL,
the same rows as the ORM writes, all or none."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chat.inserts import insert_new
from chat.models import Conversation, ConversationItem, Turn

pytestmark = pytest.mark.django_db


def _rows(conversation_id):
    def columns(obj, skip=()):
        return {
            f.attname: getattr(obj, f.attname)
            for f in obj._meta.concrete_fields
            if f.attname not in skip
        }

    conversation = Conversation.objects.get(id=conversation_id)
    turns = [columns(turn, {"id"}) for turn in Turn.objects.filter(conversation=conversation)]
    items = [
        columns(item, {"id", "turn_id"})
        for item in ConversationItem.objects.filter(conversation=conversation)
    ]
    return columns(conversation, {"id", "created_at", "updated_at"}), turns, items


def _new_rows(owner, text):
    conversation_id, run_id, now = uuid.uuid4(), uuid.uuid4(), timezone.now()
    return conversation_id, [
        Conversation(
            id=conversation_id, owner=owner, title="t", active_run=run_id, active_run_started_at=now
        ),
        Turn(
            id=run_id,
            conversation_id=conversation_id,
            model="",
            status=Turn.Status.RUNNING,
            started_at=now,
            lease_expires_at=now,
        ),
        ConversationItem(
            conversation_id=conversation_id,
            position=0,
            turn_id=run_id,
            data={"role": "user", "content": text, "nested": [1, None, "é"]},
        ),
    ]


def _strip_ids(rows):
    conversation, turns, items = rows
    conversation = {k: v for k, v in conversation.items() if k not in ("active_run",)}
    turns = [{k: v for k, v in t.items() if k not in ("conversation_id",)} for t in turns]
    items = [{k: v for k, v in i.items() if k != "conversation_id"} for i in items]
    return conversation, turns, items


def test_insert_new_writes_what_the_orm_writes(owner):
    fast_id, fast = _new_rows(owner, "hello")
    insert_new(*fast)
    orm_id, orm = _new_rows(owner, "hello")
    for obj in orm:
        obj.save(force_insert=True)
    fast_rows, orm_rows = _rows(fast_id), _rows(orm_id)
    # Same values in every column but the ids and the run-lock uuid, converted alike.
    times = ("active_run_started_at", "started_at", "lease_expires_at")
    assert _strip_ids(fast_rows)[2] == _strip_ids(orm_rows)[2]
    for fast_turn, orm_turn in zip(fast_rows[1], orm_rows[1], strict=True):
        assert {k: v for k, v in fast_turn.items() if k not in (*times, "conversation_id")} == {
            k: v for k, v in orm_turn.items() if k not in (*times, "conversation_id")
        }
    created = Conversation.objects.get(id=fast_id)
    assert created.created_at is not None and created.updated_at is not None  # auto_now applied
    assert all(not obj._state.adding for obj in fast)


def test_insert_new_writes_all_or_nothing(owner):
    _conversation_id, rows = _new_rows(owner, "hello")
    insert_new(*rows)
    again_id, again = _new_rows(owner, "again")
    again[1].id = rows[1].id  # the Turn's primary key is taken: the last-but-one row fails
    with pytest.raises(IntegrityError), transaction.atomic():  # the test's own savepoint
        insert_new(*again)
    assert not Conversation.objects.filter(id=again_id).exists()
    assert not ConversationItem.objects.filter(conversation_id=again_id).exists()


def test_one_statement_on_postgresql(owner, django_assert_num_queries):
    _, rows = _new_rows(owner, "hello")
    # PostgreSQL: one WITH statement; elsewhere: the ORM's transaction.
    expected = 1 if connection.vendor == "postgresql" else 3
    with django_assert_num_queries(expected):
        insert_new(*rows)
