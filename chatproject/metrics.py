"""Prometheus metrics: what operators watch, and ``GET /metrics`` to scrape them.

The endpoint is off unless ``METRICS_TOKEN`` is set (then it answers 404, as
any unknown path): metrics name users' activity and the deployment's shape, so
they are not public. With the token set, a scraper sends
``Authorization: Bearer <METRICS_TOKEN>``; anything else gets 401.

Several worker processes (``WEB_CONCURRENCY`` > 1) each count their own
requests, and a scrape reaches one of them. prometheus-client's multiprocess
mode solves that: every process writes its values to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR`` and the scrape sums them. ``scripts/serve`` sets
that directory (a fresh one per server start) whenever it runs more than one
worker. A process that dies leaves its files behind: counters must keep its
counts (a rate would drop otherwise), but the live gauge must not, so a
scrape first drops the gauge files of processes that no longer exist
(``mark_process_dead``). Without the variable, the process's default registry
is served as it is.

The chat code reports a turn through the three functions at the bottom; the
request log middleware reports every response through ``http_request``.
"""

from __future__ import annotations

import hmac
import os
import re
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from chatproject.errors import WWW_AUTHENTICATE

TURN_OUTCOMES = ("completed", "failed", "cancelled", "interrupted")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP responses sent, by method and status.", ["method", "status"]
)
TURNS = Counter("chat_turns_total", "Chat turns that ended, by outcome.", ["outcome"])
TURNS_ACTIVE = Gauge("chat_turns_active", "Chat turns running now.", multiprocess_mode="livesum")
TIME_TO_FIRST_TOKEN = Histogram(
    "chat_time_to_first_token_seconds",
    "From the start of a turn to its first reply output.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
TOKENS = Counter("chat_tokens_total", "Model tokens used, by direction.", ["direction"])

for _outcome in TURN_OUTCOMES:
    # Present from the first scrape, so ``rate()`` and alerts see a zero, not a gap.
    TURNS.labels(outcome=_outcome)
for _direction in ("input", "output"):
    TOKENS.labels(direction=_direction)


def http_request(*, method: str, status: int) -> None:
    # The method is client-supplied: an unknown one must not grow the label set.
    HTTP_REQUESTS.labels(method=method if method in _METHODS else "other", status=str(status)).inc()


def turn_started() -> None:
    TURNS_ACTIVE.inc()


def turn_first_output(*, seconds: float) -> None:
    TIME_TO_FIRST_TOKEN.observe(seconds)


def turn_ended(*, outcome: str, input_tokens: int = 0, output_tokens: int = 0) -> None:
    """Once per turn that ``turn_started`` counted, whatever ended it."""
    TURNS_ACTIVE.dec()
    TURNS.labels(outcome=outcome if outcome in TURN_OUTCOMES else "failed").inc()
    if input_tokens:
        TOKENS.labels(direction="input").inc(input_tokens)
    if output_tokens:
        TOKENS.labels(direction="output").inc(output_tokens)


_PID_FILE = re.compile(r"_(\d+)\.db$")


def _forget_dead_processes(directory: Path) -> None:
    pids = {int(m.group(1)) for p in directory.glob("*.db") if (m := _PID_FILE.search(p.name))}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))
        except PermissionError:
            pass  # alive, owned by another user


def _registry() -> CollectorRegistry:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    _forget_dead_processes(Path(directory))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return registry


def _unauthorized() -> JsonResponse:
    response = JsonResponse(
        {"detail": "A valid metrics token is required.", "code": "not_authenticated"},
        status=401,
    )
    response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        from chatproject.errors import not_found

        return not_found(request, None)
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(
            {"detail": "Method not allowed.", "code": "method_not_allowed"}, status=405
        )
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        return _unauthorized()
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
