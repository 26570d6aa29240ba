"""The production entrypoint (``scripts/serve``: uvicorn) serves the whole app.

The suite's other live tests run Daphne, the development server; this one runs
exactly what the container runs, in production mode.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import PRODUCTION_ENV, collectstatic


@pytest.fixture(scope="module")
def production(server_factory):
    collectstatic()
    return server_factory(
        production_entrypoint=True,
        **PRODUCTION_ENV,
        DJANGO_SECURE_SSL_REDIRECT="0",
        ALLOW_SIGNUP="1",
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
    )


@pytest.mark.live
def test_serves_probes_static_files_and_the_spa(production, transactional_db):
    assert httpx.get(f"{production.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{production.url}/readyz").status_code == 200
    admin_css = httpx.get(f"{production.url}/static/admin/css/base.css")
    assert admin_css.status_code == 200
    assert "text/css" in admin_css.headers["content-type"]
    page = httpx.get(f"{production.url}/c/anything")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    assert "uvicorn" in production.log().lower()  # it is the production server


@pytest.mark.live
def test_streams_a_chat_reply_incrementally(production, transactional_db):
    username, password = f"prod-{uuid.uuid4().hex[:8]}", "production-pass-" + uuid.uuid4().hex
    httpx.post(
        f"{production.url}/api/auth/register", json={"username": username, "password": password}
    ).raise_for_status()
    access = httpx.post(
        f"{production.url}/api/auth/token", json={"username": username, "password": password}
    ).json()["access"]

    arrivals: list[tuple[float, dict]] = []
    with httpx.stream(
        "POST",
        f"{production.url}/api/chat",
        json={"message": "hello"},
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        for line in response.iter_lines():
            if line == "data: [DONE]":
                break
            if line.startswith("data: "):
                arrivals.append((time.monotonic(), json.loads(line[6:])))
    kinds = [event["type"] for _, event in arrivals]
    assert kinds[0] == "conversation"
    deltas = [at for at, event in arrivals if event["type"] == "text_delta"]
    assert len(deltas) > 10
    # The demo model pauses between tokens; a buffered response would arrive at once.
    assert deltas[-1] - deltas[0] > 0.1


@pytest.mark.live
def test_websocket_transport_works_under_the_production_server(production, transactional_db):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    from websockets.typing import Origin, Subprotocol

    url = production.url.replace("http://", "ws://") + "/ws/chat"
    # A forged token: accepted with the bearer subprotocol, then closed with 4401.
    with connect(
        url,
        origin=Origin(production.url),
        subprotocols=[Subprotocol("bearer"), Subprotocol("not-a-token")],
        proxy=None,
    ) as socket:
        assert socket.subprotocol == "bearer"
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd.code == 4401

    username, password = f"ws-{uuid.uuid4().hex[:8]}", "production-pass-" + uuid.uuid4().hex
    httpx.post(
        f"{production.url}/api/auth/register", json={"username": username, "password": password}
    ).raise_for_status()
    access = httpx.post(
        f"{production.url}/api/auth/token", json={"username": username, "password": password}
    ).json()["access"]
    with connect(
        url,
        origin=Origin(production.url),
        subprotocols=[Subprotocol("bearer"), Subprotocol(access)],
        proxy=None,
    ) as socket:
        socket.send(json.dumps({"message": "hello over a socket"}))
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] != "done":
            frames.append(json.loads(socket.recv(timeout=15)))
    assert frames[0]["type"] == "conversation"
    assert any(frame["type"] == "text_delta" for frame in frames)
