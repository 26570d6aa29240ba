"""``python -m tests.bench.admit [--turns N]``: what the usage checks cost a turn.

Times, in this process, on the event loop, as the chat code calls them, one
after the other in every round (so the machine's drift hits all alike):

- ``auth``: a Bearer token's authentication alone (its session joined with
  the user: one job on the database threads);
- ``auth + checks``: what ``POST /api/chat`` and ``/api/runs`` pay before a
  turn starts: the same authentication with the usage facts read in its job
  (``then=admission_prefetch``), then ``turn_admit`` with those facts (the
  slot store). The difference of the medians is what the checks add;
- ``turn_admit`` on its own (its own facts read: the WebSocket's path);
- ``release``: the ledger row and the slot, after a reply's last token.

Uses ``DATABASE_URL`` / ``REDIS_URL`` when set (point them at throwaway ones:
a user, a session and ledger rows are written), else a fresh SQLite file and
the in-process slot store. Prints the median, 90th and 99th percentile of each.
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


async def _measure(turns: int) -> dict[str, list[float]]:
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from accounts.authentication import authenticate_request
    from accounts.sessions import token_family_start
    from chatproject import db
    from usage.turns import admission_prefetch, cancel_renewals, turn_admit

    user, _ = await sync_to_async(get_user_model().objects.get_or_create)(username="bench-admit")
    issued = await sync_to_async(token_family_start)(user=user)
    request = RequestFactory().post("/api/chat", HTTP_AUTHORIZATION=f"Bearer {issued.access}")
    times: dict[str, list[float]] = {
        "auth": [],
        "auth + checks": [],
        "turn_admit": [],
        "release": [],
    }
    for n in range(turns + 50):
        t0 = time.perf_counter()
        await authenticate_request(request)
        t1 = time.perf_counter()
        principal = await authenticate_request(request, then=admission_prefetch)
        slot = await turn_admit(user=principal.user, facts=principal.prefetched)
        t2 = time.perf_counter()
        await slot.release(model="bench", input_tokens=10, output_tokens=10)
        t3 = time.perf_counter()
        slot = await turn_admit(user=user)
        t4 = time.perf_counter()
        await slot.abandon()
        if n >= 50:  # warm-up: connections, compiled SQL
            for name, seconds in zip(times, (t1 - t0, t2 - t1, t4 - t3, t3 - t2), strict=True):
                times[name].append(seconds)
    cancel_renewals()
    await asyncio.to_thread(db.shutdown)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.admit", description=__doc__)
    parser.add_argument("--turns", type=int, default=2000)
    args = parser.parse_args(argv)
    _setup(os.environ.get("DATABASE_URL"))
    from django.conf import settings

    times = asyncio.run(_measure(args.turns))
    store = "Redis" if settings.REDIS_URL else "in-process"
    print(f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, store {store}")
    for name, samples in times.items():
        print(f"{name:<14} ({args.turns} turns): {_percentiles(samples)}")
    added = statistics.median(times["auth + checks"]) - statistics.median(times["auth"])
    print(f"the checks add {added * 1000:.3f} ms before a turn's first token (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
