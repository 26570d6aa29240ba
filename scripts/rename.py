#!/usr/bin/env python3
"""Rename the project: ``make rename NAME=acme`` (or ``python scripts/rename.py acme``).

What changes, in every text file of the project (git's tracked and untracked,
not ignored, files; without git, every file outside the usual build and cache
directories):

- the Django project package (the directory holding the ``settings`` package,
  found from ``manage.py``'s ``DJANGO_SETTINGS_MODULE``) is moved to ``<name>/`` and
  every reference to it is rewritten: imports, dotted settings strings,
  ``DJANGO_SETTINGS_MODULE`` defaults, the ASGI path in ``scripts/serve`` and
  the Makefile, ``COPY`` lines in the Dockerfile, ``pyproject.toml`` (project
  name and ``[tool.setuptools] packages``), CI files and tests. The JWT issuer
  and audience defaults follow (tokens issued under the old name stop being
  accepted: everyone logs in again);
- the docker compose project name (``name:``) and the ``<project>-web`` image;
- the frontend's npm package name (``package.json`` and ``package-lock.json``);
- the display name: the README's first heading, the page ``<title>`` and the
  app header (``--title``, default: NAME with ``_`` as spaces, capitalised).

Left alone on purpose: the label the default ``API_KEY_PEPPER`` is derived
with. Changing it would silently invalidate every API key already issued by a
deployment that did not set ``API_KEY_PEPPER``.

Nothing is written unless every check passes: NAME must be a lowercase Python
identifier starting with a letter, not a keyword, not a standard-library or
installed module, and not the name of anything already at the project root
(an app such as ``accounts`` or ``chat``, ``tests``, ...). Standard library only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The API-key pepper's derivation label (settings/auth.py): see the module docstring.
KEPT_LITERALS = ("chatproject.api-key-pepper",)

# Without git: directories never rewritten (virtualenvs, dependencies, build output, caches).
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "dist",
    "staticfiles",
    "__pycache__",
    "test-artifacts",
    "bench-results",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",
    ".schemathesis",
}
MAX_FILE_BYTES = 5_000_000
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class RenameError(Exception):
    """A refusal: printed as one line, nothing has been changed."""


@dataclass
class Names:
    package: str  # Django project package (import name)
    compose: str  # docker compose project name; the image is "<compose>-web"
    npm: str  # frontend package.json "name"
    titles: list[str] = field(default_factory=list)  # display names to replace


def default_title(name: str) -> str:
    return " ".join(word.capitalize() for word in name.split("_") if word)


def current_names(root: Path) -> Names:
    manage = _read(root / "manage.py")
    match = re.search(r"DJANGO_SETTINGS_MODULE['\"],\s*['\"](\w+)\.settings['\"]", manage)
    if not match:
        raise RenameError("cannot find DJANGO_SETTINGS_MODULE's default in manage.py")
    package = match[1]
    # The settings are a package (settings/__init__.py); a settings.py module also counts.
    settings = root / package / "settings"
    if not ((settings / "__init__.py").is_file() or settings.with_suffix(".py").is_file()):
        raise RenameError(f"manage.py names {package}.settings, but {package}/settings/ is missing")

    compose_file = root / "docker-compose.yml"
    compose = ""
    if compose_file.is_file():
        found = re.search(r"^name:\s*['\"]?([\w.-]+)", _read(compose_file), re.MULTILINE)
        compose = found[1] if found else ""

    npm = ""
    package_json = root / "frontend" / "package.json"
    if package_json.is_file():
        npm = json.loads(_read(package_json)).get("name", "")

    titles: list[str] = []
    readme = root / "README.md"
    if readme.is_file():
        heading = re.search(r"^# (.+?)\s*$", _read(readme), re.MULTILINE)
        if heading:
            titles.append(heading[1])
    index = root / "frontend" / "index.html"
    if index.is_file():
        title = re.search(r"<title>(.+?)</title>", _read(index))
        if title and title[1] not in titles:
            titles.append(title[1])
    return Names(package=package, compose=compose, npm=npm, titles=titles)


def validate(name: str, root: Path, old: Names) -> None:
    if not NAME_RE.match(name):
        raise RenameError(
            f"{name!r} is not a lowercase Python identifier starting with a letter "
            "(letters, digits and _; e.g. acme or acme_chat)"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise RenameError(f"{name!r} is a Python keyword")
    if name == old.package:
        raise RenameError(f"the project package is already called {name!r}")
    existing = root / name
    if existing.exists() or existing.with_suffix(".py").exists():
        raise RenameError(f"{existing.relative_to(root)} already exists: choose another name")
    if name in sys.stdlib_module_names:
        raise RenameError(f"{name!r} is a standard-library module: choose another name")
    if _installed(name, root):
        raise RenameError(f"{name!r} is an installed module (import {name} works): choose another")


def _installed(name: str, root: Path) -> bool:
    """True when ``import name`` would find something other than the project itself."""
    saved = sys.path[:]
    here = {str(root), str(root / "scripts"), "", "."}
    sys.path[:] = [p for p in sys.path if p not in here and Path(p or ".").resolve() != root]
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
    finally:
        sys.path[:] = saved


def project_files(root: Path) -> list[Path]:
    """Files to rewrite: git's tracked + untracked-but-not-ignored, else a directory walk."""
    if (root / ".git").exists() and shutil.which("git"):
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
            cwd=root,
            capture_output=True,
            check=False,
        )
        if result.returncode == 0:
            names = sorted({n for n in result.stdout.decode().split("\0") if n})
            return [root / n for n in names if (root / n).is_file()]
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")
        )
        files.extend(Path(dirpath) / f for f in sorted(filenames))
    return [f for f in files if not f.is_symlink()]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _read_text_or_none(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def rewrite(text: str, old: Names, new: Names) -> str:
    kept = {f"\0KEPT{i}\0": literal for i, literal in enumerate(KEPT_LITERALS)}
    for marker, literal in kept.items():
        text = text.replace(literal, marker)
    text = re.sub(rf"\b{re.escape(old.package)}\b", new.package, text)
    if old.compose:
        text = re.sub(rf"(?<![\w-]){re.escape(old.compose)}(?![\w])", new.compose, text)
    if old.npm:
        text = re.sub(rf"(?<![\w-]){re.escape(old.npm)}(?![\w-])", new.npm, text)
    for title in old.titles:
        text = text.replace(title, new.titles[0])
    for marker, literal in kept.items():
        text = text.replace(marker, literal)
    return text


def rename(root: Path, name: str, title: str | None = None, *, dry_run: bool = False) -> list[Path]:
    """Rename the project in ``root``; returns the files changed (relative)."""
    root = root.resolve()
    old = current_names(root)
    validate(name, root, old)
    title = (title or default_title(name)).strip()
    if not title or any(c in title for c in '<>&"\n'):
        raise RenameError("--title must be a short plain-text name (no <, >, &, quotes)")
    new = Names(
        package=name, compose=name, npm=name.replace("_", "-") + "-frontend", titles=[title]
    )

    changes: dict[Path, str] = {}
    for path in project_files(root):
        text = _read_text_or_none(path)
        if text is None:
            continue
        updated = rewrite(text, old, new)
        if updated != text:
            changes[path] = updated
    if dry_run:
        return sorted(p.relative_to(root) for p in changes)

    # All checks passed and every new text is computed: now write.
    for path, text in changes.items():
        path.write_text(text, encoding="utf-8")
    (root / old.package).rename(root / name)
    return sorted(p.relative_to(root) for p in changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="new package name: a lowercase Python identifier, e.g. acme")
    parser.add_argument("--title", help="display name (README heading, page title)")
    parser.add_argument("--root", type=Path, default=ROOT, help="project root (default: here)")
    parser.add_argument("--dry-run", action="store_true", help="list the files, change nothing")
    args = parser.parse_args(argv)
    try:
        old_package = current_names(args.root.resolve()).package
        changed = rename(args.root, args.name, args.title, dry_run=args.dry_run)
    except RenameError as error:
        print(f"rename refused: {error}", file=sys.stderr)
        return 1
    verb = "would change" if args.dry_run else "changed"
    print(f"{verb} {len(changed)} files:")
    for path in changed:
        print(f"  {path}")
    if args.dry_run:
        return 0
    print(f"\nRenamed {old_package}/ -> {args.name}/. Next:")
    print("  make test      # reinstalls the package under its new name, runs every suite")
    print(f"  .venv/bin/pip uninstall -y {old_package}   # drops the old editable install, if any")
    print("Tokens issued under the old name (JWT issuer/audience) are no longer accepted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
