"""Smoke test of the benchmark harness: quick mode against the fake upstream
and the FastAPI peer only. No assertions on speed: figures exist, no errors."""

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
            "limit,peer",
            "--scenarios",
            "warm1,burst20",
            "--users",
            "2",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    data = json.loads((tmp_path / "latest.json").read_text())
    md = (tmp_path / "latest.md").read_text()

    assert code == 0
    runs = {(r["target"], r["scenario"]): r for r in data["runs"]}
    assert set(runs) == {(t, s) for t in ("limit", "peer") for s in ("warm1", "burst20")}
    for (target, _), run in runs.items():
        fig = run["figures"]
        assert run["skipped"] is None
        assert fig["errors"] == 0, fig["error_kinds"]
        assert fig["streams"] > 0
        assert fig["added_ttft_ms_p50"] is not None
        assert fig["completion_s_p99"] is not None
        if target == "peer":
            assert fig["cpu_s_per_1k_tokens"] is not None
            assert fig["peak_rss_mb"] > 0
    assert "FastAPI+uvicorn peer" in md
    assert "added TTFT p50" in md
