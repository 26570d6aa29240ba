"""Smoke test of the benchmark harness: quick mode against the fake upstream,
the FastAPI peer and our app under the production entrypoint (scripts/serve).
No assertions on speed: figures exist, no errors."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi", reason="needs the bench extra: pip install -e '.[bench]'")
pytest.importorskip("uvicorn", reason="needs the bench extra: pip install -e '.[bench]'")
pytest.importorskip("psutil", reason="needs the bench extra: pip install -e '.[bench]'")

pytestmark = pytest.mark.live


def test_quick_mode_produces_figures(tmp_path):
    from tests.bench.__main__ import main

    code = main(
        [
            "--quick",
            "--targets",
            "limit,peer,uvicorn",
            "--scenarios",
            "warm1,burst20",
            "--users",
            "2",
            "--out",
            str(tmp_path),
            # Never the DATABASE_URL / REDIS_URL of the surrounding run: the bench
            # writes users and conversations to its database.
            "--database-url",
            f"sqlite:///{tmp_path / 'bench.sqlite3'}",
            "--env",
            "REDIS_URL=",
            "--quiet",
        ]
    )
    data = json.loads((tmp_path / "latest.json").read_text())
    md = (tmp_path / "latest.md").read_text()

    assert code == 0
    runs = {(r["target"], r["scenario"]): r for r in data["runs"]}
    targets = ("limit", "peer", "uvicorn")
    assert set(runs) == {(t, s) for t in targets for s in ("warm1", "burst20")}
    for (target, _), run in runs.items():
        fig = run["figures"]
        assert run["skipped"] is None
        assert fig["errors"] == 0, fig["error_kinds"]
        assert fig["streams"] > 0
        assert fig["added_ttft_ms_p50"] is not None
        assert fig["completion_s_p99"] is not None
        if target != "limit":
            assert fig["cpu_s_per_1k_tokens"] > 0
            assert fig["peak_rss_mb"] > 0
    assert "FastAPI+uvicorn peer" in md
    assert "uvicorn/peer" in md
    assert "added TTFT p50" in md
