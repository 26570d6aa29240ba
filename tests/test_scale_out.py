"""Stateless across workers: two server processes, one PostgreSQL, one Redis.

What one process learns (a login, a rotated refresh token, a failed login
attempt, a conversation) must hold on the other, as it does behind nginx with
``docker compose up --scale web=3``.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

pytestmark = [pytest.mark.live, pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "scale-out-password-9f3k"


@pytest.fixture(scope="module")
def two_servers(server_factory):
    # The demo model: no upstream needed. Both processes read REDIS_URL and
    # DATABASE_URL from this environment (the PostgreSQL pass of .ci/run).
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "ALLOW_SIGNUP": "1"}
    return server_factory(**env), server_factory(**env)


@pytest.fixture
def servers(two_servers, transactional_db):
    return two_servers


def cookie_headers(base_url: str) -> dict[str, str]:
    return {"Origin": base_url, "X-Requested-With": "fetch"}


def register_and_login(base_url: str) -> tuple[str, str, httpx.Cookies]:
    username = f"scale-{uuid.uuid4().hex[:10]}"
    created = httpx.post(
        f"{base_url}/api/auth/register", json={"username": username, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    login = httpx.post(
        f"{base_url}/api/auth/token", json={"username": username, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    return username, login.json()["access"], login.cookies


def stream_chat(base_url: str, access: str, message: str) -> list[dict]:
    events: list[dict] = []
    with httpx.stream(
        "POST",
        f"{base_url}/api/chat",
        json={"message": message},
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: "):
                payload = line[len("data: ") :]
                if payload == "[DONE]":
                    break
                events.append(json.loads(payload))
    return events


def test_login_on_one_process_chat_and_history_on_the_other(servers):
    a, b = servers
    _, access, _ = register_and_login(a.url)
    events = stream_chat(b.url, access, "hello from process B")
    assert events[0]["type"] == "conversation"
    assert any(event["type"] == "text_delta" for event in events)
    conversation_id = events[0]["id"]

    listed = httpx.get(f"{a.url}/api/conversations", headers={"Authorization": f"Bearer {access}"})
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["results"]] == [conversation_id]
    detail = httpx.get(
        f"{a.url}/api/conversations/{conversation_id}",
        headers={"Authorization": f"Bearer {access}"},
    )
    assert detail.json()["messages"][0]["parts"][0]["text"] == "hello from process B"


def test_refresh_token_rotated_on_one_process_is_reused_on_the_other(servers):
    a, b = servers
    _, _, old_cookies = register_and_login(a.url)
    rotated = httpx.post(
        f"{a.url}/api/auth/token/refresh", cookies=old_cookies, headers=cookie_headers(a.url)
    )
    assert rotated.status_code == 200, rotated.text
    new_cookies = rotated.cookies

    replayed = httpx.post(
        f"{b.url}/api/auth/token/refresh", cookies=old_cookies, headers=cookie_headers(b.url)
    )
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "token_reused"
    # Reuse revokes the whole family: the legitimate new token is dead too, everywhere.
    after = httpx.post(
        f"{a.url}/api/auth/token/refresh", cookies=new_cookies, headers=cookie_headers(a.url)
    )
    assert after.status_code == 401


def test_failed_login_limit_counts_attempts_on_both_processes(servers):
    a, b = servers
    username, _, _ = register_and_login(a.url)
    # The limit is a sliding-window estimate (accounts/throttles.py): just after a
    # minute boundary it weighs the previous minute's attempts by how much of that
    # minute is left, so a burst that straddles a boundary can get one more try.
    # Start well inside a minute so all seven attempts fall in one.
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.5)
    statuses = []
    for attempt in range(6):
        server = a if attempt % 2 == 0 else b
        response = httpx.post(
            f"{server.url}/api/auth/token", json={"username": username, "password": "wrong"}
        )
        statuses.append(response.status_code)
    # Five failures a minute per username, wherever they land; the sixth is refused.
    assert statuses == [401, 401, 401, 401, 401, 429]
    refused = httpx.post(
        f"{a.url}/api/auth/token", json={"username": username, "password": "wrong"}
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
