"""Liveness and readiness probes.

``/healthz`` answers as long as the process serves requests and touches
nothing else, so an orchestrator does not restart a healthy worker because the
database blinked. ``/readyz`` checks each backing service and names the ones
that failed, so a load balancer stops routing to a worker that cannot serve.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from chatproject import shutdown

READY_TIMEOUT_SECONDS = 3.0


@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # Probes run every few seconds; do not keep a connection per probe thread.
        connection.close()


async def _check_redis(url: str) -> None:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(url, socket_connect_timeout=READY_TIMEOUT_SECONDS)
    try:
        await client.ping()
    finally:
        await client.aclose()


@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    if shutdown.is_draining():
        # Stop routing here; in-flight turns are finishing (chatproject/shutdown.py).
        return JsonResponse({"status": "shutting_down"}, status=503)
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(
            sync_to_async(_check_database, thread_sensitive=False)(), READY_TIMEOUT_SECONDS
        )
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
    if settings.REDIS_URL:
        try:
            await asyncio.wait_for(_check_redis(settings.REDIS_URL), READY_TIMEOUT_SECONDS)
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "unavailable"
    failed = sorted(name for name, state in checks.items() if state != "ok")
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "checks": checks}, status=503
        )
    return JsonResponse({"status": "ok", "checks": checks})
