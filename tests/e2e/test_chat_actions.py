"""The chat actions in a real browser (issue 20): copy a reply and a code block,
regenerate the last reply, edit the last message and send it again, Esc stops,
dark mode that is remembered, the empty state, and the same at 360 px.

Regenerate and edit send ``replace_last_turn``: the server replaces the last
turn, so after a reload the history holds the new turn only. A second test
checks DeltaKit's "load chat history" recipe against the live server: the
conversation's stored items (``GET /api/conversations/<id>/items``) converted
by ``fromOpenAiAgents`` equal its ``messages`` (frontend/src/chat/history.test.ts
run on the recorded responses). Screenshots land in ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, ROOT
from tests.e2e.conftest import reload_after_a_refresh, screenshot
from tests.e2e.test_chat_flow import (  # noqa: F401  (fixtures)
    ChatApp,
    _chat_app,
    assistant_messages,
    chat_app,
    composer,
    expect_idle,
    expect_signed_in,
    signup,
    watch,
)
from tests.fake_openai import hold, reasoning, text, tool_calls

pytestmark = [pytest.mark.browser, pytest.mark.live]

CODE = 'def greet(name):\n    return f"Hello, {name}!"'
FIRST_REPLY = f"Here is a function:\n\n```python\n{CODE}\n```\n\nCall it with a name."


@pytest.fixture
def clipboard_page(browser) -> Iterator[Page]:
    """A page allowed to read and write the clipboard (Copy is checked by reading it back)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def chat_bodies(page: Page) -> list[dict]:
    """Every POST /api/chat body the page sends, as it sends them."""
    bodies: list[dict] = []

    def on_request(request) -> None:
        if request.method == "POST" and request.url.endswith("/api/chat"):
            bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", on_request)
    return bodies


def clipboard(page: Page) -> str:
    return page.evaluate("() => navigator.clipboard.readText()")


def user_messages(page: Page):
    return page.get_by_role("article", name="Your message")


