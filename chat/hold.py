"""A turn's model requests held until the turn is admitted.

Why: most of a warm turn's time before its first token is two things the peer
of a plain relay does not have to wait for one after the other -- our checks
(the token's session, the usage limits, the start rows) and the Agents SDK's
set-up of the request to the model. ``chat.turn.turn_prepare`` starts a new
conversation's agent as soon as the request's access token verifies (its
signature and expiry, no database), so the set-up runs while the checks do;
its first request to the model waits here until ``turn_begin`` has admitted
the turn (the figures are in docs/performance.md, "The agent set up while the
turn is admitted").

The rule this module keeps: **nothing reaches the model before the turn is
admitted.** Every path out goes through ``wait``: the OpenAI client's request
hook (``chat.agent``) for each HTTP request to the model, and the offline demo
model before it answers. A turn that is refused, or whose credentials fail,
is stopped while it waits (its task cancelled), so it never sends anything.

The hold travels with the turn's agent task as a context variable: the task
sets it before the SDK starts its own tasks, which inherit it. Code outside a
turn (no hold set) passes at once.
"""

from __future__ import annotations

import asyncio
import contextvars

_hold: contextvars.ContextVar[asyncio.Future[None] | None] = contextvars.ContextVar(
    "chat_turn_admission", default=None
)


def hold_here(admitted: asyncio.Future[None] | None) -> None:
    """Make ``admitted`` the running context's hold (the turn's agent task)."""
    _hold.set(admitted)


async def wait() -> None:
    """Return once the running turn is admitted (at once outside a held turn).

    Raises what the hold was failed with, or ``CancelledError`` when the turn is
    stopped meanwhile."""
    admitted = _hold.get()
    if admitted is not None and not admitted.done():
        # Shielded: one waiter cancelled must not cancel the hold for the others
        # (a turn whose agent makes several requests at once).
        await asyncio.shield(admitted)
    elif admitted is not None:
        admitted.result()
