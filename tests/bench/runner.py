"""Scenarios, targets and figures: one benchmark run end to end.

For every scenario, each target gets a fresh server process (so peak RSS is
that scenario's), a warm-up load, then the measured load from the client
process; server CPU is read before and after the measured load only.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.bench import procs
from tests.bench.loadgen import Spec, run_in_process

TOKEN = "tok "
UPSTREAM_KEY = "sk-bench-upstream"
MESSAGE = "Tell me something, in about fifty tokens."

# Targets: "limit" is the fake upstream alone; "peer" the FastAPI relay; the
# others serve our Django app (production settings) under an ASGI server each.
# Hypercorn and Granian are measured on request (--targets), not by default.
TARGETS = ("limit", "peer", "daphne", "uvicorn", "hypercorn", "granian")
DEFAULT_TARGETS = ("limit", "peer", "daphne", "uvicorn")
OURS = ("daphne", "uvicorn", "hypercorn", "granian")
TARGET_LABELS = {
    "limit": "upstream alone (limit)",
    "peer": "FastAPI+uvicorn peer",
    "daphne": "ours, Daphne",
    "uvicorn": "ours, uvicorn+uvloop",
    "hypercorn": "ours, Hypercorn+uvloop",
    "granian": "ours, Granian",
}


@dataclass(frozen=True)
class Upstream:
    tokens: int
    interval: float


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    upstream: Upstream
    concurrency: int
    rounds: int = 1
    sequential: int = 1
    warmup_concurrency: int = 1
    warmup_sequential: int = 2


def scenarios(quick: bool, long_interval: float) -> list[Scenario]:
    short = Upstream(50, 0.010)
    if quick:
        return [
            Scenario("warm1", "1 warm stream", short, 1, sequential=3),
            Scenario("burst20", "burst of 20", short, 20, rounds=1, warmup_concurrency=5),
            Scenario("long", "a 200-token reply", Upstream(200, 0.001), 1, sequential=1),
        ]
    return [
        Scenario("warm1", "1 warm stream", short, 1, sequential=20, warmup_sequential=5),
        Scenario("burst20", "burst of 20", short, 20, rounds=5, warmup_concurrency=20),
        Scenario("c200", "200 concurrent", short, 200, rounds=2, warmup_concurrency=50),
        Scenario("c500", "500 concurrent", short, 500, rounds=1, warmup_concurrency=50),
        Scenario(
            "long2000",
            "a 2,000-token reply",
            Upstream(2000, long_interval),
            1,
            sequential=3,
            warmup_sequential=1,
        ),
    ]


@dataclass
class Config:
    out: Path
    targets: tuple[str, ...] = DEFAULT_TARGETS
    quick: bool = False
    only: tuple[str, ...] = ()
    first_token_delay: float = 0.05
    long_interval: float = 0.001
    users: int = 10
    database_url: str | None = None
    verbose: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    pin: bool = True
    # Record py-spy stacks of each measured server during its measured load.
    profile: bool = False
    # Measure each (target, scenario) this many times, alternating the order of
    # the targets (ABBA), and report the median of each figure.
    repeat: int = 1


@dataclass
class Run:
    target: str
    scenario: str
    figures: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


# ----------------------------------------------------------------- statistics


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))]


def figures_for(
    result: dict[str, Any],
    sc: Scenario,
    delay: float,
    cpu: float | None,
    rss_base: int | None,
    rss_peak: int | None,
) -> dict[str, Any]:
    samples = result["samples"]
    ok = [s for s in samples if not s["error"]]
    errors = [s["error"] for s in samples if s["error"]]
    ttft = [s["ttft"] for s in ok if s["ttft"] is not None]
    total = [s["total"] for s in ok]
    ideal = delay + (sc.upstream.tokens - 1) * sc.upstream.interval
    relayed_tokens = sum(s["chars"] for s in samples) / len(TOKEN)
    ms = 1000.0
    ttft_p50, ttft_p99, total_p50 = pct(ttft, 50), pct(ttft, 99), pct(total, 50)
    fig: dict[str, Any] = {
        "streams": len(samples),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "added_ttft_ms_p50": (ttft_p50 - delay) * ms if ttft_p50 is not None else None,
        "added_ttft_ms_p99": (ttft_p99 - delay) * ms if ttft_p99 is not None else None,
        "completion_s_p50": total_p50,
        "completion_s_p99": pct(total, 99),
        "ideal_s": ideal,
        "completion_p50_over_ideal": (total_p50 / ideal) if total_p50 is not None else None,
        "relayed_tokens": relayed_tokens,
        "cpu_s": cpu,
        "cpu_s_per_1k_tokens": (cpu / (relayed_tokens / 1000)) if cpu and relayed_tokens else None,
        "rss_base_mb": rss_base / 2**20 if rss_base else None,
        "peak_rss_mb": rss_peak / 2**20 if rss_peak else None,
        "kb_per_open_stream": (
            (rss_peak - rss_base) / 1024 / sc.concurrency
            if rss_peak and rss_base and sc.concurrency > 1
            else None
        ),
        "wall_s": result["wall"],
        "client_cpu_util": result["client_cpu"] / result["wall"] if result["wall"] else None,
        "client_loop": result["loop"],
    }
    return fig


# ---------------------------------------------------------------- the harness


class Bench:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.log_dir = cfg.out / "logs"
        self.secret = "bench-" + secrets.token_urlsafe(40)
        self.tokens: list[str] = []
        self.runs: list[Run] = []
        self.notes: list[str] = []
        self.django_ready: str | None = None  # None: usable; else why not
        self.db_url = ""

    def say(self, msg: str) -> None:
        if self.cfg.verbose:
            print(msg, flush=True)

    # -- environment

    def django_env(self, fake_url: str) -> dict[str, str]:
        return {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": self.secret,
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": self.db_url,
            "OPENAI_BASE_URL": fake_url,
            "OPENAI_API_KEY": UPSTREAM_KEY,
            "OPENAI_MODEL": "gpt-fake",
            "JWT_ACCESS_SECONDS": "3600",
            "ALLOW_SIGNUP": "0",
            "PYTHONUNBUFFERED": "1",
            # A few bench users carry hundreds of parallel streams: the usage
            # limits must admit them (their checks still run on every turn).
            "CHAT_CONCURRENT_TURNS": "100000",
            "CHAT_TURNS_PER_MINUTE": "100000",
            "CHAT_DAILY_TOKENS": "1000000000000",
            **self.cfg.extra_env,
        }

    def peer_env(self, fake_url: str) -> dict[str, str]:
        return {
            "BENCH_JWT_KEY": self.secret,
            "OPENAI_BASE_URL": fake_url,
            "OPENAI_API_KEY": UPSTREAM_KEY,
            "OPENAI_MODEL": "gpt-fake",
        }

    def prepare_database(self) -> None:
        url = self.cfg.database_url or os.environ.get("DATABASE_URL")
        if not url:
            db = (self.cfg.out / "bench.sqlite3").resolve()
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            url = f"sqlite:///{db}"
        self.db_url = url
        env = self.django_env("http://127.0.0.1:9/v1")
        self.say(f"database: {url.split('@')[-1]}; migrating")
        procs.run_manage(["migrate", "--noinput", "-v", "0"], env)
        procs.run_manage(
            [
                "shell",
                "-c",
                "from django.contrib.auth import get_user_model\n"
                "U = get_user_model()\n"
                f"for i in range({self.cfg.users}):\n"
                "    u, _ = U.objects.get_or_create(username=f'bench{i}')\n"
                "    u.set_password('bench-password-123'); u.is_active = True; u.save()\n",
            ],
            env,
        )

    def login_all(self, base: str) -> None:
        tokens = []
        for i in range(self.cfg.users):
            status, body = http_json(
                base + "/api/auth/token",
                {"username": f"bench{i}", "password": "bench-password-123"},
            )
            if status != 200 or "access" not in body:
                raise RuntimeError(f"login failed: {status} {body}")
            tokens.append(body["access"])
        self.tokens = tokens

    def mint_tokens(self) -> list[str]:
        """Access tokens shaped like SimpleJWT's, for a peer-only run."""
        import uuid

        import jwt

        now = int(time.time())
        return [
            jwt.encode(
                {
                    "token_type": "access",
                    "exp": now + 3600,
                    "iat": now,
                    "jti": uuid.uuid4().hex,
                    "user_id": str(i + 1),
                    "iss": "chatproject",
                    "aud": "chatproject-api",
                },
                self.secret,
                algorithm="HS256",
            )
            for i in range(self.cfg.users)
        ]

    # -- one (target, scenario)

    def spec(self, target: str, url: str, sc: Scenario, concurrency: int, rounds: int, seq: int):
        host, port = url.split("//")[1].split(":")
        expect = sc.upstream.tokens * len(TOKEN)
        if target == "limit":
            body = json.dumps(
                {
                    "model": "gpt-fake",
                    "messages": [{"role": "user", "content": MESSAGE}],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                }
            )
            return Spec(
                host=host,
                port=int(port.split("/")[0]),
                path="/v1/chat/completions",
                body=[body],
                headers=[{"Authorization": f"Bearer {UPSTREAM_KEY}"}],
                mode="upstream",
                concurrency=concurrency,
                rounds=rounds,
                sequential=seq,
                expect_chars=expect,
                timeout=120,
            )
        return Spec(
            host=host,
            port=int(port),
            path="/api/chat",
            body=[json.dumps({"message": MESSAGE})],
            headers=[{"Authorization": f"Bearer {t}"} for t in self.tokens],
            mode="sse",
            concurrency=concurrency,
            rounds=rounds,
            sequential=seq,
            expect_chars=expect,
            timeout=120,
        )

    def run_one(self, target: str, sc: Scenario, fake: procs.Proc) -> Run:
        run = Run(target, sc.name)
        delay = self.cfg.first_token_delay
        server = None
        try:
            if target == "limit":
                url = fake.url.rsplit("/v1", 1)[0]
                measured = fake
            elif target == "peer":
                server = procs.start_server(
                    "peer", self.peer_env(fake.url), self.log_dir, f"peer-{sc.name}"
                )
                url, measured = server.url, server
            else:
                server = procs.start_server(
                    target, self.django_env(fake.url), self.log_dir, f"{target}-{sc.name}"
                )
                url, measured = server.url, server
            warm = self.spec(target, url, sc, sc.warmup_concurrency, 1, sc.warmup_sequential)
            warm_result = run_in_process(warm, cpus=procs.AFFINITY["load"])
            warm_errors = [s["error"] for s in warm_result["samples"] if s["error"]]
            if warm_errors:
                self.say(f"    warm-up errors: {sorted(set(warm_errors))[:3]}")
            time.sleep(0.2)
            rss_base = measured.rss()
            cpu0 = measured.cpu_seconds()
            measured.start_sampling()
            profiler = None
            if self.cfg.profile and target != "limit":
                profiler = procs.start_profiler(
                    measured, self.cfg.out / "profiles" / f"{target}-{sc.name}.txt"
                )
            fake_cpu0 = fake.cpu_seconds()
            result = run_in_process(
                self.spec(target, url, sc, sc.concurrency, sc.rounds, sc.sequential),
                cpus=procs.AFFINITY["load"],
            )
            fake_cpu = fake.cpu_seconds() - fake_cpu0
            cpu1 = measured.cpu_seconds()
            measured.stop_sampling()
            if profiler is not None:
                procs.stop_profiler(profiler)
            peak = measured.peak_rss() if target != "limit" else None
            run.figures = figures_for(
                result,
                sc,
                delay,
                cpu1 - cpu0 if target != "limit" else None,
                rss_base if target != "limit" else None,
                peak,
            )
            run.figures["upstream_cpu_s"] = fake_cpu
            run.figures["upstream_cpu_util"] = fake_cpu / result["wall"] if result["wall"] else None
        finally:
            if server:
                server.stop()
        return run

    # -- everything

    def check_django(self, fake: procs.Proc) -> None:
        """Is the chat view there? (``POST /api/chat`` without auth must be 401.)"""
        server = procs.start_server("daphne", self.django_env(fake.url), self.log_dir, "probe")
        try:
            status, _ = http_json(server.url + "/api/chat", {"message": "x"}, token=None)
            if status == 404:
                self.django_ready = "the chat view is not routed yet (POST /api/chat -> 404)"
                return
            if status != 401:
                self.django_ready = f"POST /api/chat without credentials gave {status}, not 401"
                return
            self.login_all(server.url)
        except Exception as exc:
            self.django_ready = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            server.stop()

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        cfg.out.mkdir(parents=True, exist_ok=True)
        started = time.time()
        self.pinning = procs.pin(cfg.pin)
        self.say(f"CPU pinning: {self.pinning}")
        wants_django = any(t in OURS for t in cfg.targets)
        plan = [
            s for s in scenarios(cfg.quick, cfg.long_interval) if not cfg.only or s.name in cfg.only
        ]
        fakes: dict[Upstream, procs.Proc] = {}
        try:
            for sc in plan:
                if sc.upstream not in fakes:
                    fakes[sc.upstream] = procs.start_fake(
                        self.log_dir,
                        first_token_delay=cfg.first_token_delay,
                        tokens=sc.upstream.tokens,
                        interval=sc.upstream.interval,
                        token=TOKEN,
                        api_key=UPSTREAM_KEY,
                    )
            if wants_django:
                self.prepare_database()
                self.check_django(next(iter(fakes.values())))
                if self.django_ready:
                    self.notes.append(f"our app was not measured: {self.django_ready}")
                    self.say(f"!! skipping our app: {self.django_ready}")
            if not self.tokens:
                self.tokens = self.mint_tokens()
            for sc in plan:
                self.say(f"== {sc.title} ({sc.name})")
                measured: dict[str, list[Run]] = {}
                for rep in range(cfg.repeat):
                    # ABBA: a machine getting faster or slower favours no target.
                    order = cfg.targets if rep % 2 == 0 else tuple(reversed(cfg.targets))
                    for target in order:
                        if target in OURS and self.django_ready:
                            continue
                        t0 = time.monotonic()
                        run = self.run_one(target, sc, fakes[sc.upstream])
                        measured.setdefault(target, []).append(run)
                        self.say(
                            f"  {target:8s}{f' #{rep + 1}' if cfg.repeat > 1 else ''} "
                            f"{summary(run.figures)}  [{time.monotonic() - t0:.1f}s]"
                        )
                for target in cfg.targets:
                    if target in OURS and self.django_ready:
                        self.runs.append(Run(target, sc.name, skipped=self.django_ready))
                    else:
                        self.runs.append(combine(measured[target]))
        finally:
            for fake in fakes.values():
                fake.stop()
        return self.report_data(plan, time.time() - started)

    def report_data(self, plan: list[Scenario], elapsed: float) -> dict[str, Any]:
        import platform
        import subprocess

        try:
            rev = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=procs.ROOT,
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        except OSError:
            rev = ""
        return {
            "meta": {
                "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "git": rev,
                "python": platform.python_version(),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
                "database": self.db_url.split("://")[0] if self.db_url else None,
                "first_token_delay_s": self.cfg.first_token_delay,
                "quick": self.cfg.quick,
                "repeat": self.cfg.repeat,
                "elapsed_s": elapsed,
                "targets": {t: TARGET_LABELS[t] for t in self.cfg.targets},
                "extra_env": self.cfg.extra_env,
                "cpu_pinning": getattr(self, "pinning", "off"),
            },
            "scenarios": [asdict(s) for s in plan],
            "runs": [asdict(r) for r in self.runs],
            "notes": self.notes,
        }