# ``chat_app`` is test_chat_flow's fixture, imported above (hence F811).
def test_copy_regenerate_edit_stop_and_dark_mode(
    clipboard_page: Page,
    chat_app: ChatApp,  # noqa: F811
) -> None:
    page, url, fake = clipboard_page, chat_app.url, chat_app.fake
    log = watch(page)
    bodies = chat_bodies(page)
    username = f"actions-{uuid.uuid4().hex[:8]}"
    signup(page, url, username)
    expect_signed_in(page, url, username)

    # --- the empty state offers example prompts; the transport is not in the header.
    examples = page.get_by_role("list", name="Example prompts")
    expect(examples.get_by_role("button")).to_have_count(3)
    expect(page.get_by_label("Transport")).to_have_count(0)
    screenshot(page, "10-empty-state")

    # --- Enter sends; Shift+Enter is a new line.
    fake.push(text(FIRST_REPLY))
    composer(page).fill("Write a greeting function")
    composer(page).press("Shift+Enter")
    expect(composer(page)).to_have_value("Write a greeting function\n")
    composer(page).press("Enter")
    expect(user_messages(page)).to_have_text(["Write a greeting function"])
    reply = assistant_messages(page).first
    expect(reply).to_contain_text("Call it with a name.")
    expect_idle(page)
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    conversation_id = page.url.rsplit("/", 1)[1]

    # --- the code block is highlighted (a lazily loaded chunk) and copies its code.
    expect(reply.locator(".hljs-keyword").first).to_have_text("def")
    reply.get_by_role("button", name="Copy code").click()
    expect(reply.get_by_role("button", name="Copy code")).to_have_text("Copied")
    assert clipboard(page) == CODE
    page.get_by_role("button", name="Copy reply").click()
    assert clipboard(page) == FIRST_REPLY
    screenshot(page, "11-reply-with-code-and-actions")

    # --- regenerate: the reply is replaced, here and in the stored history.
    fake.push(text("A second version of the answer."))
    page.get_by_role("button", name="Regenerate").click()
    expect(assistant_messages(page)).to_have_text(["A second version of the answer."])
    expect(user_messages(page)).to_have_text(["Write a greeting function"])
    expect_idle(page)
    assert bodies[-1] == {
        "message": "Write a greeting function",
        "conversation_id": conversation_id,
        "replace_last_turn": True,
    }, bodies

    # --- edit the last message and send it again: the turn is replaced.
    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("Edit your message")
    expect(editor).to_have_value("Write a greeting function")
    editor.fill("Write a farewell function")
    fake.push(text("Goodbye is easy too."))
    page.get_by_role("button", name="Save and send").click()
    expect(user_messages(page)).to_have_text(["Write a farewell function"])
    expect(assistant_messages(page)).to_have_text(["Goodbye is easy too."])
    expect_idle(page)
    assert bodies[-1] == {
        "message": "Write a farewell function",
        "conversation_id": conversation_id,
        "replace_last_turn": True,
    }, bodies
    screenshot(page, "12-edited-and-resent")

    # --- Esc stops a reply in progress (the partial reply stays).
    held = hold("Partial words and then much more that never arrives", after_tokens=2)
    fake.push(held)
    composer(page).fill("Keep going")
    composer(page).press("Enter")
    expect(assistant_messages(page).nth(1)).to_have_text("Partial words")
    assert held.wait_held(10)
    page.keyboard.press("Escape")
    expect_idle(page)
    expect(assistant_messages(page).nth(1)).to_have_text("Partial words")
    # The server records the stop when it notices the closed connection; only
    # then may the upstream go on (else the rest of the reply could still land).
    from chat.models import Turn

    conversation_id = page.url.rsplit("/", 1)[1]
    deadline = time.monotonic() + 15
    while not Turn.objects.filter(
        conversation_id=conversation_id, status=Turn.Status.INTERRUPTED
    ).exists():
        assert time.monotonic() < deadline, "the stopped turn was never recorded as interrupted"
        time.sleep(0.1)
    held.release()

    # --- dark mode: the toggle wins over the system and is remembered.
    toggle = page.get_by_role("button", name="Dark mode")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    background = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(20, 23, 29)", background
    reload_after_a_refresh(page)
    expect(page.get_by_role("button", name="Dark mode")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    screenshot(page, "13-dark-mode")

    # --- the stored history: the regenerated and edited turn replaced the first one.
    expect(user_messages(page)).to_have_text(["Write a farewell function", "Keep going"])
    expect(assistant_messages(page)).to_have_text(["Goodbye is easy too.", "Partial words"])
    assert log.page_errors == []


def test_dark_mode_follows_the_system_and_the_chat_fits_360px(
    browser,
    chat_app: ChatApp,  # noqa: F811
) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        color_scheme="dark",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log = watch(page)
        signup(page, chat_app.url, f"phone-dark-{uuid.uuid4().hex[:8]}")
        expect(composer(page)).to_be_visible()
        expect(page.get_by_role("button", name="Dark mode")).to_have_attribute(
            "aria-pressed", "true"
        )
        long_line = "x = " + " + ".join(str(n) for n in range(60))
        chat_app.fake.push(text(f"A long line:\n\n```python\n{long_line}\n```\n\nDone."))
        composer(page).fill("Show me a long line of code")
        page.get_by_role("button", name="Send").tap()
        expect(assistant_messages(page).first).to_contain_text("Done.")
        expect_idle(page)
        # The code scrolls inside its block; the page itself never scrolls sideways.
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
        for name in ("Copy code", "Copy reply", "Regenerate"):
            box = page.get_by_role("button", name=name).bounding_box()
            assert box is not None and box["x"] + box["width"] <= 360, (name, box)
        screenshot(page, "14-dark-360px-code-and-actions")
        assert log.page_errors == []
    except Exception:
        screenshot(page, "FAILED-test_dark_mode_follows_the_system_and_the_chat_fits_360px")
        raise
    finally:
        context.close()


def test_stored_items_convert_to_the_conversation_messages(
    page: Page,
    chat_app: ChatApp,  # noqa: F811
    tmp_path: Path,
) -> None:
    """DeltaKit's history recipe against the live server: items → fromOpenAiAgents."""
    url, fake = chat_app.url, chat_app.fake
    username = f"items-{uuid.uuid4().hex[:8]}"
    signup(page, url, username)
    expect(composer(page)).to_be_visible()
    fake.push(
        tool_calls(("calculate", {"expression": "6 * 7"}), reasoning="Use the calculator."),
        reasoning("The tool says 42.", "6 times 7 is **42**."),
    )
    composer(page).fill("What is 6 times 7?")
    composer(page).press("Enter")
    expect(assistant_messages(page).first).to_contain_text("6 times 7 is 42.")
    expect_idle(page)
    fake.push(
        tool_calls(("calculate", {"expression": "2 ** 10"}), ("current_time", {}), content="Both."),
        text("1024, and the time is above."),
    )
    composer(page).fill("2 to the 10th, and the time?")
    composer(page).press("Enter")
    expect(assistant_messages(page).nth(1)).to_contain_text("1024, and the time is above.")
    expect_idle(page)
    conversation_id = page.url.rsplit("/", 1)[1]

    token = httpx.post(
        f"{url}/api/auth/token",
        json={"username": username, "password": PASSWORD},
        headers={"X-Requested-With": "fetch"},
        timeout=10,
    ).json()["access"]
    auth = {"Authorization": f"Bearer {token}"}
    items = httpx.get(f"{url}/api/conversations/{conversation_id}/items", headers=auth, timeout=10)
    assert items.status_code == 200, items.text
    assert items.headers.get("X-Items-Truncated") is None
    detail = httpx.get(f"{url}/api/conversations/{conversation_id}", headers=auth, timeout=10)
    assert detail.status_code == 200, detail.text
    (tmp_path / "items.json").write_text(items.text)
    (tmp_path / "conversation.json").write_text(detail.text)

    npx = shutil.which("npx")
    assert npx, "npx is needed to run the converter (Node, as for the frontend build)"
    result = subprocess.run(
        [npx, "vitest", "run", "src/chat/history.test.ts"],
        cwd=ROOT / "frontend",
        env={**os.environ, "HISTORY_FIXTURE_DIR": str(tmp_path), "CI": "true"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
