"""Process management: the fake upstream, the servers under test, and their
CPU / memory figures (psutil, plus ``VmHWM`` from /proc on Linux)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin(name: str) -> str:
    path = VENV_BIN / name
    return str(path) if path.exists() else name


def _user_plus_system(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    url: str = ""
    _sampler: threading.Thread | None = field(default=None, repr=False)
    _sampling: bool = False
    peak_rss_sampled: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.pid)

    def _tree_sum(self, measure: Callable[[psutil.Process], float]) -> float:
        """``measure`` summed over the server and its worker processes (Granian and
        Hypercorn serve from children); a process that exits in between counts 0."""
        ps = self.ps
        total = 0.0
        for process in [ps, *ps.children(recursive=True)]:
            try:
                total += measure(process)
            except psutil.Error:
                continue
        return total

    def cpu_seconds(self) -> float:
        return self._tree_sum(_user_plus_system)

    def rss(self) -> int:
        return int(self._tree_sum(lambda p: p.memory_info().rss))

    def peak_rss(self) -> int:
        """Highest resident set size so far (bytes): the kernel's high-water mark for a
        single process, the sampled peak of the sum for a server with workers."""
        if self.ps.children():
            return self.peak_rss_sampled
        hwm = 0
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
        except OSError:
            pass
        return max(hwm, self.peak_rss_sampled)

    def start_sampling(self, every: float = 0.05) -> None:
        """Sample RSS in a thread (the peak where /proc has no VmHWM)."""
        self._sampling = True

        def loop() -> None:
            while self._sampling:
                try:
                    self.peak_rss_sampled = max(self.peak_rss_sampled, self.rss())
                except psutil.Error:
                    return
                time.sleep(every)

        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> None:
        self._sampling = False
        if self._sampler:
            self._sampler.join(1)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        self.stop_sampling()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


# CPU pinning (Linux): the server under test gets a core of its own; the fake
# upstream and the client share the others, so they never steal the server's
# time slices and runs are comparable. ``pin(False)`` turns it off.
AFFINITY: dict[str, set[int] | None] = {"server": None, "load": None}


def pin(enabled: bool) -> str:
    """Set up pinning; returns a description for the report."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(cpus) < 2:
        AFFINITY.update(server=None, load=None)
        return "off"
    AFFINITY.update(server={cpus[-1]}, load=set(cpus[:-1]))
    return (
        f"server on CPU {cpus[-1]}, fake upstream + client on CPU {','.join(map(str, cpus[:-1]))}"
    )


def preexec(role: str):
    cpus = AFFINITY.get(role)
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def _spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Proc:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "ab")  # the child keeps it
    popen = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec("server"),
    )
    log.close()
    return Proc(name, popen, log_path)


def start_fake(
    log_dir: Path,
    *,
    first_token_delay: float,
    tokens: int,
    interval: float,
    token: str,
    api_key: str,
    uvloop: bool = True,
) -> Proc:
    """``python -m tests.fake_openai`` as its own process; waits for its READY line."""
    log_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "tests.fake_openai",
        "--port",
        "0",
        "--first-token-delay",
        str(first_token_delay),
        "--tokens",
        str(tokens),
        "--interval",
        str(interval),
        "--token",
        token,
        "--api-key",
        api_key,
    ] + (["--uvloop"] if uvloop else [])
    log_path = log_dir / f"fake-{tokens}x{interval}.log"
    popen = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(log_path, "ab"),
        stdin=subprocess.DEVNULL,
        text=True,
        preexec_fn=preexec("load"),
    )
    proc = Proc("fake", popen, log_path)
    deadline = time.monotonic() + 20
    assert popen.stdout is not None
    while time.monotonic() < deadline:
        line = popen.stdout.readline()
        if line.startswith("FAKE_OPENAI_READY"):
            proc.url = line.split()[1]  # .../v1
            return proc
        if not line and popen.poll() is not None:
            break
    proc.stop()
    raise RuntimeError(f"fake upstream did not start: {proc.log()[-2000:]}")


def wait_http(url: str, proc: Proc, timeout: float = 30) -> None:
    """Poll ``url`` (a GET) until it answers 200."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert parts.hostname is not None, url
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(
                f"{proc.name} exited ({proc.popen.returncode}):\n{proc.log()[-3000:]}"
            )
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            conn.request("GET", parts.path or "/")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
            last = f"status {status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready at {url}: {last}\n{proc.log()[-3000:]}")


def server_argv(kind: str, port: int) -> list[str]:
    """The command line of each server under test."""
    if kind == "daphne":  # the development server (make run, the test suite)
        return [
            _bin("daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--access-log",
            "/dev/null",
            "chatproject.asgi:application",
        ]
    if kind == "uvicorn":  # scripts/serve: the production entrypoint (uvicorn, uvloop, httptools)
        return ["sh", str(ROOT / "scripts" / "serve")]
    if kind == "hypercorn":  # another mature ASGI server, for comparison (--targets)
        return [
            _bin("hypercorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "uvloop",
            "chatproject.asgi:application",
        ]
    if kind == "granian":  # a Rust HTTP server with Python workers, for comparison
        return [
            _bin("granian"),
            "--interface",
            "asginl",  # ASGI without lifespan, like scripts/serve's --lifespan off
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--log-level",
            "warning",
            "chatproject.asgi:application",
        ]
    if kind == "peer":  # the FastAPI relay under uvicorn's defaults (uvloop + httptools)
        return [
            _bin("uvicorn"),
            "tests.bench.peer_fastapi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    raise ValueError(kind)


def start_server(kind: str, env: dict[str, str], log_dir: Path, name: str) -> Proc:
    port = free_port()
    env = {
        **os.environ,
        **env,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = _spawn(name, server_argv(kind, port), env, log_dir)
    proc.url = f"http://127.0.0.1:{port}"
    try:
        wait_http(proc.url + "/healthz", proc)
    except Exception:
        proc.stop()
        raise
    return proc


def start_profiler(proc: Proc, out: Path) -> subprocess.Popen:
    """py-spy sampling ``proc`` and its workers (all threads, 200 Hz) until ``stop_profiler``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # --subprocesses: Granian and Hypercorn run the app in a child process.
    argv = [
        _bin("py-spy"),
        "record",
        "--pid",
        str(proc.popen.pid),
        "--rate",
        "200",
        "--subprocesses",
    ]
    with open(out.with_suffix(".log"), "wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [*argv, "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )


def stop_profiler(profiler: subprocess.Popen) -> None:
    """Stop sampling; py-spy writes its file on SIGINT."""
    profiler.send_signal(signal.SIGINT)
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()


def run_manage(args: list[str], env: dict[str, str], input_text: str | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=input_text,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout
