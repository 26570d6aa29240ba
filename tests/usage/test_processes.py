"""Two processes against one Redis and one database: the caps hold across them,
and a slot held by a process that died lapses with its lease."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from chatproject.errors import ApiError
from tests.conftest import ROOT, shared_database_url
from usage.turns import TurnSlot, turn_admit

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def worker(user_id: int, count: int, go_file, mode: str, **env: str) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CHAT_"))}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.usage.admit_worker",
            str(user_id),
            str(count),
            str(go_file),
            mode,
        ],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": shared_database_url(),
            "REDIS_URL": str(django_settings.REDIS_URL),
            "LOG_LEVEL": "ERROR",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(process: subprocess.Popen) -> None:
    line = process.stdout.readline()
    assert line.strip() == "ready", line + process.stderr.read()


def outcome(process: subprocess.Popen) -> dict:
    line = process.stdout.readline()
    assert line, process.stderr.read()
    return json.loads(line)


@pytest.mark.postgres
def test_twenty_starts_in_each_of_two_processes_never_exceed_the_cap(owner, tmp_path):
    go = tmp_path / "go"
    env = {"CHAT_CONCURRENT_TURNS": "3", "CHAT_TURNS_PER_MINUTE": "1000"}
    processes = [worker(owner.pk, 20, go, "exit", **env) for _ in range(2)]
    try:
        for process in processes:
            wait_ready(process)
        go.touch()
        results = [outcome(process) for process in processes]
    finally:
        for process in processes:
            process.wait(timeout=60)
    assert sum(r["admitted"] for r in results) == 3, results
    assert all(r["unexpected"] == [] for r in results), results
    assert {code for r in results for code in r["codes"]} == {"concurrent_turns_exceeded"}


async def test_a_dead_processs_slot_lapses_with_its_lease(
    owner, tmp_path, settings, close_db_connections
):
    settings.CHAT_CONCURRENT_TURNS = 2
    settings.CHAT_TURN_LEASE_SECONDS = 5
    go = tmp_path / "go"
    go.touch()
    holder = worker(owner.pk, 1, go, "hold", CHAT_CONCURRENT_TURNS="2", CHAT_TURN_LEASE_SECONDS="5")
    try:
        wait_ready(holder)
        assert outcome(holder)["admitted"] == 1
    finally:
        holder.kill()
        holder.wait(timeout=10)
    # A live turn of the same user keeps renewing (so the user's keys never expire
    # as a whole): only the dead holder's own lease can free its slot.
    live = await turn_admit(user=owner)
    with pytest.raises(ApiError) as info:
        await turn_admit(user=owner)
    assert info.value.code == "concurrent_turns_exceeded"

    deadline = time.monotonic() + 30  # the lease is 5 s; generous for a loaded machine
    while True:
        await live.renew()
        try:
            slot = await turn_admit(user=owner)
            break
        except ApiError as error:
            assert error.code == "concurrent_turns_exceeded"
            assert time.monotonic() < deadline, "the dead holder's slot never lapsed"
            await asyncio.sleep(0.2)
    assert isinstance(slot, TurnSlot)
    assert not live.released