def summary(f: dict[str, Any]) -> str:
    """One progress line's figures."""
    return (
        f"ttft+{fmt(f['added_ttft_ms_p50'])}/{fmt(f['added_ttft_ms_p99'])} ms"
        f"  done {fmt(f['completion_s_p50'], 3)}/{fmt(f['completion_s_p99'], 3)} s"
        f"  cpu/1k {fmt(f['cpu_s_per_1k_tokens'], 3)} s"
        f"  peak {fmt(f['peak_rss_mb'], 0)} MB"
        f"  errors {f['errors']}{' ' + str(f['error_kinds']) if f['errors'] else ''}"
        f"  client {fmt((f['client_cpu_util'] or 0) * 100, 0)}%"
        f"  fake {fmt((f['upstream_cpu_util'] or 0) * 100, 0)}%"
    )


def combine(runs: list[Run]) -> Run:
    """One run's figures from repeated runs: the median of each number, errors summed.
    The repeats' own figures stay in ``figures["repeats"]`` (the JSON report)."""
    if len(runs) == 1:
        return runs[0]
    figures: dict[str, Any] = {}
    for key, value in runs[0].figures.items():
        values = [r.figures.get(key) for r in runs]
        if key in ("errors", "streams", "relayed_tokens"):
            figures[key] = sum(v or 0 for v in values)
        elif key == "error_kinds":
            figures[key] = sorted({kind for v in values for kind in v or []})[:5]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            numbers = sorted(v for v in values if v is not None)
            figures[key] = numbers[(len(numbers) - 1) // 2] if numbers else None
        else:
            figures[key] = value
    figures["repeats"] = [r.figures for r in runs]
    return Run(runs[0].target, runs[0].scenario, figures)


def fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def http_json(url: str, payload: dict, token: str | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(  # noqa: S310 - loopback http only
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"null")
        except ValueError:
            return err.code, None
