"""Serve the built React app from Django, on the same origin as the API.

Same origin keeps the refresh cookie ``SameSite=Strict`` and needs no CORS.
Hashed assets under ``/assets/`` are served by WhiteNoise (``WHITENOISE_ROOT``)
with a long cache lifetime; ``index.html`` is served here for ``/``,
``/index.html`` and every client-side route, never cached, so a deploy is
picked up on the next load, and always through Django's middleware, so it
carries the security headers every other page does (the static-files layer
never serves HTML: chatproject/static_files.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

# The shell's own policy, stricter than the one Django's pages get
# (chatproject.middleware): the built app has no inline script or style at all
# (React sets styles through the DOM, which CSP does not govern), so neither is
# allowed. Images and fonts are the app's own files (the build inlines no
# data: URL): never another origin, so a Markdown image in a model's reply
# cannot leak the conversation to a server.
# tests/e2e/test_csp.py loads the app, chats, and finds no other violation.
SPA_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>Chat starter</title><body><h1>Frontend not built</h1>
<p>Run <code>make run</code> (or <code>cd frontend &amp;&amp; npm install &amp;&amp; npm run build</code>).
The API is up: try <a href="/healthz">/healthz</a> and <a href="/admin/">/admin/</a>.</p></body></html>
"""


@lru_cache(maxsize=1)
def _read_index(path: Path, mtime: float) -> bytes:
    return path.read_bytes()


def index_html() -> bytes | None:
    path = Path(settings.FRONTEND_DIST) / "index.html"
    try:
        return _read_index(path, path.stat().st_mtime)
    except FileNotFoundError:
        return None


@require_safe
async def spa(request: HttpRequest, route: str = "") -> HttpResponse:
    # Async, so serving the page costs no hop to Django's sync thread; the
    # file is read once and cached until its mtime changes.
    body = index_html()
    response = HttpResponse(body or _NOT_BUILT, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Content-Security-Policy"] = SPA_CONTENT_SECURITY_POLICY
    return response
