"""A process of its own that admits turns of one user (run by test_processes.py).

``python -m tests.usage.admit_worker USER_ID COUNT GO_FILE hold|exit``: prints
``ready``, waits until GO_FILE exists (the barrier), calls ``turn_admit`` COUNT
times at once, prints the outcome as JSON, then exits -- or, with ``hold``,
keeps its slots without renewing until it is killed (a worker that died).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path


async def _admit(user_id: int, count: int, hold: bool) -> None:
    from chatproject.errors import ApiError
    from usage.turns import TurnSlot, turn_admit

    results = await asyncio.gather(
        *[turn_admit(user=user_id) for _ in range(count)], return_exceptions=True
    )
    outcome = {
        "admitted": sum(isinstance(r, TurnSlot) for r in results),
        "codes": sorted({r.code for r in results if isinstance(r, ApiError)}),
        "unexpected": [repr(r) for r in results if not isinstance(r, TurnSlot | ApiError)],
    }
    print(json.dumps(outcome), flush=True)
    if hold:
        await asyncio.sleep(3600)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
    import django

    django.setup()
    user_id, count, go_file, mode = sys.argv[1:5]
    print("ready", flush=True)
    while not Path(go_file).exists():
        time.sleep(0.002)
    asyncio.run(_admit(int(user_id), int(count), mode == "hold"))


if __name__ == "__main__":
    main()
