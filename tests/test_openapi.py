"""The OpenAPI schema and the docs page."""

from __future__ import annotations

import re

import httpx
import pytest


@pytest.mark.django_db
def test_schema_is_served_as_openapi_3(client):
    response = client.get("/api/schema", headers={"Accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Chat starter API"


@pytest.mark.live
def test_docs_page_has_no_inline_script_and_its_scripts_load(app_server):
    # Static files are served at the ASGI layer, so this goes through a real server.
    page = httpx.get(f"{app_server.url}/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    # CSP forbids inline script: every <script> must have a src and no body.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts
    for attributes, body in scripts:
        assert "src=" in attributes
        assert body.strip() == ""
    for src in re.findall(r'<script[^>]*src="([^"]+)"', html):
        src = src.replace("&amp;", "&")
        asset = httpx.get(f"{app_server.url}{src}")
        assert asset.status_code == 200, src
        assert "javascript" in asset.headers["content-type"]
