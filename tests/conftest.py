"""Shared fixtures: real server processes, service detection, three users.

Live-server tests talk to a real Daphne process over loopback. That process
uses the test database pytest-django created, so a test that drives it must
use ``transactional_db`` (or ``app_server``, which requests it): rows it
writes are committed and visible to the server, and are flushed afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


# Browser tests run in their own pytest process (``make test-python`` runs both):
# Playwright's sync API keeps an event loop running in the main thread, which
# makes Django refuse sync database access for every test that follows unless
# DJANGO_ALLOW_ASYNC_UNSAFE is set, and that would also hide real async-safety
# bugs from the other suites. So tests/e2e is collected only with E2E=1.
RUN_E2E = os.environ.get("E2E") == "1"
collect_ignore = [] if RUN_E2E else ["e2e"]


def pytest_report_header(config: pytest.Config) -> str:
    if RUN_E2E:
        return "browser tests: on"
    return "browser tests: not collected here; run them with E2E=1 pytest tests/e2e"


def _db_is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://...")
    skip_redis = pytest.mark.skip(reason="needs Redis: run with REDIS_URL=redis://...")
    for item in items:
        if "postgres" in item.keywords and not _db_is_postgres():
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shared_database_url() -> str:
    """A DATABASE_URL pointing at the database pytest-django created."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


@dataclass
class ServerProcess:
    """A Daphne process serving ``chatproject.asgi:application`` on loopback."""

    url: str
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(
    log_dir: Path, extra_env: dict[str, str] | None = None, *, production_entrypoint: bool = False
) -> ServerProcess:
    """Daphne by default; ``production_entrypoint`` runs ``scripts/serve`` (uvicorn)."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": shared_database_url(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        # scripts/serve finds uvicorn on PATH, as in the container image.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # Every live test registers its users from 127.0.0.1, and with REDIS_URL
        # the per-IP counters are shared by all server processes of the run (and
        # outlive it by a minute): the default 10/min would throttle the suite
        # itself. Tests of the limits use the test client, or pass these (the
        # per-username failed-login limit stays: usernames are unique per test).
        "THROTTLE_REGISTER": "1000/min",
        "THROTTLE_REFRESH": "1000/min",
        "THROTTLE_LOGIN_FAILURES_IP": "1000/min",
        # The same for the usage limits: a server outlives many tests, and on
        # SQLite user ids restart with every test's flush. Tests of the limits
        # pass their own.
        "CHAT_TURNS_PER_MINUTE": "10000",
        "CHAT_CONCURRENT_TURNS": "1000",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra_env or {})
    log_path = log_dir / f"server-{port}.log"
    log_file = log_path.open("wb")
    if production_entrypoint:
        command = ["sh", str(ROOT / "scripts" / "serve")]
    else:
        # As `make run` does: Daphne's own frame limit (1 MiB) made WS_MAX_FRAME_BYTES.
        frame_limit = env.get("WS_MAX_FRAME_BYTES", "65536")
        command = [
            sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
            "--websocket-max-message-size", frame_limit, "chatproject.asgi:application",
        ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    server = ServerProcess(
        url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")


PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "test-only-production-key-8a7sd6f5g4h3j2k1l0qwertyuiopzxcvbnm",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
}


def collectstatic() -> None:
    """Production mode serves hashed static files from the manifest collectstatic
    writes (the Dockerfile runs it at build time; ``make install`` does too)."""
    env = {**os.environ, **PRODUCTION_ENV}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


@pytest.fixture(scope="session", autouse=True)
def _close_database_threads(django_db_setup) -> Iterator[None]:
    """The async views keep connections open on chatproject.db's threads; close them
    before pytest-django drops the test database (PostgreSQL refuses while they are open)."""
    yield
    from chatproject import db

    db.shutdown()


@pytest.fixture
def db_thread_queries() -> Iterator[list[str]]:
    """The SQL run on chatproject.db's worker threads during the test (where the async
    views query; ``django_assert_num_queries`` only sees this thread's connection).
    The workers are restarted so that each new connection gets the counting wrapper."""
    from django.db.backends.signals import connection_created

    from chatproject import db

    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    def install(sender, connection, **kwargs) -> None:
        if threading.current_thread().name.startswith("db-"):
            connection.execute_wrappers.append(count)

    db.shutdown()
    connection_created.connect(install)
    try:
        yield queries
    finally:
        connection_created.disconnect(install)
        db.shutdown()


@pytest.fixture(scope="session")
def server_factory(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator:
    """Start extra server processes with their own environment (stopped at session end)."""
    started: list[ServerProcess] = []
    log_dir = tmp_path_factory.mktemp("servers")

    def factory(*, production_entrypoint: bool = False, **extra_env: str) -> ServerProcess:
        server = start_server(log_dir, extra_env, production_entrypoint=production_entrypoint)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def _session_server(server_factory) -> ServerProcess:
    return server_factory()


@pytest.fixture
def app_server(_session_server: ServerProcess, transactional_db) -> ServerProcess:
    """The shared Daphne process, with this test's rows committed where it can see them."""
    assert _session_server.process.poll() is None, _session_server.log()
    return _session_server


# --------------------------------------------------------------------------
# Three users: the owner of things, a second user, and an outsider who must
# get 404 on the owner's things.
# --------------------------------------------------------------------------

PASSWORD = "correct-horse-battery-staple-42"


def _make_user(django_user_model, username: str):
    return django_user_model.objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD
    )


@pytest.fixture
def owner(django_user_model):
    return _make_user(django_user_model, "owner")


@pytest.fixture
def second_user(django_user_model):
    return _make_user(django_user_model, "second")


@pytest.fixture
def outsider(django_user_model):
    return _make_user(django_user_model, "outsider")


def bearer(user) -> dict[str, str]:
    """HTTP headers carrying a fresh access token for ``user``."""
    from rest_framework_simplejwt.tokens import AccessToken

    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


# Usage slots (usage.slots): every test starts with no live turns and no recent starts.
def _clear_redis() -> None:
    import redis

    from usage import slots

    client = redis.Redis.from_url(str(settings.REDIS_URL))
    try:
        keys = list(client.scan_iter(match=f"{slots.KEY_PREFIX}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def fresh_slots() -> Iterator[None]:
    """Each test starts with no live turns and no recent starts, on either store.
    User ids restart with every test database, so Redis keys of an earlier run
    (they live up to a minute) would otherwise count against this one's users."""
    from usage import slots

    if settings.REDIS_URL:
        _clear_redis()
    slots.reset_store()
    yield
    slots.reset_store()
    if settings.REDIS_URL:
        _clear_redis()
