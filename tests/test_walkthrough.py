"""A newcomer's first hour, as far as a test can follow the README and docs/.

Each check is one thing the README tells a reader to do or to rely on: the
commands it names exist, the variables it says switch to a real model do, its
links lead somewhere, the screenshot is there. Other steps have their own
tests: the rename (tests/test_rename.py), the tool example
(tests/chat/test_custom_tools.py), the demo user (tests/accounts/test_seed_demo.py),
the model check (tests/chat/test_check_model.py).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = {ROOT / "README.md": README} | {path: path.read_text() for path in DOCS}
MAKEFILE = (ROOT / "Makefile").read_text()
_SETTINGS_MATCH = re.search(
    r"DJANGO_SETTINGS_MODULE['\"],\s*['\"](\w+)\.settings", (ROOT / "manage.py").read_text()
)
assert _SETTINGS_MATCH is not None
SETTINGS_PACKAGE = _SETTINGS_MATCH[1]
SETTINGS = "\n".join(
    path.read_text() for path in sorted((ROOT / SETTINGS_PACKAGE / "settings").glob("*.py"))
)

FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def code_of(text: str) -> list[str]:
    """Fenced blocks and inline code spans: where commands are written."""
    blocks = FENCE.findall(text)
    return blocks + INLINE.findall(FENCE.sub("", text))


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", MAKEFILE, re.MULTILINE))


def section(text: str, heading: str) -> str:
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def test_the_readme_commands_are_make_targets():
    assert {"run", "test", "rename", "bench", "lint"} <= make_targets()
    two_commands = section(README, "## Two commands")
    assert "make run" in two_commands and "make test" in two_commands


def test_every_make_target_mentioned_in_the_docs_exists():
    targets = make_targets()
    mentioned = {
        (page.relative_to(ROOT).as_posix(), target)
        for page, text in PAGES.items()
        for code in code_of(text)
        for target in re.findall(r"(?<![\w-])make ([a-z][\w-]*)", code)
    }
    assert {target for _, target in mentioned} >= {"run", "test", "rename"}
    assert sorted(m for m in mentioned if m[1] not in targets) == []


@pytest.mark.skipif(not shutil.which("make"), reason="needs make")
def test_make_rename_calls_the_script_and_needs_a_name():
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "rename", "NAME=acme"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dry.returncode == 0, dry.stderr
    assert 'scripts/rename.py "acme"' in dry.stdout
    missing = subprocess.run(
        ["make", "--no-print-directory", "rename"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode != 0
    assert "usage: make rename NAME=" in missing.stderr


def test_every_manage_py_command_mentioned_exists():
    known = set(get_commands())
    mentioned = {
        command
        for text in PAGES.values()
        for code in code_of(text)
        for command in re.findall(r"manage\.py (\w+)", code)
    }
    assert {"check_model", "seed_demo", "flushexpiredtokens"} <= mentioned
    assert sorted(mentioned - known) == []


def _model_after(env: dict[str, str]) -> list[str]:
    """What the chat would talk to, in a fresh process with ``env`` (chat.agent's choice)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "CHAT_", "DJANGO_SETTINGS_MODULE"))
    }
    script = (
        "import django; django.setup(); from chat.agent import model_config; "
        "c = model_config(); print(c.api, c.name, c.base_url or '-', c.api_key or '-')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **base,
            **env,
            "DJANGO_SETTINGS_MODULE": f"{SETTINGS_PACKAGE}.settings",
            "DJANGO_DEBUG": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_two_variables_the_readme_names_switch_to_a_real_model():
    real_model = section(README, "## Use a real model")
    commands = [
        line.split("#")[0].strip()
        for block in FENCE.findall(real_model)
        for line in block.splitlines()
        if line.strip().endswith("make run") or "make run " in line
    ]
    envs = [dict(re.findall(r"\b([A-Z][A-Z0-9_]*)=(\S+)", command)) for command in commands]
    assert {"OPENAI_API_KEY", "OPENAI_BASE_URL"} <= {name for env in envs for name in env}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        assert f'env.str("{name}"' in SETTINGS

    assert _model_after({})[0] == "offline_demo"
    for env in envs:
        api, name, base_url, api_key = _model_after(env)
        if "OPENAI_BASE_URL" in env:
            assert (api, base_url) == ("chat_completions", env["OPENAI_BASE_URL"])
        else:
            assert (api, base_url, api_key) == ("responses", "-", env["OPENAI_API_KEY"])
        if "OPENAI_MODEL" in env:
            assert name == env["OPENAI_MODEL"]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_\[\]()]", lambda m: "_" if m[0] == "_" else "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", text), re.MULTILINE)}


