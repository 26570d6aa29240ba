"""An Agents SDK ``Session`` on the Django ORM, with writes deferred to the end of a turn.

The SDK calls ``add_items`` several times per run (the user's message before the
first model request, then the items of each model turn). Writing each call
through would put a database round trip in front of the first token, so this
session keeps added items in memory (``pending``); at the end of the turn
``take_pending`` hands them over and ``write_turn_items`` stores them in one
``bulk_create``, inside ``chat.services.turn_finish``'s transaction (which also
records the ``Turn`` and releases the run lock). The turn's checkpoints
(``chat.services.turn_checkpoint``) store a copy of them the same way. Reads see the stored items followed by the pending ones, so the session
behaves like any other ``Session`` to the SDK.
"""

from __future__ import annotations

import copy
from typing import Any

from agents.memory import SessionABC, SessionSettings

from chat.models import ConversationItem
from chatproject import db


def _storable(value: Any) -> Any:
    """``value`` without what PostgreSQL's jsonb refuses: NUL characters and lone
    surrogates (a model can emit either; SQLite would take them)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def turn_item_rows(start: Any, items: list[dict[str, Any]]) -> list[ConversationItem]:
    """The unsaved rows of turn ``start``'s (a ``chat.services.TurnStart``)
    ``items``, placed right after the history it started from."""
    base = len(start.history)
    return [
        ConversationItem(
            conversation_id=start.conversation_id,
            position=base + offset,
            turn_id=start.run_id,
            data=_storable(item),
        )
        for offset, item in enumerate(items)
    ]


def write_turn_items(start: Any, items: list[dict[str, Any]]) -> None:
    """Replace the items of turn ``start`` with ``items`` (sync). The turn holds
    the conversation's run lock, so nobody else writes after its history."""
    ConversationItem.objects.filter(
        conversation_id=start.conversation_id, turn_id=start.run_id
    ).delete()
    ConversationItem.objects.bulk_create(turn_item_rows(start, items))


def stored_items(conversation_id: Any) -> list[dict[str, Any]]:
    """A conversation's stored history items, oldest first (sync)."""
    return list(
        ConversationItem.objects.filter(conversation_id=conversation_id)
        .order_by("position")
        .values_list("data", flat=True)
    )


class DjangoSession(SessionABC):
    session_settings: SessionSettings | None = None

    def __init__(self, conversation_id: Any, *, stored: list[dict[str, Any]] | None = None) -> None:
        self.session_id = str(conversation_id)
        self.conversation_id = conversation_id
        self.pending: list[dict[str, Any]] = []
        # The stored items, read once (or handed in by ``turn_claim``, which reads
        # them in the same hop as the lock claim). A turn holds the run lock, so
        # nobody else writes this conversation's history while it is in use.
        self._stored: list[dict[str, Any]] | None = stored

    def forget_stored(self) -> None:
        """Re-read the history on next use (someone else may have written it)."""
        self._stored = None

    def _rows(self) -> Any:
        return ConversationItem.objects.filter(conversation_id=self.conversation_id)

    def _delete_last(self) -> None:
        last = self._rows().order_by("-position").first()
        if last is not None:
            last.delete()

    def _delete_all(self) -> None:
        self._rows().delete()

    async def _load(self) -> list[dict[str, Any]]:
        if self._stored is None:
            self._stored = await db.run(stored_items, self.conversation_id)
        return self._stored

    async def get_items(self, limit: int | None = None) -> list[Any]:
        items = [*await self._load(), *self.pending]
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return copy.deepcopy(items)

    async def add_items(self, items: list[Any]) -> None:
        self.pending.extend(copy.deepcopy(list(items)))

    async def pop_item(self) -> Any | None:
        if self.pending:
            return self.pending.pop()
        stored = await self._load()
        if not stored:
            return None
        await db.run(self._delete_last)
        return stored.pop()

    async def clear_session(self) -> None:
        self.pending.clear()
        await db.run(self._delete_all)
        self._stored = []

    def take_pending(self) -> list[dict[str, Any]]:
        items, self.pending = self.pending, []
        return items

    def write(self, items: list[dict[str, Any]], *, turn_id: Any = None) -> int:
        """Append ``items`` to the stored history (sync: runs inside ``turn_finish``)."""
        if not items:
            return 0
        if self._stored is not None:
            # Positions are always 0..n-1: items are only appended, popped from the end
            # or cleared, so the loaded history's length is the next position.
            start = len(self._stored)
        else:
            last = self._rows().order_by("-position").values_list("position", flat=True).first()
            start = 0 if last is None else last + 1
        ConversationItem.objects.bulk_create(
            ConversationItem(
                conversation_id=self.conversation_id,
                position=start + offset,
                turn_id=turn_id,
                data=_storable(item),
            )
            for offset, item in enumerate(items)
        )
        if self._stored is not None:
            self._stored.extend(items)
        return len(items)
