"""A live turn's crash-safety writes, beside its producer (``chat.turn``).

- The checkpoint writer (``write_checkpoints``), started when the turn enters
  ``streaming`` and cancelled when it is recorded: every
  ``CHAT_CHECKPOINT_SECONDS`` at most it stores the reply so far (only when it
  changed: the question, the finished items, the unfinished text) and renews
  the turn's lease (``CHAT_RUN_LEASE_SECONDS``) in the same write
  (``services.turn_checkpoint``), or on its own at least every third of the
  lease. One write per period per turn at most, never per token. A turn whose
  lease was taken away (its worker stalled past it and someone recorded it as
  interrupted) interrupts itself.
- ``keep``: strong references to the turn's writes that outlive the task that
  started them (the recording write, an abandoned turn's), so a cancelled
  request cannot drop them half-way; a failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings

from chat import services

if TYPE_CHECKING:
    from chat.turn import ChatTurn

logger = logging.getLogger(__name__)

# Strong references to writes that outlive the task that started them.
_background: set[asyncio.Future[Any]] = set()


def keep(future: asyncio.Future[Any]) -> None:
    _background.add(future)
    future.add_done_callback(_background.discard)
    future.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("could not end a chat turn", exc_info=future.exception())


async def write_checkpoints(turn: ChatTurn) -> None:
    """Store the reply so far when it changed, and renew the lease, at most one
    write per ``CHAT_CHECKPOINT_SECONDS``."""
    loop = turn.loop
    every = settings.CHAT_CHECKPOINT_SECONDS
    renew_every = settings.CHAT_RUN_LEASE_SECONDS / 3
    saved: tuple[int, str] = (0, "")
    last_write = loop.time()
    while True:
        await asyncio.sleep(min(every, renew_every))
        pending = list(turn.session.pending)
        partial = turn.translator.partial_text
        changed = (len(pending), partial) != saved
        if not changed and loop.time() - last_write < renew_every:
            continue
        items = (
            services.turn_items(pending, message=turn.message, partial_text=partial)
            if changed
            else None
        )
        try:
            alive = await services.aturn_checkpoint(start=turn.start, items=items)
        except Exception as exc:
            # Not fatal: the next tick tries again; the lease has margin for it.
            logger.warning(
                "chat turn %s: checkpoint failed (%s)", turn.start.run_id, type(exc).__name__
            )
            continue
        if not alive:
            logger.error("chat turn %s: its lease was taken; stopping", turn.start.run_id)
            turn.interrupt()
            return
        saved, last_write = (len(pending), partial), loop.time()