def test_links_in_the_readme_and_docs_lead_somewhere():
    broken = []
    for page, text in PAGES.items():
        for target in LINK.findall(text) + IMAGE.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            destination = (page.parent / path).resolve() if path else page
            name = f"{page.relative_to(ROOT)} -> {target}"
            if not destination.exists():
                broken.append(f"{name}: no such file")
            elif anchor and anchor not in _anchors(destination.read_text()):
                broken.append(f"{name}: no such heading")
    assert broken == []


def test_the_readme_links_every_doc_and_shows_the_chat():
    linked = {target.partition("#")[0] for target in LINK.findall(README)}
    for doc in DOCS:
        assert f"docs/{doc.name}" in linked, doc.name
    assert {
        "architecture.md",
        "security.md",
        "customising.md",
        "deploying.md",
        "troubleshooting.md",
    } <= {doc.name for doc in DOCS}
    (screenshot,) = IMAGE.findall(README)
    image = ROOT / screenshot
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.stat().st_size <= 300 * 1024


def test_the_architecture_page_draws_the_request_path_and_the_token_lifecycle():
    text = (ROOT / "docs" / "architecture.md").read_text()
    diagrams = re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert len(diagrams) >= 2
    request_path, tokens = diagrams[:2]
    for step in ("Browser", "authentication", "chat_stream", "Agent", "Upstream"):
        assert step in request_path, step
    for step in ("/api/auth/token", "refresh", "token_reused", "logout"):
        assert step in tokens, step


def test_variables_named_in_the_docs_are_read_somewhere():
    """A variable the docs tell you to set is read by the settings or the scripts."""
    settings_vars = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', SETTINGS))
    elsewhere = "\n".join(
        (ROOT / name).read_text()
        for name in ("scripts/serve", "Makefile", "docker-compose.yml", ".ci/run", "manage.py")
    )
    unread = set()
    for page, text in PAGES.items():
        for code in INLINE.findall(FENCE.sub("", text)):
            for name in re.findall(r"^([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?:=|$)", code):
                if name not in settings_vars and name not in elsewhere:
                    unread.add(f"{page.relative_to(ROOT)}: {name}")
    assert sorted(unread) == []


def test_the_pre_commit_hooks_run_local_tools():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert all(repo["repo"] == "local" for repo in config["repos"])  # nothing to download
    assert hooks["ruff-check"]["entry"].startswith(".venv/bin/ruff check")
    assert hooks["ruff-format"]["entry"].startswith(".venv/bin/ruff format")
    assert hooks["biome"]["entry"] == "npm --prefix frontend run lint"
    assert '"lint": "biome' in (ROOT / "frontend" / "package.json").read_text()
    assert (ROOT / ".venv" / "bin" / "ruff").exists() or not (ROOT / ".venv").exists()
    assert "pre-commit" in README


def test_docs_name_only_real_paths():
    """Backticked repository paths in the docs (``chat/agent.py``) exist."""
    missing = set()
    for page, text in PAGES.items():
        for code in INLINE.findall(FENCE.sub("", text)):
            if re.fullmatch(r"[\w.-]+(/[\w.-]+)+/?", code) and not code.startswith("/"):
                first = code.split("/")[0]
                if (ROOT / first).exists() and not (ROOT / code).exists():
                    missing.add(f"{page.relative_to(ROOT)}: {code}")
    assert sorted(missing) == []


def test_readme_stays_short():
    assert len(README.splitlines()) < 300
    for heading in ("## Configuration", "### `check --deploy`", "## Deploying", "## Docs"):
        assert heading in README
    assert Path(ROOT / "docs" / "images" / "chat.png").exists()


def test_the_readme_check_model_command_runs_as_written():
    """Copied from the README into a shell on a fresh clone: the offline demo answers."""
    (command,) = {
        code for code in INLINE.findall(README) if "manage.py check_model" in code.split("#")[0]
    }
    words = shlex.split(command)
    assignments = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
    argv = [word for word in words if not re.match(r"^[A-Z_]+=", word)]
    assert argv[0] == ".venv/bin/python"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "CHAT_", "DJANGO_", "PYTEST_"))
    }
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=ROOT,
        env={**env, **assignments},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Offline demo model" in result.stdout
