"""``python -m tests.bench.admit [--turns N]``: what the usage checks cost a turn.

Times ``usage.turns.turn_admit`` (paid before a turn's first token) and
``TurnSlot.release`` (the ledger row and the slot, after its last token) in
this process, on the event loop, as the chat views call them. Uses
``DATABASE_URL`` / ``REDIS_URL`` when set (point them at throwaway ones: a
user and ledger rows are written), else a fresh SQLite file and the
in-process slot store. Prints the median, 90th and 99th percentile of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _setup(database_url: str | None) -> None:
    if database_url is None:
        database_url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'admit.sqlite3'}"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret-key-0123456789abcdef")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    # Generous limits: the benchmark measures the checks, not refusals.
    os.environ.setdefault("CHAT_TURNS_PER_MINUTE", "1000000")
    os.environ.setdefault("CHAT_CONCURRENT_TURNS", "1000")
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatproject.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return (
        f"median {statistics.median(ordered) * 1000:.3f} ms, "
        f"p90 {pick(0.9) * 1000:.3f} ms, p99 {pick(0.99) * 1000:.3f} ms"
    )


async def _measure(turns: int) -> tuple[list[float], list[float]]:
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model

    from chatproject import db
    from usage.turns import cancel_renewals, turn_admit

    user, _ = await sync_to_async(get_user_model().objects.get_or_create)(username="bench-admit")
    admits: list[float] = []
    releases: list[float] = []
    for n in range(turns + 50):
        start = time.perf_counter()
        slot = await turn_admit(user=user)
        admitted = time.perf_counter()
        await slot.release(model="bench", input_tokens=10, output_tokens=10)
        released = time.perf_counter()
        if n >= 50:  # warm-up: connections, compiled SQL
            admits.append(admitted - start)
            releases.append(released - admitted)
    cancel_renewals()
    await asyncio.to_thread(db.shutdown)
    return admits, releases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.admit", description=__doc__)
    parser.add_argument("--turns", type=int, default=2000)
    args = parser.parse_args(argv)
    _setup(os.environ.get("DATABASE_URL"))
    from django.conf import settings

    admits, releases = asyncio.run(_measure(args.turns))
    store = "Redis" if settings.REDIS_URL else "in-process"
    print(f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, store {store}")
    print(f"turn_admit ({args.turns} turns): {_percentiles(admits)}")
    print(f"release    ({args.turns} turns): {_percentiles(releases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
