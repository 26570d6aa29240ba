"""``GET /metrics``: off without a token, guarded by it, and summed across workers."""

from __future__ import annotations

import concurrent.futures
import re
from pathlib import Path

import httpx
import pytest
from django.test import Client

from chatproject import metrics
from tests.conftest import PRODUCTION_ENV, collectstatic

TOKEN = "metrics-test-token-5c1e"


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
        if found == wanted:
            return float(match.group(3))
    return 0.0


def test_metrics_are_not_served_without_a_token(client: Client, settings) -> None:
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"]
)
def test_a_missing_or_wrong_metrics_token_is_refused(client: Client, settings, header) -> None:
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "chat_turns_total" not in response.content.decode()


def test_metrics_count_requests_and_list_every_turn_outcome(client: Client, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = _sample(
        client.get("/metrics", headers=auth).content.decode(),
        "http_requests_total",
        method="GET",
        status="200",
    )
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.post("/api/auth/me").status_code == 401
    response = client.get("/metrics", headers=auth)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    # The three probes and the first scrape.
    assert _sample(text, "http_requests_total", method="GET", status="200") == before + 4
    assert _sample(text, "http_requests_total", method="POST", status="401") >= 1
    for outcome in metrics.TURN_OUTCOMES:
        assert f'chat_turns_total{{outcome="{outcome}"}}' in text
    assert "chat_turns_active" in text
    assert "chat_time_to_first_token_seconds_bucket" in text
    assert 'chat_tokens_total{direction="input"}' in text


def test_an_unknown_method_does_not_grow_the_label_set(client: Client, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    client.generic("BREW", "/healthz")
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
    assert 'method="BREW"' not in text
    assert _sample(text, "http_requests_total", method="other", status="405") >= 1


def test_turn_functions_move_the_turn_series() -> None:
    text_before = metrics.generate_latest(metrics.REGISTRY).decode()
    metrics.turn_started()
    metrics.turn_first_output(seconds=0.2)
    metrics.turn_ended(outcome="interrupted", input_tokens=7, output_tokens=5)
    text = metrics.generate_latest(metrics.REGISTRY).decode()
    assert _sample(text, "chat_turns_total", outcome="interrupted") == (
        _sample(text_before, "chat_turns_total", outcome="interrupted") + 1
    )
    assert _sample(text, "chat_tokens_total", direction="input") == (
        _sample(text_before, "chat_tokens_total", direction="input") + 7
    )
    assert _sample(text, "chat_turns_active") == _sample(text_before, "chat_turns_active")
    assert _sample(text, "chat_time_to_first_token_seconds_count") == (
        _sample(text_before, "chat_time_to_first_token_seconds_count") + 1
    )


@pytest.mark.live
def test_two_workers_report_one_sum(server_factory, tmp_path: Path, transactional_db) -> None:
    """With WEB_CONCURRENCY=2 every worker's counts reach the scrape, whichever
    worker answers it; without multiprocess mode a scrape shows one worker's."""
    collectstatic()
    directory = tmp_path / "metrics"
    server = server_factory(
        production_entrypoint=True,
        **PRODUCTION_ENV,
        DJANGO_SECURE_SSL_REDIRECT="0",
        WEB_CONCURRENCY="2",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def scrape() -> float:
        text = httpx.get(f"{server.url}/metrics", headers=auth, timeout=10).text
        return _sample(text, "http_requests_total", method="GET", status="404")

    before = scrape()

    def probe(_: int) -> int:
        # A new connection each time, so the kernel spreads them over both workers.
        with httpx.Client(timeout=10) as one:
            return one.get(f"{server.url}/api/nothing-here").status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(probe, range(60))) == {404}
    # Both workers wrote their own files (one per process id) ...
    pids = {re.search(r"_(\d+)\.db$", p.name).group(1) for p in directory.glob("counter_*.db")}
    assert len(pids) >= 2, sorted(p.name for p in directory.iterdir())
    # ... and every scrape, whichever worker answers, sees all 60.
    for _ in range(4):
        assert scrape() == before + 60
