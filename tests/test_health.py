"""Liveness and readiness probes."""

from __future__ import annotations

import httpx
import pytest
from django.test import override_settings


def test_healthz_answers_without_the_database(client):
    # No django_db mark: any database access in the view would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.live
def test_readyz_503_names_the_database_when_it_is_down(server_factory, tmp_path):
    # A real server process whose database cannot be opened: alive, not ready.
    server = server_factory(DATABASE_URL=f"sqlite:///{tmp_path}/missing-dir/db.sqlite3")
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    response = httpx.get(f"{server.url}/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["failed"] == ["database"]


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_readyz_503_names_redis_when_it_is_down(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_trailing_slash_variant_never_500s(client):
    response = client.post("/api/chat/", data="{}", content_type="application/json")
    assert response.status_code == 404


def test_client_routes_get_the_spa_uncached(client):
    response = client.get("/c/some-conversation")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-cache"
