"""The Dockerfile, docker-compose.yml and nginx config agree with the settings.

No Docker engine runs where these tests run, so the files are read and checked
against what the application actually needs: the environment the compose
stack hands the app is fed to the real settings (``check --deploy``), service
names match the URLs, health checks hit the real probe, nginx streams SSE.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()
SERVE = (ROOT / "scripts" / "serve").read_text()

_VAR = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def resolve(value: str, dotenv: dict[str, str]) -> str:
    """Compose's variable substitution for the forms this file uses."""

    def substitute(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if dotenv.get(name):
            return dotenv[name]
        if op == ":?":
            raise KeyError(f"{name} must be set: {arg}")
        return arg or ""

    return _VAR.sub(substitute, str(value))


def service_env(service: str, dotenv: dict[str, str]) -> dict[str, str]:
    env = COMPOSE["services"][service].get("environment", {})
    return {key: resolve(value, dotenv) for key, value in env.items()}


DOTENV = {"DJANGO_SECRET_KEY": "test-only-Qm9zLk3vX8pR2wN7yT4hJ6cB1dF5gA0sE9uI3oPzZ8x"}


def test_compose_refuses_to_start_without_a_secret_key():
    with pytest.raises(KeyError, match="DJANGO_SECRET_KEY"):
        service_env("web", {})


@pytest.mark.parametrize("service", ["web", "migrate"])
def test_app_services_environment_passes_the_deploy_check(service):
    env = service_env(service, DOTENV)
    # The stack's hosts do not resolve here; point the URLs at loopback with the
    # same shape so the real settings module parses exactly what compose gives.
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("@db:", "@127.0.0.1:")
    env["REDIS_URL"] = env["REDIS_URL"].replace("//redis:", "//127.0.0.1:")
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "OPENAI_"))
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # SSL redirect is off for the plain-HTTP local stack (security.W008), on otherwise.
    output = result.stdout + result.stderr
    assert "configuration error" not in output
    assert set(re.findall(r"security\.W\d+", output)) <= {"security.W008"}, output


def test_urls_point_at_the_compose_services():
    env = service_env("web", DOTENV)
    db = COMPOSE["services"]["db"]["environment"]
    database_url = env["DATABASE_URL"]
    assert database_url.startswith("postgres://")
    assert f"{db['POSTGRES_USER']}:" in database_url
    assert "@db:5432/" in database_url
    assert database_url.endswith("/" + db["POSTGRES_DB"])
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["DJANGO_DEBUG"] == "0"


def test_web_waits_for_healthy_services_and_migrations():
    depends = COMPOSE["services"]["web"]["depends_on"]
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert "migrate" in COMPOSE["services"]["migrate"]["command"]
    for name in ("db", "redis", "web"):
        assert "healthcheck" in COMPOSE["services"][name], name
    assert "pgdata" in COMPOSE["volumes"]


def test_web_replicas_publish_no_host_port_so_they_can_scale():
    web = COMPOSE["services"]["web"]
    assert "ports" not in web  # --scale web=3 would collide on a host port
    assert web["expose"] == ["8000"]
    assert COMPOSE["services"]["nginx"]["ports"] == ["8000:80"]
    assert "server web:8000;" in NGINX


def test_health_checks_hit_the_liveness_probe():
    web_check = " ".join(COMPOSE["services"]["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in web_check
    assert re.search(r"HEALTHCHECK .*\n?.*http://127\.0\.0\.1:8000/healthz", DOCKERFILE)


def test_dockerfile_builds_frontend_runs_as_non_root_and_uses_the_serve_script():
    assert re.search(r"FROM node:\S+ AS frontend", DOCKERFILE)
    assert "npm run build" in DOCKERFILE
    assert "COPY --from=frontend" in DOCKERFILE
    assert "collectstatic" in DOCKERFILE
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert DOCKERFILE.rstrip().endswith('CMD ["scripts/serve"]')
    assert COMPOSE["services"]["web"]["command"] == ["scripts/serve"]
    assert "chatproject.asgi:application" in SERVE
    assert "--proxy-headers" in SERVE
    assert "--no-access-log" in SERVE


def test_dockerfile_copies_every_python_package():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]
    for package in packages:
        assert f"COPY {package}/ {package}/" in DOCKERFILE, package
    assert "constraints.txt" in DOCKERFILE


def _location_block(pattern: str) -> str:
    match = re.search(r"location " + pattern + r" \{(?P<body>[^}]*)\}", NGINX)
    assert match, pattern
    return match["body"]


@pytest.mark.parametrize("location", [r"= /api/chat", r"~ \^/api/runs/\[\^/\]\+/events\$"])
def test_nginx_streams_sse_unbuffered_with_long_timeouts(location):
    body = _location_block(location)
    assert "proxy_buffering off;" in body
    assert "gzip off;" in body
    timeout = re.search(r"proxy_read_timeout (\d+)s;", body)
    assert timeout and int(timeout[1]) >= 3600


def test_nginx_upgrades_websockets():
    body = _location_block("/ws/")
    assert "proxy_set_header Upgrade $http_upgrade;" in body
    assert "proxy_set_header Connection $connection_upgrade;" in body


def test_nginx_passes_the_headers_the_settings_trust():
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in NGINX
    # Overwritten, never appended: the app trusts it from nginx, so a client must
    # not be able to put its own entry first (per-IP throttles).
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in NGINX
    assert "$proxy_add_x_forwarded_for;" not in NGINX.split("# Behind another")[0]
    from django.conf import settings

    # SECURE_PROXY_SSL_HEADER (set when DEBUG is off) reads X-Forwarded-Proto.
    operations = ROOT / "chatproject" / "settings" / "operations.py"
    assert "HTTP_X_FORWARDED_PROTO" in operations.read_text()
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 2 * 1024 * 1024  # within client_max_body_size


def test_env_example_lists_every_variable_the_stack_passes():
    example = (ROOT / ".env.example").read_text()
    for name in service_env("web", DOTENV):
        if name in {"PORT", "FORWARDED_ALLOW_IPS"}:
            continue
        assert name in example, name


def test_the_stop_grace_period_covers_the_drain_and_the_servers_own_shutdown():
    from django.conf import settings

    from chatproject import shutdown

    grace = re.search(r"^(\d+)s$", COMPOSE["services"]["web"]["stop_grace_period"])
    assert grace, "stop_grace_period in seconds, e.g. 45s"
    server_timeout = re.search(r"--timeout-graceful-shutdown (\d+)", SERVE)
    assert server_timeout
    assert "--lifespan on" in SERVE  # the drain is installed by the lifespan startup
    assert "STOPSIGNAL SIGTERM" in DOCKERFILE
    needed = (
        settings.SHUTDOWN_GRACE_SECONDS + shutdown._RECORD_SECONDS + int(server_timeout.group(1))
    )
    assert int(grace.group(1)) >= needed
