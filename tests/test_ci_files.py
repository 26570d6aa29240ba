"""The GitHub workflow runs what .ci/run runs."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT

CI_RUN = (ROOT / ".ci" / "run").read_text()
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())


def _steps() -> list[dict]:
    return WORKFLOW["jobs"]["test"]["steps"]


def test_workflow_runs_the_ci_script_itself():
    runs = [step.get("run", "") for step in _steps()]
    assert "bash .ci/run" in runs


def test_ci_script_calls_make_test_and_the_python_suite_again():
    commands = [
        line.strip() for line in CI_RUN.splitlines() if not line.strip().startswith(("#", "echo"))
    ]
    targets = [m[1] for line in commands if (m := re.search(r"\bmake (\S+)", line))]
    assert targets == ["test", "test-python"]
    assert "set -euo pipefail" in CI_RUN


def test_workflow_service_urls_reach_the_ci_script():
    env = WORKFLOW["jobs"]["test"]["env"]
    assert env["CI"] == "true"
    assert "CI_DATABASE_URL" in CI_RUN and env["CI_DATABASE_URL"].startswith("postgres://")
    assert "CI_REDIS_URL" in CI_RUN and env["CI_REDIS_URL"].startswith("redis://")
    services = WORKFLOW["jobs"]["test"]["services"]
    assert {"postgres", "redis"} <= set(services)


def test_workflow_lints_with_the_make_target():
    assert "make lint" in [step.get("run", "") for step in _steps()]
