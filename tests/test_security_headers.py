"""Every HTML response carries the security headers; static files get nosniff.

Real server processes: Daphne in development mode and ``scripts/serve``
(uvicorn) in production mode, behind a proxy that says the request was
HTTPS. The SPA shell is requested at every address it answers on, since
``/index.html`` is also a file the static-files layer knows.
"""

from __future__ import annotations

import re

import httpx
import pytest

from chatproject.middleware import CONTENT_SECURITY_POLICY
from chatproject.spa import SPA_CONTENT_SECURITY_POLICY
from tests.conftest import PRODUCTION_ENV, ROOT, collectstatic

HTTPS = {"X-Forwarded-Proto": "https"}
SPA_PATHS = ["/", "/index.html", "/signup", "/c/2b1f6a8e-0000-4000-8000-000000000000", "/keys"]
DJANGO_HTML_PATHS = ["/api/docs", "/admin/login/"]


def _assets() -> list[str]:
    index = (ROOT / "frontend" / "dist" / "index.html").read_text()
    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)


@pytest.fixture(scope="module", params=["daphne-debug", "uvicorn-production"])
def server(request, server_factory):
    if request.param == "daphne-debug":
        return server_factory()
    collectstatic()
    return server_factory(production_entrypoint=True, **PRODUCTION_ENV)


def _is_production(server) -> bool:
    return server.env["DJANGO_DEBUG"] == "0"


def _assert_html_headers(response: httpx.Response, policy: str, *, production: bool) -> None:
    headers = response.headers
    assert response.status_code == 200, (response.url, response.status_code)
    assert headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"] == policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert "access-control-allow-origin" not in headers
    if production:
        assert headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.live
@pytest.mark.parametrize("path", SPA_PATHS)
def test_the_spa_shell_carries_the_security_headers_at_every_address(server, path):
    response = httpx.get(f"{server.url}{path}", headers=HTTPS)
    _assert_html_headers(response, SPA_CONTENT_SECURITY_POLICY, production=_is_production(server))
    assert response.headers["cache-control"] == "no-cache"
    assert '<div id="root">' in response.text
    head = httpx.head(f"{server.url}{path}", headers=HTTPS)
    assert head.headers["content-security-policy"] == SPA_CONTENT_SECURITY_POLICY


@pytest.mark.live
@pytest.mark.parametrize("path", DJANGO_HTML_PATHS)
def test_django_pages_carry_the_security_headers(server, path, transactional_db):
    response = httpx.get(f"{server.url}{path}", headers=HTTPS)
    _assert_html_headers(response, CONTENT_SECURITY_POLICY, production=_is_production(server))


@pytest.mark.live
def test_static_files_get_nosniff_and_no_wildcard_cors(server):
    paths = [*_assets(), "/static/admin/css/base.css", "/static/admin/js/core.js"]
    assert len(paths) >= 4
    for path in paths:
        response = httpx.get(f"{server.url}{path}", headers=HTTPS)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "access-control-allow-origin" not in response.headers, path
        if path.startswith("/assets/"):
            assert "immutable" in response.headers["cache-control"], path


def test_the_spa_policy_allows_no_inline_code_and_no_other_origin():
    directives = dict(part.split(" ", 1) for part in SPA_CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in SPA_CONTENT_SECURITY_POLICY
    assert "http" not in SPA_CONTENT_SECURITY_POLICY and "*" not in SPA_CONTENT_SECURITY_POLICY
