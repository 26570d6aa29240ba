"""The browser loads the app from a real server with no console or CSP errors."""

from __future__ import annotations

import pytest


@pytest.mark.browser
@pytest.mark.live
def test_app_loads_without_console_errors(page, app_server):
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(f"{app_server.url}/")
    assert response is not None and response.status == 200
    assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
    page.wait_for_load_state("networkidle")
    assert page.title()
    # The silent session restore answers 401 without a refresh cookie; Chromium
    # logs every 4xx fetch as a console error. Anything else is a real error.
    unexpected = [e for e in errors if "status of 401" not in e]
    assert unexpected == []
