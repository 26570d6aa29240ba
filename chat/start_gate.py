"""The start gate: at most ``CHAT_STARTING_TURNS`` turns per process are starting.

A turn is *starting* from its request's arrival until its agent sends its first
request to the model. Why a gate: a process serves every stream on one event
loop, and a turn's start is mostly CPU (authentication, the usage checks, its
rows, the Agents SDK's set-up). In a burst, without a gate, every request's
first steps run before any agent's set-up, so every first token comes late;
with it the first turns reach the model while the others wait for a place, and
the median first token comes sooner (the A/B is in docs/performance.md, "The
start gate"). ``CHAT_STARTING_TURNS=0`` turns it off.

A place is given back at the first of:

- the first request to the model is about to be sent (``started``: the httpx
  request hook of the agent's OpenAI client, ``chat.agent``; the offline demo
  model calls it when it starts answering);
- the turn is recorded (``ChatTurn._record``), or its start fails or is refused
  (``starting`` gives the place back when its block raises);
- ``MAX_HOLD_SECONDS`` after it was taken: a bound, so that a start that hangs
  (a slow database) or a path that misses its release only slows other starts
  down, never stops them.

A request waits ``MAX_WAIT_SECONDS`` at most, then starts without a place: under a
flood (hundreds of streams on one loop, where every start is slow) the gate
would otherwise queue the starts one by one, and it turns into no gate instead.

The place travels with the turn: ``starting`` makes it the context's (the
agent's tasks inherit the context, so the hook finds it) and ``ChatTurn`` keeps
it to give back when recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import weakref
from collections.abc import AsyncIterator

from django.conf import settings

MAX_WAIT_SECONDS = 0.1
MAX_HOLD_SECONDS = 0.5


class Place:
    """One held place; ``release`` is idempotent."""

    __slots__ = ("_gate", "_timer")

    def __init__(self, gate: asyncio.Semaphore, loop: asyncio.AbstractEventLoop) -> None:
        self._gate: asyncio.Semaphore | None = gate
        self._timer = loop.call_later(MAX_HOLD_SECONDS, self.release)

    @property
    def held(self) -> bool:
        return self._gate is not None

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            self._timer.cancel()
            gate.release()


_current: contextvars.ContextVar[Place | None] = contextvars.ContextVar(
    "chat_start_place", default=None
)
# One gate per event loop (a semaphore belongs to the loop it first waits on):
# one per server process, one per test under pytest-asyncio.
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _gate(size: int) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    known = _gates.get(loop)
    if known is None or known[0] != size:  # new, or the setting changed (tests)
        known = (size, asyncio.Semaphore(size))
        _gates[loop] = known
    return known[1]


async def _take(gate: asyncio.Semaphore) -> Place | None:
    try:
        async with asyncio.timeout(MAX_WAIT_SECONDS):
            await gate.acquire()
    except TimeoutError:
        return None  # a flood: go on without a place, as with no gate
    return Place(gate, asyncio.get_running_loop())


@contextlib.asynccontextmanager
async def starting(enabled: bool = True) -> AsyncIterator[Place | None]:
    """Wait for a place (none if ``enabled`` is false or the gate is off) and hold it
    as the context's; give it back if the block raises. Otherwise it stays held
    until ``started``, the turn's record, or the time bound."""
    size = settings.CHAT_STARTING_TURNS if enabled else 0
    if not size:
        yield None
        return
    place = await _take(_gate(size))
    if place is None:
        yield None
        return
    token = _current.set(place)
    try:
        yield place
    except BaseException:
        place.release()
        raise
    finally:
        _current.reset(token)


def current() -> Place | None:
    """The place the running context holds (``ChatTurn`` keeps it)."""
    place = _current.get()
    return place if place is not None and place.held else None


def adopt(place: Place | None) -> None:
    """Make ``place`` the running context's (the turn's agent task)."""
    _current.set(place)


def started() -> None:
    """The running turn's first model request is going out: give its place back."""
    place = _current.get()
    if place is not None:
        place.release()


def release(place: Place | None) -> None:
    if place is not None:
        place.release()
