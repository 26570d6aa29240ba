"""The hook API (``turn_admit``, ``TurnSlot``) against the real database and the
configured slot store (in-process, or Redis when REDIS_URL is set)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group

from accounts.api_key_services import api_key_create
from chat.models import Conversation
from chatproject.errors import ApiError
from tests.usage.conftest import spend, yesterday
from usage import selectors, slots, turns
from usage.models import KeyLimit, UsageLimits, UsageRecord
from usage.turns import turn_admit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_db(close_db_connections):
    yield


async def refused(**kwargs) -> ApiError:
    with pytest.raises(ApiError) as info:
        await turn_admit(**kwargs)
    assert info.value.status == 429
    return info.value


def rows(**filters) -> list[tuple]:
    return list(
        UsageRecord.objects.filter(**filters)
        .order_by("id")
        .values_list(
            "user_id", "api_key_id", "conversation_id", "model", "input_tokens", "output_tokens"
        )
    )


async def test_a_turn_writes_one_ledger_row_at_release_and_frees_its_slot(owner):
    conversation = await Conversation.objects.acreate(owner=owner, title="t")
    slot = await turn_admit(user=owner, api_key=None, conversation_id=conversation.id)
    assert slots.store().snapshot(owner.pk) == (1, 1)
    assert await sync_to_async(rows)() == []  # nothing written while the turn is live

    record = await slot.release(model="gpt-fake", input_tokens=120, output_tokens=30)
    again = await slot.release(model="other", input_tokens=999, output_tokens=999)

    assert record is not None and again == record
    assert await sync_to_async(rows)() == [(owner.pk, None, conversation.id, "gpt-fake", 120, 30)]
    assert slots.store().snapshot(owner.pk) == (0, 1)  # free, still counted as started


async def test_a_new_chats_conversation_can_be_named_at_release(owner):
    slot = await turn_admit(user=owner)
    conversation = await Conversation.objects.acreate(owner=owner, title="new")
    await slot.release(
        model="gpt-fake", input_tokens=1, output_tokens=2, conversation_id=conversation.id
    )
    assert await sync_to_async(rows)() == [(owner.pk, None, conversation.id, "gpt-fake", 1, 2)]


async def test_a_release_for_a_conversation_that_was_never_saved_keeps_the_tokens(owner):
    slot = await turn_admit(user=owner, conversation_id=uuid.uuid4())
    await slot.release(model="gpt-fake", input_tokens=5, output_tokens=7)
    assert await sync_to_async(rows)() == [(owner.pk, None, None, "gpt-fake", 5, 7)]


async def test_twenty_parallel_admits_never_exceed_the_concurrency_cap(owner, settings):
    settings.CHAT_CONCURRENT_TURNS = 3
    results = await asyncio.gather(
        *[turn_admit(user=owner) for _ in range(20)], return_exceptions=True
    )
    admitted = [r for r in results if isinstance(r, turns.TurnSlot)]
    errors = [r for r in results if isinstance(r, ApiError)]
    assert len(admitted) == 3
    assert len(errors) == 17
    assert {(e.status, e.code, e.headers["Retry-After"]) for e in errors} == {
        (429, "concurrent_turns_exceeded", "1")
    }
    assert slots.store().snapshot(owner.pk) == (3, 3)

    await admitted[0].release(model="m", input_tokens=1, output_tokens=1)
    assert isinstance(await turn_admit(user=owner), turns.TurnSlot)


async def test_other_users_have_their_own_slots(owner, second_user, settings):
    settings.CHAT_CONCURRENT_TURNS = 1
    await turn_admit(user=owner)
    assert (await refused(user=owner)).code == "concurrent_turns_exceeded"
    assert isinstance(await turn_admit(user=second_user), turns.TurnSlot)


async def test_the_per_minute_limit_refuses_with_the_seconds_until_a_start_ages_out(
    owner, settings, local_store, clock
):
    settings.CHAT_TURNS_PER_MINUTE = 2
    for _ in range(2):
        slot = await turn_admit(user=owner)
        await slot.release(model="m", input_tokens=0, output_tokens=0)
        clock.advance(10)  # starts at t=0 and t=10; now t=20

    error = await refused(user=owner)
    assert error.code == "turn_rate_exceeded"
    assert error.headers["Retry-After"] == "40"  # the first start is a minute old at t=60

    clock.advance(40)
    assert isinstance(await turn_admit(user=owner), turns.TurnSlot)


async def test_the_per_minute_limit_holds_on_the_configured_store(owner, settings):
    settings.CHAT_TURNS_PER_MINUTE = 2
    for _ in range(2):
        await (await turn_admit(user=owner)).release(model="m", input_tokens=0, output_tokens=0)
    error = await refused(user=owner)
    assert error.code == "turn_rate_exceeded"
    assert 1 <= int(error.headers["Retry-After"]) <= 60


async def test_a_spent_daily_budget_refuses_until_midnight_utc(owner, settings):
    settings.CHAT_DAILY_TOKENS = 100
    await sync_to_async(spend)(owner, 500, at=yesterday())  # yesterday's do not count
    await sync_to_async(spend)(owner, 99)
    slot = await turn_admit(user=owner)  # 99 < 100: a turn may start
    await slot.release(model="m", input_tokens=1, output_tokens=0)

    before = datetime.now(UTC)
    error = await refused(user=owner)
    after = datetime.now(UTC)

    assert error.code == "token_quota_exceeded"
    wait = int(error.headers["Retry-After"])
    midnight = selectors.next_midnight(before)
    assert (midnight - after).total_seconds() - 1 <= wait <= (midnight - before).total_seconds() + 1
    # Refused after the slot check: the slot went back and the turn did not count.
    assert slots.store().snapshot(owner.pk) == (0, 1)


async def test_a_daily_budget_of_zero_is_unlimited(owner, settings):
    settings.CHAT_DAILY_TOKENS = 0
    await sync_to_async(spend)(owner, 10**9)
    assert isinstance(await turn_admit(user=owner), turns.TurnSlot)


async def test_a_keys_own_budget_refuses_that_key_only(owner, settings):
    settings.CHAT_DAILY_TOKENS = 10**6
    limited, _ = await sync_to_async(api_key_create)(user=owner, name="ci", daily_tokens=50)
    other, _ = await sync_to_async(api_key_create)(user=owner, name="other")
    await sync_to_async(spend)(owner, 50, api_key=limited)

    error = await refused(user=owner, api_key=limited)
    assert error.code == "key_quota_exceeded"
    assert 1 <= int(error.headers["Retry-After"]) <= 86400
    assert isinstance(await turn_admit(user=owner, api_key=other), turns.TurnSlot)
    assert isinstance(await turn_admit(user=owner), turns.TurnSlot)  # the browser


async def test_a_key_limit_of_zero_is_no_limit_of_its_own(owner):
    key, _ = await sync_to_async(api_key_create)(user=owner, name="ci", daily_tokens=0)
    assert await KeyLimit.objects.filter(api_key=key, daily_tokens=0).aexists()
    await sync_to_async(spend)(owner, 1000, api_key=key)
    assert isinstance(await turn_admit(user=owner, api_key=key), turns.TurnSlot)


async def test_the_concurrency_check_comes_before_the_quota_check(owner, settings):
    settings.CHAT_CONCURRENT_TURNS = 1
    settings.CHAT_DAILY_TOKENS = 10
    await turn_admit(user=owner)
    await sync_to_async(spend)(owner, 10)
    assert (await refused(user=owner)).code == "concurrent_turns_exceeded"


async def test_a_slot_whose_holder_stopped_renewing_lapses(owner, settings, local_store, clock):
    settings.CHAT_CONCURRENT_TURNS = 1
    settings.CHAT_TURN_LEASE_SECONDS = 30
    await turn_admit(user=owner)  # never released: its worker "died"
    clock.advance(29)
    assert (await refused(user=owner)).code == "concurrent_turns_exceeded"
    clock.advance(1)
    assert isinstance(await turn_admit(user=owner), turns.TurnSlot)


async def test_renewing_keeps_a_long_turn_live(owner, settings, local_store, clock, monkeypatch):
    settings.CHAT_CONCURRENT_TURNS = 1
    settings.CHAT_TURN_LEASE_SECONDS = 30
    monkeypatch.setattr(turns, "_monotonic", clock)
    slot = await turn_admit(user=owner)
    for _ in range(4):  # 80 s in all, renewed every 20 s
        clock.advance(20)
        await slot.renew()
        assert local_store.snapshot(owner.pk)[0] == 1
    assert (await refused(user=owner)).code == "concurrent_turns_exceeded"


async def test_a_live_slot_renews_itself_until_released_or_stale(
    owner, settings, local_store, clock, monkeypatch
):
    settings.CHAT_CONCURRENT_TURNS = 1
    settings.CHAT_TURN_LEASE_SECONDS = 30
    settings.CHAT_RUN_STALE_SECONDS = 100

    async def sleep(seconds):
        clock.advance(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(turns, "_monotonic", clock)
    monkeypatch.setattr(turns, "_sleep", sleep)
    slot = await turn_admit(user=owner)
    for _ in range(6):  # each pass: 10 s later, renewed
        await asyncio.sleep(0)
    assert clock.now - 1000 >= 60  # two leases later, nobody called renew()
    assert local_store.snapshot(owner.pk)[0] == 1
    assert (await refused(user=owner)).code == "concurrent_turns_exceeded"

    for _ in range(10):  # past CHAT_RUN_STALE_SECONDS: it stops renewing
        await asyncio.sleep(0)
    assert slot._renewal is not None and slot._renewal.done()
    clock.advance(30)
    assert local_store.snapshot(owner.pk)[0] == 0
    assert isinstance(await turn_admit(user=owner), turns.TurnSlot)


async def test_release_stops_the_renewals(owner, settings, monkeypatch):
    slot = await turn_admit(user=owner)
    renewal = slot._renewal
    assert renewal is not None and not renewal.done()
    await slot.release(model="m", input_tokens=0, output_tokens=0)
    await asyncio.sleep(0)
    assert renewal.cancelled()
    abandoned = await turn_admit(user=owner)
    await abandoned.abandon()
    await asyncio.sleep(0)
    assert abandoned._renewal is not None and abandoned._renewal.cancelled()


async def test_renewal_reaches_the_store_at_most_every_third_of_the_lease(
    owner, settings, clock, monkeypatch
):
    settings.CHAT_TURN_LEASE_SECONDS = 30
    monkeypatch.setattr(turns, "_monotonic", clock)
    calls = []

    class Counting(slots.LocalSlots):
        async def renew(self, user_id, slot_id, *, lease):
            calls.append(lease)
            return await super().renew(user_id, slot_id, lease=lease)

    slots.reset_store(Counting(clock))
    slot = await turn_admit(user=owner)
    for _ in range(10):
        clock.advance(1)
        await slot.renew()
    assert calls == [30]  # at t=10 only


async def test_abandon_gives_the_slot_back_uncounted_and_writes_nothing(owner, settings):
    settings.CHAT_CONCURRENT_TURNS = 1
    slot = await turn_admit(user=owner)
    await slot.abandon()
    await slot.abandon()
    assert slots.store().snapshot(owner.pk) == (0, 0)
    assert await slot.release(model="m", input_tokens=1, output_tokens=1) is None
    assert await sync_to_async(rows)() == []


async def test_release_survives_the_callers_cancellation(owner):
    slot = await turn_admit(user=owner)
    task = asyncio.ensure_future(slot.release(model="m", input_tokens=3, output_tokens=4))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = await slot.release(model="m", input_tokens=0, output_tokens=0)
    assert record is not None and (record.input_tokens, record.output_tokens) == (3, 4)
    assert slots.store().snapshot(owner.pk)[0] == 0


async def test_a_store_outage_refuses_with_503_rather_than_admitting(owner):
    class Broken(slots.LocalSlots):
        async def admit(self, *args, **kwargs):
            raise ConnectionError("down")

    slots.reset_store(Broken())
    with pytest.raises(ApiError) as info:
        await turn_admit(user=owner)
    assert (info.value.status, info.value.code) == (503, "usage_unavailable")


async def test_user_and_group_overrides_apply_to_admission(owner, second_user, settings):
    settings.CHAT_CONCURRENT_TURNS = 1
    group = await Group.objects.acreate(name="pro")
    await sync_to_async(owner.groups.add)(group)
    await UsageLimits.objects.acreate(group=group, concurrent_turns=2)
    await turn_admit(user=owner)
    await turn_admit(user=owner)
    assert (await refused(user=owner)).code == "concurrent_turns_exceeded"

    await UsageLimits.objects.acreate(user=second_user, daily_tokens=5)
    await sync_to_async(spend)(second_user, 5)
    assert (await refused(user=second_user)).code == "token_quota_exceeded"


def test_limits_resolve_user_then_most_generous_group_then_default(owner, settings):
    settings.CHAT_CONCURRENT_TURNS = 3
    settings.CHAT_TURNS_PER_MINUTE = 20
    settings.CHAT_DAILY_TOKENS = 1000
    assert selectors.limits_effective(user_id=owner.pk) == selectors.Limits(3, 20, 1000)

    small, big, free = (Group.objects.create(name=n) for n in ("small", "big", "free"))
    owner.groups.add(small, big, free)
    UsageLimits.objects.create(group=small, concurrent_turns=1, daily_tokens=10)
    UsageLimits.objects.create(group=big, concurrent_turns=5, daily_tokens=5000)
    UsageLimits.objects.create(group=free, daily_tokens=0)
    limits = selectors.limits_effective(user_id=owner.pk)
    assert (limits.concurrent_turns, limits.turns_per_minute, limits.daily_tokens) == (5, 20, 0)
    assert [limits.source(f) for f in ("concurrent_turns", "turns_per_minute", "daily_tokens")] == [
        "group",
        "default",
        "group",
    ]

    UsageLimits.objects.create(user=owner, concurrent_turns=2, daily_tokens=7)
    limits = selectors.limits_effective(user_id=owner.pk)
    assert (limits.concurrent_turns, limits.turns_per_minute, limits.daily_tokens) == (2, 20, 7)
    assert limits.source("concurrent_turns") == "user"


def test_a_groups_limits_do_not_reach_users_outside_it(owner, outsider, settings):
    settings.CHAT_CONCURRENT_TURNS = 3
    group = Group.objects.create(name="pro")
    owner.groups.add(group)
    UsageLimits.objects.create(group=group, concurrent_turns=9)
    UsageLimits.objects.create(user=owner, turns_per_minute=99)
    limits = selectors.limits_effective(user_id=outsider.pk)
    assert (limits.concurrent_turns, limits.turns_per_minute) == (3, settings.CHAT_TURNS_PER_MINUTE)


def test_totals_count_today_and_this_month_in_utc(owner, second_user):
    now = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    spend(owner, 10, at=now)
    spend(owner, 20, at=now - timedelta(days=3))  # this month
    spend(owner, 40, at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC))  # last month
    spend(second_user, 80, at=now)
    assert selectors.totals(now=now, user_id=owner.pk) == selectors.Totals(10, 30)


def test_the_admission_sql_agrees_with_the_orm_selectors(owner, second_user, settings):
    settings.CHAT_DAILY_TOKENS = 1000
    small, big = Group.objects.create(name="small"), Group.objects.create(name="big")
    owner.groups.add(small, big)
    second_user.groups.add(big)
    UsageLimits.objects.create(group=small, concurrent_turns=2, turns_per_minute=5)
    UsageLimits.objects.create(group=big, concurrent_turns=4)
    UsageLimits.objects.create(user=owner, daily_tokens=700)
    UsageLimits.objects.create(user=second_user, concurrent_turns=1)
    key, _ = api_key_create(user=owner, name="ci", daily_tokens=300)
    spend(owner, 120, api_key=key)
    spend(owner, 30)
    spend(owner, 999, at=yesterday())
    spend(owner, 999, api_key=key, at=yesterday())
    spend(second_user, 55)
    now = datetime.now(UTC)

    for user, api_key_id in ((owner, key.pk), (owner, None), (second_user, None)):
        facts = selectors.admission_facts(user_id=user.pk, api_key_id=api_key_id, now=now)
        limits = selectors.limits_effective(user_id=user.pk)
        assert facts.limits == limits
        assert facts.used_today == selectors.tokens_since(
            since=selectors.day_start(now), user_id=user.pk
        )
    facts = selectors.admission_facts(user_id=owner.pk, api_key_id=key.pk, now=now)
    assert (facts.used_today, facts.key_limit, facts.key_used_today) == (150, 300, 120)
    assert facts.limits == selectors.Limits(
        4,
        5,
        700,
        (("concurrent_turns", "group"), ("turns_per_minute", "group"), ("daily_tokens", "user")),
    )


async def test_facts_read_ahead_are_used_and_must_be_the_callers(owner, second_user):
    """The chat views read the facts in the authentication's job and pass them on:
    what they say decides (a spent budget refuses without a second read), and
    another caller's facts are a bug, refused before any slot is taken."""
    await sync_to_async(UsageLimits.objects.create)(user=owner, daily_tokens=100)
    await sync_to_async(spend)(owner, 100)
    principal = type("P", (), {"user": owner, "api_key": None})()
    facts = await sync_to_async(turns.admission_prefetch)(principal)
    assert (facts.user_id, facts.api_key_id, facts.used_today) == (owner.pk, None, 100)

    error = await refused(user=owner, facts=facts)
    assert error.code == "token_quota_exceeded"
    with pytest.raises(ValueError, match="another caller"):
        await turn_admit(user=second_user, facts=facts)
    assert slots.store().snapshot(second_user.pk) == (0, 0)


