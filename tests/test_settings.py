"""The environment reader and what settings refuse to start with."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chatproject.env import Env, EnvError
from tests.conftest import ROOT


def test_bool_accepts_common_spellings():
    env = Env({"A": "yes", "B": "0", "C": "On", "D": ""})
    assert env.bool("A", default=False) is True
    assert env.bool("B", default=True) is False
    assert env.bool("C", default=False) is True
    assert env.bool("D", default=True) is True  # empty means unset


@pytest.mark.parametrize(
    ("method", "args", "value", "expected"),
    [
        ("bool", {"default": False}, "maybe", "a boolean"),
        ("int", {"default": 1}, "ten", "an integer"),
        ("int", {"default": 1, "min_value": 1}, "0", "an integer >= 1"),
        ("database", {"default": "sqlite:///x"}, "mysql//nope", "a URL like sqlite:///"),
        ("database", {"default": "sqlite:///x"}, "postgres://", "a URL like sqlite:///"),
        ("redis_url", {}, "localhost:6379", "a URL like redis://"),
        ("redis_url", {}, "redis://host:port/0", "a URL like redis://"),
        ("choice", {"default": "a", "choices": ("a", "b")}, "c", "one of a, b"),
        ("rate", {"default": "5/min"}, "5 per minute", "a rate like 5/min"),
    ],
)
def test_bad_value_names_variable_and_expected_form(method, args, value, expected):
    env = Env({"VAR": value})
    with pytest.raises(EnvError) as info:
        getattr(env, method)("VAR", **args)
    assert str(info.value).startswith("VAR: expected ")
    assert expected in str(info.value)


def test_error_never_echoes_the_value():
    env = Env({"DATABASE_URL": "mysql://user:hunter2@db/x"})
    with pytest.raises(EnvError) as info:
        env.database("DATABASE_URL", default="sqlite:///x")
    assert "hunter2" not in str(info.value)


def test_database_urls_parse():
    env = Env({"DATABASE_URL": "postgres://u:p@db.internal:5433/chat"})
    config = env.database("DATABASE_URL", default="sqlite:///x")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "chat")
    sqlite = Env({}).database("DATABASE_URL", default="sqlite:////tmp/app.sqlite3")
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"
    assert sqlite["NAME"] == "/tmp/app.sqlite3"


def test_list_splits_and_trims():
    assert Env({"H": " a.com, b.com ,,"}).list("H", default=[]) == ["a.com", "b.com"]
    assert Env({}).list("H", default=["x"]) == ["x"]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DJANGO_DEBUG": "perhaps"}, "DJANGO_DEBUG"),
        ({"DJANGO_DEBUG": "1", "DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"DJANGO_DEBUG": "1", "REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"DJANGO_DEBUG": "1", "JWT_ACCESS_SECONDS": "5m"}, "JWT_ACCESS_SECONDS"),
        ({"DJANGO_DEBUG": "0"}, "DJANGO_SECRET_KEY"),
        # DEBUG would sign tokens with the dev key committed to the repository.
        ({"DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": "chat.example.com"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": "localhost,*"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": "10.0.0.5"}, "DJANGO_SECRET_KEY"),
        (
            {
                "DJANGO_DEBUG": "1",
                "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            },
            "EMAIL_FILE_PATH",
        ),
        ({"DJANGO_DEBUG": "1", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "EMAIL_USE_SSL"),
        ({"DJANGO_DEBUG": "1", "FRONTEND_ORIGIN": "chat.example.com"}, "FRONTEND_ORIGIN"),
        (
            {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50, "REQUIRE_EMAIL_VERIFICATION": "1"},
            "FRONTEND_ORIGIN",
        ),
    ],
)
def test_bad_configuration_stops_startup_with_one_line(env, variable):
    result = _manage("check", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}: expected ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1,[::1]"},
        {"DJANGO_DEBUG": "1"},  # the default hosts are loopback
        {
            "DJANGO_DEBUG": "1",
            "DJANGO_ALLOWED_HOSTS": "chat.example.com",
            "DJANGO_SECRET_KEY": "a-key-of-its-own-" + "x" * 40,
        },
    ],
)
def test_debug_starts_with_the_dev_key_on_loopback_or_with_a_key_of_its_own(env):
    result = _manage("check", **env)
    assert result.returncode == 0, result.stderr


def test_debug_off_loopback_without_a_key_stops_the_asgi_server_too():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "-c", "import chatproject.asgi"],
        cwd=ROOT,
        env={**clean, "DJANGO_DEBUG": "1", "DJANGO_ALLOWED_HOSTS": "chat.example.com"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: DJANGO_SECRET_KEY: expected ")


def test_asgi_import_with_bad_configuration_exits_with_one_line():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "-c", "import chatproject.asgi"],
        cwd=ROOT,
        env={**clean, "DJANGO_DEBUG": "1", "DATABASE_URL": "bogus://"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: DATABASE_URL: expected " + (
        "a URL like sqlite:///db.sqlite3 or postgres://user:password@host:5432/name"
    )


def test_deploy_check_is_clean_in_production_mode():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 20 + "-a-long-random-production-secret-value-1234567890",
        DJANGO_ALLOWED_HOSTS="example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _load_asgi(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GC_"))}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc, chatproject.asgi; print(gc.get_freeze_count(), gc.get_threshold()[0])",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_loading_the_asgi_app_freezes_startup_objects_and_sets_the_gc_threshold():
    result = _load_asgi()
    assert result.returncode == 0, result.stderr
    frozen, threshold = map(int, result.stdout.split())
    # Django, the Agents SDK and the app: far more than a bare interpreter's ~10k.
    assert frozen > 100_000
    assert threshold == 20_000

    configured = _load_asgi(GC_GEN0_THRESHOLD="5000")
    assert configured.returncode == 0, configured.stderr
    assert int(configured.stdout.split()[1]) == 5000


def test_a_gc_threshold_below_pythons_default_is_refused():
    result = _load_asgi(GC_GEN0_THRESHOLD="10")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "configuration error: GC_GEN0_THRESHOLD: expected an integer >= 700"
    )
