"""The states of a chat turn, the moves allowed between them, and what the ``Turn``
row records for each end (``chat.turn.ChatTurn`` moves through them)."""

from __future__ import annotations

import enum

from chat.models import Turn


class TurnState(enum.StrEnum):
    STARTING = "starting"
    STREAMING = "streaming"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def ended(self) -> bool:
        return self not in (TurnState.STARTING, TurnState.STREAMING)


TRANSITIONS: dict[TurnState, frozenset[TurnState]] = {
    TurnState.STARTING: frozenset(
        {TurnState.STREAMING, TurnState.CANCELLED, TurnState.INTERRUPTED}
    ),
    TurnState.STREAMING: frozenset(
        {TurnState.COMPLETED, TurnState.FAILED, TurnState.CANCELLED, TurnState.INTERRUPTED}
    ),
}

# What the ``Turn`` row says: a stop and a lost client both leave a partial reply.
RECORDED_AS = {
    TurnState.COMPLETED: Turn.Status.COMPLETE,
    TurnState.FAILED: Turn.Status.FAILED,
    TurnState.CANCELLED: Turn.Status.INTERRUPTED,
    TurnState.INTERRUPTED: Turn.Status.INTERRUPTED,
}