@pytest.mark.redis
async def test_more_parallel_admissions_than_the_pool_holds_wait_for_a_connection(settings):
    # redis-py 8's own pool fails the 101st concurrent command (MaxConnectionsError):
    # 150 starts at once on one process took 503s before chatproject.redis_clients.
    settings.REDIS_MAX_CONNECTIONS = 4
    store = slots.RedisSlots(str(settings.REDIS_URL))

    async def admit(user_id: int) -> int:
        admission = await store.admit(
            user_id, uuid.uuid4().hex, concurrent=5, per_minute=100, lease=30
        )
        return admission.status

    statuses = await asyncio.gather(*(admit(user_id) for user_id in range(900_001, 900_151)))

    assert statuses == [slots.OK] * 150
    client, _, _ = store._scripts()
    assert client.connection_pool.max_connections == 4
    await client.aclose()


@pytest.mark.redis
@pytest.mark.parametrize("fault", ["pool stays full", "redis unreachable"])
async def test_a_real_redis_fault_refuses_with_503_and_takes_no_slot(owner, settings, fault):
    settings.REDIS_MAX_CONNECTIONS = 1
    url = str(settings.REDIS_URL) if fault == "pool stays full" else "redis://127.0.0.1:1/0"
    store = slots.RedisSlots(url)
    slots.reset_store(store)
    client, _, _ = store._scripts()
    held = await client.connection_pool.get_connection() if fault == "pool stays full" else None
    try:
        with pytest.raises(ApiError) as info:
            await turn_admit(user=owner)  # waits for the pool's timeout, then gives up
    finally:
        if held is not None:
            await client.connection_pool.release(held)
    assert (info.value.status, info.value.code) == (503, "usage_unavailable")
    if held is not None:
        assert store.snapshot(owner.pk) == (0, 0)
    await client.aclose()
