"""Writes for conversations and turns.

A turn touches the database at its start (claim the run lock of an existing
conversation and read its history, or insert a new conversation holding the
lock; either way the ``Turn`` row, ``running``, and the user's message are
written in the same transaction), every ``CHAT_CHECKPOINT_SECONDS`` at most
while it streams (``turn_checkpoint``: the partial reply and the lease), and
at its end (``turn_finish``: its history items, the ``Turn`` row and the lock
release in one transaction), never per token. A turn whose lease ran out (its
worker died) is recorded as interrupted by whoever notices first
(``turn_expire``, the next claim): one conditional UPDATE, so it happens once. Each is one job on ``chatproject.db``'s worker threads
(several queries per hop, not one hop per query) on a connection that stays
open between turns; a stream holds no connection while it streams, so 200 open
streams need no more connections than ``DB_THREADS``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chat.inserts import insert_new
from chat.models import Conversation, ConversationItem, Turn
from chat.selectors import is_user_message
from chat.session import DjangoSession, stored_items, turn_item_rows, write_turn_items
from chatproject import db
from chatproject.errors import ApiError

TITLE_CHARS = 60
TITLE_MAX_CHARS = 200


def title_from_message(message: str) -> str:
    """The first line-free ~60 characters of the first message, cut at a word."""
    text = " ".join(message.split())
    if len(text) <= TITLE_CHARS:
        return text
    cut = text[: TITLE_CHARS - 1]
    if " " in cut[TITLE_CHARS // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:-") + "…"


# ``Turn.error_code`` of a turn recorded as interrupted because its lease ran out.
LEASE_EXPIRED = "lease_expired"


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.CHAT_RUN_LEASE_SECONDS)


@dataclass(frozen=True)
class TurnStart:
    """What a turn starts from: its conversation (claimed by this turn's run id)
    and the history to send upstream."""

    conversation_id: uuid.UUID
    title: str
    run_id: uuid.UUID
    created: bool
    started_at: datetime
    history: tuple[dict[str, Any], ...] = ()


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "Conversation not found.")


def _question_rows(start: TurnStart, message: str) -> list[Any]:
    """The ``running`` Turn row and the user's message: kept whatever happens next."""
    turn = Turn(
        id=start.run_id,
        conversation_id=start.conversation_id,
        model="",
        status=Turn.Status.RUNNING,
        started_at=start.started_at,
        lease_expires_at=_lease_until(start.started_at),
    )
    return [turn, *turn_item_rows(start, [_user_item(message)])]


def new_conversation_start(*, message: str) -> TurnStart:
    """The start of a new conversation's first turn: ids drawn here, no history.
    Nothing is stored until ``conversation_create``."""
    return TurnStart(
        conversation_id=uuid.uuid4(),
        title=title_from_message(message),
        run_id=uuid.uuid4(),
        created=True,
        started_at=timezone.now(),
    )


def _create_conversation(*, user: Any, start: TurnStart, message: str) -> None:
    conversation = Conversation(
        id=start.conversation_id,
        owner=user,
        title=start.title,
        active_run=start.run_id,
        active_run_started_at=start.started_at,
    )
    insert_new(conversation, *_question_rows(start, message))


async def conversation_create(*, user: Any, start: TurnStart, message: str) -> None:
    """Store ``start``'s new conversation, locked by its turn, with the ``running``
    Turn row and the user's message: one statement (``chat.inserts``), one hop."""
    await db.run(_create_conversation, user=user, start=start, message=message)


def _interrupt(turns: Any, now: datetime) -> int:
    return int(
        turns.filter(status=Turn.Status.RUNNING).update(
            status=Turn.Status.INTERRUPTED,
            error_code=LEASE_EXPIRED,
            finished_at=now,
            lease_expires_at=None,
        )
    )


def _expire_leases(conversation_id: uuid.UUID, now: datetime) -> None:
    """Record the conversation's running turns whose lease ran out as interrupted,
    and release the lock they held."""
    expired = list(
        Turn.objects.filter(
            conversation_id=conversation_id,
            status=Turn.Status.RUNNING,
            lease_expires_at__lt=now,
        ).values_list("id", flat=True)
    )
    if expired and _interrupt(Turn.objects.filter(id__in=expired), now):
        Conversation.objects.filter(id=conversation_id, active_run__in=expired).update(
            active_run=None, active_run_started_at=None
        )


def turn_expire(*, run_id: uuid.UUID | str) -> tuple[str | None, bool]:
    """A run's ``Turn`` status, after recording it as interrupted if its lease ran
    out; and whether it ended that way (here or elsewhere: its worker is gone).
    ``None``: no such turn (its conversation was deleted)."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            Turn.objects.filter(id=run_id)
            .values_list("conversation_id", "status", "error_code")
            .first()
        )
        if row is None:
            return None, False
        conversation_id, status, error_code = row
        if status != Turn.Status.RUNNING:
            return status, error_code == LEASE_EXPIRED
        if not _interrupt(Turn.objects.filter(id=run_id, lease_expires_at__lt=now), now):
            return status, False
        Conversation.objects.filter(id=conversation_id, active_run=run_id).update(
            active_run=None, active_run_started_at=None
        )
    return Turn.Status.INTERRUPTED, True


async def aturn_expire(*, run_id: uuid.UUID | str) -> tuple[str | None, bool]:
    return await db.run(turn_expire, run_id=run_id)


def _drop_last_turn(conversation_id: uuid.UUID) -> None:
    """Delete the last user message and everything after it, with their ``Turn`` rows."""
    items = ConversationItem.objects.filter(conversation_id=conversation_id)
    last_user = None
    for position, data in items.order_by("-position").values_list("position", "data").iterator():
        if is_user_message(data):
            last_user = position
            break
    if last_user is None:
        raise ApiError(
            409, "nothing_to_replace", "This conversation has no message to replace yet."
        )
    dropped = items.filter(position__gte=last_user)
    turn_ids = set(dropped.exclude(turn=None).values_list("turn_id", flat=True))
    dropped.delete()
    Turn.objects.filter(id__in=turn_ids).delete()


def _claim_conversation(
    *, user: Any, conversation_id: uuid.UUID, message: str, replace_last_turn: bool
) -> TurnStart:
    now = timezone.now()
    run_id = uuid.uuid4()
    title = (
        Conversation.objects.filter(id=conversation_id, owner=user)
        .values_list("title", flat=True)
        .first()
    )
    if title is None:
        raise _not_found()
    # The lock: one conditional UPDATE, atomic in every database. Of two
    # concurrent posts exactly one sees a free (or abandoned) lock. A refused
    # replacement rolls the claim back with it.
    stale = now - timedelta(seconds=settings.CHAT_RUN_STALE_SECONDS)
    with transaction.atomic():
        _expire_leases(conversation_id, now)
        claimed = (
            Conversation.objects.filter(id=conversation_id, owner=user)
            .filter(Q(active_run__isnull=True) | Q(active_run_started_at__lt=stale))
            .update(active_run=run_id, active_run_started_at=now)
        )
        if not claimed:
            if not Conversation.objects.filter(id=conversation_id, owner=user).exists():
                raise _not_found()  # deleted in between
            raise ApiError(
                409, "run_in_progress", "A reply is already being generated in this conversation."
            )
        # Holding the lock, any turn still ``running`` here is an orphan (a lock
        # taken over as stale): it must not write into the history any more.
        _interrupt(Turn.objects.filter(conversation_id=conversation_id), now)
        if replace_last_turn:
            _drop_last_turn(conversation_id)
        history = tuple(stored_items(conversation_id))
        start = TurnStart(conversation_id, title, run_id, False, now, history)
        insert_new(*_question_rows(start, message))
    return start


async def turn_claim(
    *,
    user: Any,
    message: str,
    conversation_id: uuid.UUID,
    replace_last_turn: bool = False,
) -> TurnStart:
    """Claim an existing conversation for a new turn (404 / 409 as ``ApiError``):
    locked by this turn, its history read, the ``running`` Turn row and the
    user's message stored, in one transaction, one hop to ``chatproject.db``'s
    threads.

    ``replace_last_turn`` drops the conversation's last turn in the claim's
    transaction: the new turn takes its place (409 ``nothing_to_replace`` when
    there is no user message yet).
    """
    return await db.run(
        _claim_conversation,
        user=user,
        conversation_id=conversation_id,
        message=message,
        replace_last_turn=replace_last_turn,
    )


def _user_item(message: str) -> dict[str, Any]:
    return {"role": "user", "content": message}


def _has_user_item(items: list[dict[str, Any]]) -> bool:
    return any(isinstance(item, dict) and item.get("role") == "user" for item in items)


def _has_text(items: list[dict[str, Any]], text: str) -> bool:
    for item in items:
        if not (isinstance(item, dict) and item.get("role") == "assistant"):
            continue
        content = item.get("content")
        if content == text:
            return True
        if (
            isinstance(content, list)
            and "".join(part.get("text", "") for part in content if isinstance(part, dict)) == text
        ):
            return True
    return False


def turn_items(
    items: list[dict[str, Any]], *, message: str, partial_text: str
) -> list[dict[str, Any]]:
    """A turn's history items: the user's message first (always kept), then the
    run's items, then the unfinished reply text as an assistant message."""
    items = list(items)
    if not _has_user_item(items):
        items.insert(0, _user_item(message))
    if partial_text and not _has_text(items, partial_text):
        items.append({"role": "assistant", "content": partial_text})
    return items


def turn_checkpoint(*, start: TurnStart, items: list[dict[str, Any]] | None) -> bool:
    """Renew the turn's lease and, with ``items`` (``turn_items``), replace its
    stored items with them. False once the turn is no longer running here (its
    lease ran out and someone recorded it as interrupted)."""
    now = timezone.now()
    with transaction.atomic():
        renewed = Turn.objects.filter(id=start.run_id, status=Turn.Status.RUNNING).update(
            lease_expires_at=_lease_until(now)
        )
        if renewed and items is not None:
            write_turn_items(start, items)
    return bool(renewed)


async def aturn_checkpoint(**kwargs: Any) -> bool:
    return await db.run(turn_checkpoint, **kwargs)


def turn_finish(
    *,
    start: TurnStart,
    session: DjangoSession,
    items: list[dict[str, Any]],
    message: str,
    status: str,
    model: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    error_code: str = "",
    partial_text: str = "",
) -> Turn | None:
    """Record a finished turn in one transaction: its items, the ``Turn``, the lock release.

    ``items`` are the turn's new history items (the session's pending ones, taken
    on the event loop so a late SDK callback cannot change them mid-write).
    They replace what the turn stored so far (the question, a checkpoint).

    The user's message is always kept (a failed or interrupted turn still shows
    what was asked); unfinished reply text is kept as an assistant message and
    the ``Turn`` says how it ended. None when the turn was already recorded
    (its lease ran out) or its conversation deleted: what is stored stays.
    """
    now = timezone.now()
    with transaction.atomic():
        recorded = Turn.objects.filter(id=start.run_id, status=Turn.Status.RUNNING).update(
            model=model[:200],
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            status=status,
            error_code=error_code,
            finished_at=now,
            lease_expires_at=None,
        )
        if not recorded:
            return None
        Conversation.objects.filter(id=start.conversation_id, active_run=start.run_id).update(
            active_run=None, active_run_started_at=None, updated_at=now
        )
        write_turn_items(start, turn_items(items, message=message, partial_text=partial_text))
        session.forget_stored()
    return Turn.objects.get(id=start.run_id)


async def aturn_finish(**kwargs: Any) -> Turn | None:
    return await db.run(turn_finish, **kwargs)


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    conversation.title = title
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation and its history, unless a reply is being written.

    Django's ``delete()`` finds the related rows before it opens its own
    transaction, so a turn finishing in between would leave rows pointing at a
    deleted conversation. Here the lookup, the check and the delete share one
    transaction holding the conversation's row lock (the same row a turn's
    finish and a new run's claim update), and a conversation with a live run
    answers 409 instead of losing the reply mid-write.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CHAT_RUN_STALE_SECONDS)
    with transaction.atomic():
        _expire_leases(conversation.pk, now)
        locked = Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
        if locked is None:
            raise ApiError(404, "not_found", "Conversation not found.")
        started = locked.active_run_started_at
        # Live unless stale, as in the claim's SQL (a NULL start never compares as stale).
        if locked.active_run is not None and (started is None or started >= stale):
            raise ApiError(
                409, "run_in_progress", "A reply is being generated; stop it or wait, then delete."
            )
        locked.delete()
