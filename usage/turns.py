"""The hook API the chat core calls around every turn (SSE, background run, WebSocket).

::

    slot = await turn_admit(user=user, api_key=key, conversation_id=cid)  # may raise 429
    try:
        ...                       # stream (the slot renews its lease by itself)
    finally:
        await slot.release(model=name, input_tokens=i, output_tokens=o)  # once, idempotent

``turn_admit`` runs before the first byte of a response, so a refusal is an
ordinary HTTP 429 (or a WebSocket error frame), never a 200 stream. It checks,
in this order, and raises ``ApiError(429, code)`` with ``Retry-After``:

1. ``concurrent_turns_exceeded``: the user already has ``CHAT_CONCURRENT_TURNS``
   live turns (``Retry-After: 1``);
2. ``turn_rate_exceeded``: ``CHAT_TURNS_PER_MINUTE`` turns started in the last
   60 seconds (``Retry-After``: until the oldest of them is a minute old);
3. ``token_quota_exceeded``: the user's tokens today (UTC) reached
   ``CHAT_DAILY_TOKENS`` (``Retry-After``: seconds to the next UTC midnight);
4. ``key_quota_exceeded``: the API key's own ``daily_tokens`` reached (same).

The first two are one atomic step of the slot store (``usage.slots``), so
parallel starts never exceed the caps; a turn refused by 3 or 4 gives its slot
back and does not count as started. Token quotas are checked against the
ledger as it stands when the turn starts: turns already running finish, which
bounds the overshoot (docs/customising.md, "Limits and quotas").

Cost per admitted turn: one job on ``chatproject.db``'s threads (the limits
and today's sums, in SQL built once; the chat views have it read in the
authentication's own job, ``admission_prefetch``) and one store operation (a Lua script
call on Redis, a dictionary update without it); while it is live, one store
operation every third of ``CHAT_TURN_LEASE_SECONDS``; ``release`` is one job
and one store operation more, at the end of the turn.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from chatproject import db
from chatproject.errors import ApiError
from usage import selectors, services, slots
from usage.models import UsageRecord

logger = logging.getLogger(__name__)

# Strong references to releases that outlive a cancelled caller.
_background: set[asyncio.Task[Any]] = set()
# The slots' renewal tasks (``cancel_renewals``).
_renewals: set[asyncio.Task[None]] = set()
# The renewals' clock and timer (tests replace them).
_monotonic = time.monotonic
_sleep = asyncio.sleep


def _retry_after_midnight(now: Any) -> str:
    seconds = (selectors.next_midnight(now) - now).total_seconds()
    return str(max(1, math.ceil(seconds)))


def _pk(value: Any) -> Any:
    return getattr(value, "pk", value)


@dataclass(eq=False)
class TurnSlot:
    """One admitted turn: holds a concurrency slot until ``release`` (or ``abandon``)."""

    user_id: int
    api_key_id: int | None
    conversation_id: uuid.UUID | str | None
    slot_id: str
    limits: selectors.Limits
    _renewed_at: float = field(default_factory=lambda: _monotonic())
    _done: asyncio.Future[UsageRecord | None] | None = None
    _renewal: asyncio.Task[None] | None = None

    @property
    def released(self) -> bool:
        return self._done is not None

    def _start_renewing(self) -> None:
        self._renewal = asyncio.ensure_future(self._renew_until_released())
        _renewals.add(self._renewal)
        self._renewal.add_done_callback(_renewals.discard)

    async def _renew_until_released(self) -> None:
        """The slot renews itself every third of the lease, on the loop that admitted
        it, so a turn that is silent for a while (a slow model, a background run with
        no reader) keeps it. It gives up after ``CHAT_RUN_STALE_SECONDS``, the age at
        which a conversation's run lock counts as abandoned too: a turn that is never
        released (a bug) holds its slot that long, not forever. A process that dies
        takes this task with it, and the lease lapses."""
        lease = settings.CHAT_TURN_LEASE_SECONDS
        give_up = _monotonic() + settings.CHAT_RUN_STALE_SECONDS
        while True:
            await _sleep(lease / 3)
            if self._done is not None or _monotonic() >= give_up:
                return
            await self._renew_now(lease)

    def _stop_renewing(self) -> None:
        if self._renewal is not None and not self._renewal.done():
            self._renewal.cancel()

    async def renew(self) -> None:
        """Renew the lease now (at most every third of it). The slot already renews
        itself while the turn is live; calling this on event batches is harmless."""
        lease = settings.CHAT_TURN_LEASE_SECONDS
        if self._done is not None or _monotonic() - self._renewed_at < lease / 3:
            return
        await self._renew_now(lease)

    async def _renew_now(self, lease: int) -> None:
        self._renewed_at = _monotonic()
        try:
            kept = await slots.store().renew(self.user_id, self.slot_id, lease=lease)
        except Exception as error:
            # A store outage must not cut a reply short; the next renewal tries again.
            logger.warning("could not renew a turn slot: %s", type(error).__name__)
            return
        if not kept:
            logger.warning("turn slot %s had lapsed before its renewal", self.slot_id)

    async def release(
        self,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
        conversation_id: uuid.UUID | str | None = None,
    ) -> UsageRecord | None:
        """End the turn: write its ledger row and free the slot. Only the first call
        does anything (later ones return the same row); the work is shielded from
        the caller's cancellation. A failed write is logged, never raised: the reply
        is over either way. ``conversation_id``: the turn's conversation, when it was
        not known at admission (a new chat's id is drawn after the checks)."""
        if conversation_id is not None:
            self.conversation_id = conversation_id
        if self._done is None:
            task = asyncio.ensure_future(
                self._release(model=model, input_tokens=input_tokens, output_tokens=output_tokens)
            )
            _background.add(task)
            task.add_done_callback(_background.discard)
            self._done = task
            self._stop_renewing()
        return await asyncio.shield(self._done)

    async def _release(
        self, *, model: str, input_tokens: int, output_tokens: int
    ) -> UsageRecord | None:
        record = None
        try:
            record = await db.run(
                services.usage_record_write,
                user_id=self.user_id,
                api_key_id=self.api_key_id,
                conversation_id=self.conversation_id,
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
        except Exception:
            logger.exception("could not record a turn's usage")
        try:
            await slots.store().release(self.user_id, self.slot_id)
        except Exception:
            # The lease frees it within CHAT_TURN_LEASE_SECONDS anyway.
            logger.exception("could not release a turn slot")
        return record

    async def abandon(self) -> None:
        """The turn never began (its conversation was not found, or busy): free the
        slot, do not count it as started, write no ledger row. Idempotent."""
        if self._done is not None:
            return
        done: asyncio.Future[UsageRecord | None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        self._done = done
        self._stop_renewing()
        try:
            await slots.store().forget(self.user_id, self.slot_id)
        except Exception:
            logger.exception("could not give back a turn slot")


def _refused(code: str, detail: str, retry_after: str) -> ApiError:
    return ApiError(429, code, detail, headers={"Retry-After": retry_after})


def admission_prefetch(principal: Any) -> selectors.AdmissionFacts:
    """The database half of ``turn_admit`` for an authenticated caller, sync: the
    chat views pass it as authentication's ``then``, so it runs in the same job as
    the credentials' lookup, and hand the result to ``turn_begin``."""
    return selectors.admission_facts(
        user_id=principal.user.pk, api_key_id=_pk(principal.api_key), now=timezone.now()
    )


async def turn_admit(
    *,
    user: Any,
    api_key: Any = None,
    conversation_id: uuid.UUID | str | None = None,
    facts: selectors.AdmissionFacts | None = None,
) -> TurnSlot:
    """Admit a turn of ``user`` (through ``api_key``, None for the browser) or raise
    ``ApiError`` 429; see the module docstring for the checks and their order.
    ``facts``: read already (``admission_prefetch``), else read now."""
    user_id, api_key_id = _pk(user), _pk(api_key)
    if facts is None:
        facts = await db.run(
            selectors.admission_facts, user_id=user_id, api_key_id=api_key_id, now=timezone.now()
        )
    elif (facts.user_id, facts.api_key_id) != (user_id, api_key_id):
        raise ValueError("the admission facts are another caller's")
    now, limits = facts.read_at, facts.limits
    slot_id = uuid.uuid4().hex
    store = slots.store()
    try:
        admission = await store.admit(
            user_id,
            slot_id,
            concurrent=limits.concurrent_turns,
            per_minute=limits.turns_per_minute,
            lease=settings.CHAT_TURN_LEASE_SECONDS,
        )
    except Exception as error:
        logger.error("turn limits unavailable: %s: %.200s", type(error).__name__, error)
        raise ApiError(
            503, "usage_unavailable", "Usage limits cannot be checked right now; try again."
        ) from None
    if admission.status == slots.CONCURRENT:
        raise _refused(
            "concurrent_turns_exceeded",
            f"You already have {limits.concurrent_turns} replies in progress; wait for one "
            "to finish.",
            "1",
        )
    if admission.status == slots.RATE:
        raise _refused(
            "turn_rate_exceeded",
            f"More than {limits.turns_per_minute} messages in a minute. "
            f"Try again in {admission.retry_after} seconds.",
            str(admission.retry_after),
        )
    slot = TurnSlot(user_id, api_key_id, conversation_id, slot_id, limits)
    refusal: ApiError | None = None
    if limits.daily_tokens and facts.used_today >= limits.daily_tokens:
        refusal = _refused(
            "token_quota_exceeded",
            "Today's token quota is used up; it resets at midnight UTC.",
            _retry_after_midnight(now),
        )
    elif facts.key_limit and facts.key_used_today >= facts.key_limit:
        refusal = _refused(
            "key_quota_exceeded",
            "This API key's daily token quota is used up; it resets at midnight UTC.",
            _retry_after_midnight(now),
        )
    if refusal is not None:
        await slot.abandon()
        raise refusal
    slot._start_renewing()
    return slot


def cancel_renewals() -> None:
    """Stop every slot's renewal task on this loop (tests; a process shutting down).
    The slots are not released: their leases lapse."""
    loop = asyncio.get_running_loop()
    for task in list(_renewals):
        if task.get_loop() is loop:
            task.cancel()
