"""Browser end-to-end fixtures: Playwright driving a real Chromium.

Chromium is Debian's ``/usr/bin/chromium`` (``make test`` installs it with apt
when it is missing and we run as root), or ``CHROMIUM_PATH``, or Playwright's
own browser when one is installed. With none of them the browser tests are
skipped with that message, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT

ARTIFACTS = ROOT / "test-artifacts" / "e2e"

# This process runs only the browser tests (see tests/conftest.py). Playwright's
# sync API runs an event loop in the main thread; the database fixtures are
# sync code, not async code misusing the ORM, so Django's guard is lifted here.
# The server under test is a separate process and keeps the guard.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# Without these, Chromium tries Google's services at start-up; this network
# refuses them, many at a time.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def find_chromium() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    with sync_playwright() as playwright:
        if executable is None:
            try:
                instance = playwright.chromium.launch(args=CHROMIUM_ARGS)
            except Exception as error:  # no browser of Playwright's own either
                message = (
                    "no Chromium: install Debian's chromium (make test does, as root) "
                    f"or set CHROMIUM_PATH ({type(error).__name__})"
                )
                if IN_CI:
                    pytest.fail(message)
                pytest.skip(message)
        else:
            instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request) -> Iterator:
    """A fresh browser context per test; a screenshot is kept when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot(page, name: str) -> Path:
    """Save a screenshot of the current screen as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


REFRESH_PATH = "/api/auth/token/refresh"


def reload_after_a_refresh(page, timeout_ms: int = 10_000) -> None:
    """Reload the page just after its scheduled token refresh has completed.

    With 5-second access tokens the page rotates its refresh cookie every few
    seconds. A reload that lands while a rotation is in flight throws away the
    response carrying the new cookie; the reloaded page then presents the
    rotated-out cookie and reuse detection, as designed, ends the session
    (seen in CI). With the default 300-second tokens a user meets this rarely;
    these tests would meet it often, so they reload in the quiet just after a
    rotation. (docs/security.md describes the trade-off.)
    """
    with page.expect_response(
        lambda response: REFRESH_PATH in response.url and response.status == 200,
        timeout=timeout_ms,
    ):
        pass
    page.reload()
