"""Static files and the SPA's assets, served at the ASGI layer.

WhiteNoise does the hard parts (the file index, compressed variants, ETags,
``immutable`` caching of hashed names), but its Django middleware is sync-only:
under ASGI one sync middleware turns every request, API and SSE included, into
a hop through a worker thread. So we keep WhiteNoise's index and responders and
answer matching GET/HEAD requests here, before Django; everything else goes on
to Django untouched. HTML always goes on to Django (see ``__call__``); every
file answered here carries ``X-Content-Type-Options: nosniff`` and no CORS
header (``WHITENOISE_ALLOW_ALL_ORIGINS`` is off: the app loads its files from
its own origin).
"""

from __future__ import annotations

import asyncio
from typing import Any

from whitenoise.middleware import WhiteNoiseMiddleware

CHUNK_SIZE = 64 * 1024


def _meta(scope: dict[str, Any]) -> dict[str, str]:
    """The ``request.META`` subset WhiteNoise reads (conditional and range headers)."""
    meta = {}
    for name, value in scope.get("headers", []):
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        meta[key] = value.decode("latin-1")
    return meta


class _Files(WhiteNoiseMiddleware):
    def immutable_file_test(self, path: str, url: str) -> bool:
        # Vite writes only content-hashed names under assets/; the rest is
        # WhiteNoise's own test (hashed names from the manifest storage).
        return url.startswith("/assets/") or super().immutable_file_test(path, url)

    def add_mime_headers(self, headers: Any, path: str, url: str) -> None:
        super().add_mime_headers(headers, path, url)
        # Computed once per file when it is indexed, not per request.
        headers["X-Content-Type-Options"] = "nosniff"

    def serves_html(self, url: str) -> bool:
        return self.media_types.get_type(url).startswith("text/html")


class StaticFilesApp:
    """ASGI wrapper: serve a known static file, else call the wrapped app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # Reads STATIC_ROOT, WHITENOISE_ROOT and the other WHITENOISE_* settings.
        self.whitenoise = _Files(get_response=None)

    def _find(self, path: str) -> Any:
        if self.whitenoise.autorefresh:
            return self.whitenoise.find_file(path)
        return self.whitenoise.files.get(path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # HTML (the SPA shell's /index.html, a page in a static package) goes
        # to Django, whose middleware gives it the security headers
        # (CSP, frame-ancestors, HSTS, ...) that a file response here lacks.
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not self.whitenoise.serves_html(scope["path"])
        ):
            if self.whitenoise.autorefresh:
                # Development only: finders touch the disk.
                static_file = await asyncio.to_thread(self._find, scope["path"])
            else:
                static_file = self._find(scope["path"])
            if static_file is not None:
                await self._serve(static_file, scope, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, static_file: Any, scope: dict[str, Any], send: Any) -> None:
        response = await asyncio.to_thread(static_file.get_response, scope["method"], _meta(scope))
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        await send(
            {"type": "http.response.start", "status": int(response.status), "headers": headers}
        )
        file = response.file
        try:
            while file is not None:
                chunk = await asyncio.to_thread(file.read, CHUNK_SIZE)
                if not chunk:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            if file is not None:
                file.close()
        await send({"type": "http.response.body", "body": b""})
