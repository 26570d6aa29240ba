"""``python -m tests.bench [--quick] [--targets ...] [--scenarios ...]``

Runs every scenario against every target and writes ``bench-results/latest.md``
and ``latest.json`` (plus time-stamped copies). Targets: ``limit`` (the fake
upstream alone), ``peer`` (FastAPI + uvicorn relay), ``daphne`` and
``uvicorn`` (our app, DEBUG off, under each server); on request also
``hypercorn`` and ``granian`` (the same app under those servers). Our app uses
``DATABASE_URL`` when set (point it at a throwaway database: bench users and
conversations are written there), else a fresh SQLite file in the output dir.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.bench import report
from tests.bench.runner import DEFAULT_TARGETS, TARGETS, Bench, Config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="smoke subset (seconds, not minutes)")
    p.add_argument(
        "--targets",
        default=",".join(DEFAULT_TARGETS),
        help=f"comma list of {', '.join(TARGETS)} (default: {','.join(DEFAULT_TARGETS)})",
    )
    p.add_argument("--scenarios", default="", help="comma list: warm1,burst20,c200,c500,long2000")
    p.add_argument("--out", default="bench-results", help="output directory")
    p.add_argument("--first-token-delay", type=float, default=0.05, help="upstream, seconds")
    p.add_argument(
        "--long-interval",
        type=float,
        default=0.001,
        help="inter-token interval of the 2,000-token reply, seconds",
    )
    p.add_argument("--users", type=int, default=10, help="bench users (tokens used round-robin)")
    p.add_argument("--database-url", default=None, help="default: $DATABASE_URL, else SQLite")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for our app's servers (repeatable), e.g. "
        "DJANGO_SETTINGS_MODULE=... to measure a settings change",
    )
    p.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the server to its own CPU (default: pinned when there are 2+ CPUs)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample each measured server with py-spy during its measured load; "
        "collapsed stacks in OUT/profiles/<target>-<scenario>.txt (py-spy from the "
        "bench extra; ptrace must be allowed). The profiler slows the server: "
        "do not quote figures from a profiled run",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure every target N times per scenario, alternating their order, and "
        "report medians (the machine's speed drifts between runs: use 3+ for ratios)",
    )
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    targets = tuple(t for t in args.targets.split(",") if t)
    unknown = set(targets) - set(TARGETS)
    if unknown:
        p.error(f"unknown targets: {', '.join(sorted(unknown))}")
    cfg = Config(
        out=Path(args.out),
        targets=targets,
        quick=args.quick,
        only=tuple(s for s in args.scenarios.split(",") if s),
        first_token_delay=args.first_token_delay,
        long_interval=args.long_interval,
        users=args.users,
        database_url=args.database_url,
        verbose=not args.quiet,
        extra_env=dict(kv.split("=", 1) for kv in args.env),
        pin=not args.no_pin,
        profile=args.profile,
        repeat=max(1, args.repeat),
    )
    data = Bench(cfg).run()
    md_path, json_path = report.write(data, cfg.out)
    if not args.quiet:
        print()
        print(md_path.read_text())
        print(f"written: {md_path} and {json_path}")
    errors = sum((r["figures"] or {}).get("errors", 0) for r in data["runs"])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
