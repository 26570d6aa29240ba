"""No secret ever reaches the logs.

A real server process logs at DEBUG (the most it can say) while it serves a
registration, a login, a refresh, a request with an API key, a failed login
and a chat that reaches the (fake) upstream with its own API key. Then every
secret that crossed the wire is looked for in everything the process wrote.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from tests.fake_openai import FakeOpenAI, text

UPSTREAM_KEY = "sk-upstream-secret-" + uuid.uuid4().hex
PASSWORD = "log-secret-password-" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def upstream():
    with FakeOpenAI() as fake:
        yield fake


@pytest.mark.live
@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_no_secret_appears_in_the_server_log(
    server_factory, upstream, transactional_db, log_format
):
    server = server_factory(
        LOG_LEVEL="DEBUG",
        LOG_FORMAT=log_format,
        OPENAI_BASE_URL=upstream.base_url,
        OPENAI_API_KEY=UPSTREAM_KEY,
        ALLOW_SIGNUP="1",
    )
    base = server.url
    origin = {"Origin": base, "X-Requested-With": "fetch"}
    username = f"logcheck-{uuid.uuid4().hex[:8]}"
    secrets: list[str] = [UPSTREAM_KEY, PASSWORD]

    assert (
        httpx.post(
            f"{base}/api/auth/register", json={"username": username, "password": PASSWORD}
        ).status_code
        == 201
    )
    failed = httpx.post(
        f"{base}/api/auth/token", json={"username": username, "password": PASSWORD + "-wrong"}
    )
    assert failed.status_code == 401
    secrets.append(PASSWORD + "-wrong")

    login = httpx.post(f"{base}/api/auth/token", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200
    access = login.json()["access"]
    refresh_cookie = login.cookies.get("refresh_token") or next(iter(login.cookies.values()))
    secrets += [access, refresh_cookie]

    refreshed = httpx.post(f"{base}/api/auth/token/refresh", cookies=login.cookies, headers=origin)
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access"]
    secrets += [new_access, *refreshed.cookies.values()]
    bearer = {"Authorization": f"Bearer {new_access}"}

    created = httpx.post(
        f"{base}/api/keys", json={"name": "log check", "password": PASSWORD}, headers=bearer
    )
    assert created.status_code == 201, created.text
    api_key = created.json()["key"]
    secrets.append(api_key)
    assert httpx.get(f"{base}/api/auth/me", headers={"X-API-Key": api_key}).status_code == 200
    wrong_key = api_key[:-4] + "zzzz"
    assert httpx.get(f"{base}/api/auth/me", headers={"X-API-Key": wrong_key}).status_code == 401
    secrets.append(wrong_key)

    upstream.push(text("A reply that streams."))
    with httpx.stream(
        "POST", f"{base}/api/chat", json={"message": "hello"}, headers=bearer, timeout=30
    ) as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    assert "data: [DONE]" in body
    assert json.loads(body.split("data: ", 2)[1].split("\n", 1)[0])["type"] == "conversation"
    assert upstream.last_request.authorization == f"Bearer {UPSTREAM_KEY}"

    server.stop()
    log = server.log()
    assert "POST /api/chat 200" in log  # the log is the one we think it is
    # The SSE view authenticates outside DRF; its log line still names the user.
    assert re.search(r"POST /api/chat 200 \S+ user=\d+ ", log), log[-2000:]
    # The secret part of a JWT is its signature; the payload alone is not secret,
    # but no part of a token should be logged either.
    leaked = [secret[:12] + "…" for secret in secrets if secret and secret in log]
    leaked += ["JWT signature" for token in (access, new_access) if token.rsplit(".", 1)[1] in log]
    assert leaked == []
