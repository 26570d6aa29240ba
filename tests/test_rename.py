"""``make rename NAME=...`` on a copy of the repository: nothing of the old name is
left, and the copy's own tests, system checks and migrations still pass.

The copy holds git's tracked and untracked-but-not-ignored files (what a clone
plus your new work contains; no .venv, node_modules or build output). It runs
with this venv's python, the copy as working directory and first on
``PYTHONPATH``: the venv's editable install points at the original tree, and
the checks below prove the copy's own code is what gets imported.

The old names are read from the tree (``scripts/rename.py``), never written
here, so this test keeps working after the project has been renamed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

NEW = "renamedapp"
NEW_TITLE = "Renamedapp"

_spec = importlib.util.spec_from_file_location("rename_script", ROOT / "scripts" / "rename.py")
assert _spec and _spec.loader
rename = importlib.util.module_from_spec(_spec)
sys.modules["rename_script"] = rename
_spec.loader.exec_module(rename)

OLD = rename.current_names(ROOT)


def _copy_repository(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _env(copy: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "OPENAI_", "PYTEST_", "E2E"))
    }
    env.update(
        PYTHONPATH=str(copy),
        DATABASE_URL=f"sqlite:///{copy / 'db.sqlite3'}",
        DJANGO_DEBUG="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _run(copy: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def renamed(tmp_path_factory) -> Path:
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("needs git to list the repository's files")
    copy = tmp_path_factory.mktemp("rename") / "project"
    _copy_repository(copy)
    if shutil.which("make"):
        command = [
            "make",
            "--no-print-directory",
            "rename",
            f"NAME={NEW}",
            f"PYTHON={sys.executable}",
        ]
    else:
        command = [sys.executable, "scripts/rename.py", NEW]
    result = _run(copy, *command)
    assert result.returncode == 0, result.stdout + result.stderr
    return copy


def _text_files(root: Path) -> dict[Path, str]:
    files = {}
    for path in rename.project_files(root):
        text = rename._read_text_or_none(path)
        if text is not None:
            files[path.relative_to(root)] = text
    return files


def test_no_old_name_is_left(renamed):
    assert (renamed / NEW / "settings" / "__init__.py").is_file()
    assert not (renamed / OLD.package).exists()
    old_package = re.compile(rf"\b{re.escape(OLD.package)}\b")
    leftovers = []
    for path, text in _text_files(renamed).items():
        # The one intentional survivor: the API-key pepper's derivation label
        # (renaming it would invalidate every API key of an existing deployment).
        for literal in rename.KEPT_LITERALS:
            text = text.replace(literal, "")
        for old in [OLD.compose, OLD.npm, *OLD.titles]:
            if old and old in text:
                leftovers.append(f"{path}: {old}")
        if old_package.search(text):
            leftovers.append(f"{path}: {OLD.package}")
    assert leftovers == []
    assert rename.KEPT_LITERALS[0] in (renamed / NEW / "settings" / "auth.py").read_text()


def test_every_reference_points_at_the_new_package(renamed):
    read = lambda name: (renamed / name).read_text()  # noqa: E731
    assert f'"{NEW}.settings"' in read("manage.py")
    assert f'"{NEW}.settings"' in read(f"{NEW}/asgi.py")
    assert f"{NEW}.asgi:application" in read("scripts/serve")
    assert f"{NEW}.asgi:application" in read("Makefile")
    assert f"COPY {NEW}/ {NEW}/" in read("Dockerfile")
    pyproject = read("pyproject.toml")
    assert f'name = "{NEW}"' in pyproject
    assert re.search(rf'packages = \[[^\]]*"{NEW}"', pyproject)
    compose = read("docker-compose.yml")
    assert re.search(rf"^name: {NEW}$", compose, re.MULTILINE)
    assert f"image: {NEW}-web" in compose
    assert read("README.md").startswith(f"# {NEW_TITLE}\n")
    assert f"<title>{NEW_TITLE}</title>" in read("frontend/index.html")
    package = json.loads(read("frontend/package.json"))
    lock = json.loads(read("frontend/package-lock.json"))
    assert package["name"] == lock["name"] == lock["packages"][""]["name"] == f"{NEW}-frontend"


def test_the_copys_own_code_is_what_runs(renamed):
    result = _run(
        renamed,
        sys.executable,
        "-c",
        f"import {NEW}.settings, accounts, chat; "
        f"print({NEW}.settings.__file__, accounts.__file__, chat.__file__, sep='\\n')",
    )
    assert result.returncode == 0, result.stderr
    for line in result.stdout.split():
        assert Path(line).resolve().is_relative_to(renamed.resolve()), line


def test_checks_and_migrations_pass(renamed):
    check = _run(renamed, sys.executable, "manage.py", "check", "--fail-level", "WARNING")
    assert check.returncode == 0, check.stdout + check.stderr
    migrations = _run(
        renamed, sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"
    )
    assert migrations.returncode == 0, migrations.stdout + migrations.stderr


def test_the_copys_tests_pass(renamed):
    result = _run(
        renamed,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_settings.py",
        "tests/test_health.py",
        "tests/test_deploy_files.py",
        "tests/test_docs.py",
        "tests/test_openapi.py::test_schema_is_served_as_openapi_3",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_a_second_rename_to_the_same_name_is_refused(renamed):
    result = _run(renamed, sys.executable, "scripts/rename.py", NEW)
    assert result.returncode == 1
    assert "rename refused" in result.stderr


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Acme", "lowercase Python identifier"),
        ("1acme", "lowercase Python identifier"),
        ("acme-chat", "lowercase Python identifier"),
        ("class", "keyword"),
        ("json", "standard-library"),
        ("django", "installed module"),
        ("chat", "already exists"),
        ("accounts", "already exists"),
        ("tests", "already exists"),
    ],
)
def test_bad_names_are_refused_before_anything_changes(name, reason, tmp_path):
    # Validation runs against this tree with a dry run: nothing is written either way.
    with pytest.raises(rename.RenameError, match=reason):
        rename.rename(ROOT, name, dry_run=True)
