"""The ASGI application under a real Daphne process."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.live
def test_daphne_serves_health_and_readiness(app_server):
    assert httpx.get(f"{app_server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{app_server.url}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"


@pytest.mark.live
def test_daphne_serves_the_admin_login(app_server):
    response = httpx.get(f"{app_server.url}/admin/login/")
    assert response.status_code == 200
    assert "csrfmiddlewaretoken" in response.text
