"""Fixtures for the usage suite: a fresh slot store per test, ledger rows, clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from usage import slots
from usage.models import UsageRecord


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def local_store(clock) -> slots.LocalSlots:
    """The in-process store on a fake clock, installed as the process's store."""
    store = slots.LocalSlots(clock)
    slots.reset_store(store)
    return store


def spend(
    user,
    tokens: int,
    *,
    api_key=None,
    at: datetime | None = None,
    model: str = "gpt-fake",
) -> UsageRecord:
    """A ledger row of ``tokens`` (split between input and output)."""
    return UsageRecord.objects.create(
        user=user,
        api_key=api_key,
        model=model,
        input_tokens=tokens // 2,
        output_tokens=tokens - tokens // 2,
        created_at=at or timezone.now(),
    )


def yesterday() -> datetime:
    return timezone.now() - timedelta(days=1)


@pytest.fixture
async def close_db_connections():
    """Async tests touch the database from asgiref's sync thread; close its connection
    afterwards, or PostgreSQL refuses to drop the test database at the end."""
    yield
    from asgiref.sync import sync_to_async
    from django.db import connections

    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
async def _stop_renewals():
    """Slots a test leaves unreleased stop renewing before the test's loop closes."""
    yield
    from usage.turns import cancel_renewals

    cancel_renewals()
