"""The whole product in a real browser (issue 5, "Browser end to end").

A real Daphne process serves the built SPA and the API; the agent talks to the
loopback fake OpenAI upstream, which the tests script turn by turn. The access
token lives 5 seconds, so the session has to renew itself for the later steps
to work. One long scenario test walks through what a user does, in order:

sign up -> log in -> a reply streams in word by word -> a tool card -> Stop
keeps the partial reply -> reload shows the history -> past the access expiry
the next message streams with no login prompt -> rename and delete a
conversation -> create and revoke an API key -> log out -> the chat route
redirects to the login page.

A second test checks the chat is usable on a 360 px wide phone screen.
Screenshots of the main screens land in ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import PASSWORD, ServerProcess
from tests.e2e.conftest import reload_after_a_refresh, screenshot
from tests.fake_openai import FakeOpenAI, hold, text, tool_call

pytestmark = [pytest.mark.browser, pytest.mark.live]

ACCESS_SECONDS = 5
# Never expected: a request the test did not script gets this reply, so an
# extra upstream call shows up as a wrong text instead of passing silently.
UNSCRIPTED = "UNSCRIPTED upstream request"


@dataclass
class ChatApp:
    server: ServerProcess
    fake: FakeOpenAI

    @property
    def url(self) -> str:
        return self.server.url


def start_chat_app(server_factory, **env: str) -> ChatApp:
    """A server with its own fake upstream (stop ``fake`` when done); ``env`` on top."""
    fake = FakeOpenAI(default_turn=text(UNSCRIPTED)).start()
    server = server_factory(
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_API_KEY="test-key",
        JWT_ACCESS_SECONDS=str(ACCESS_SECONDS),
        # The default 10 s clock-skew leeway would keep an "expired" token valid
        # for the whole expiry wait; here expiry must mean expiry.
        JWT_LEEWAY_SECONDS="0",
        ALLOW_SIGNUP="1",
        OPENAI_MODEL="gpt-fake-e2e",
        # With REDIS_URL the throttle counters outlive this process (they are
        # per client IP, and every run is 127.0.0.1); back-to-back runs must
        # not trip them. The limits themselves are tested in tests/accounts.
        THROTTLE_REFRESH="1000/min",
        THROTTLE_REGISTER="1000/min",
        **env,
    )
    return ChatApp(server, fake)


@pytest.fixture(scope="module")
def _chat_app(server_factory) -> Iterator[ChatApp]:
    app = start_chat_app(server_factory)
    try:
        yield app
    finally:
        app.fake.stop()


@pytest.fixture
def chat_app(_chat_app: ChatApp, transactional_db) -> Iterator[ChatApp]:
    """The server and its fake upstream, with a clean script for this test."""
    assert _chat_app.server.process.poll() is None, _chat_app.server.log()
    _chat_app.fake.reset()
    yield _chat_app
    _chat_app.fake.reset()  # releases a held turn a failed test left behind


@dataclass
class BrowserLog:
    """What the page did on the network and which script errors it hit."""

    chat_tokens: list[str] = field(default_factory=list)
    chat_statuses: list[int] = field(default_factory=list)
    refreshes: int = 0
    page_errors: list[str] = field(default_factory=list)


def watch(page: Page) -> BrowserLog:
    log = BrowserLog()

    def on_request(request) -> None:
        if request.url.endswith("/api/chat"):
            log.chat_tokens.append(request.headers.get("authorization", ""))
        if request.url.endswith("/api/auth/token/refresh"):
            log.refreshes += 1

    def on_response(response) -> None:
        if response.url.endswith("/api/chat"):
            log.chat_statuses.append(response.status)

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    return log


def jwt_claims(authorization: str) -> dict:
    """The payload of ``Bearer <jwt>`` (read, not verified: the server did that)."""
    payload = authorization.removeprefix("Bearer ").split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll something outside the browser (the database) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# ------------------------------------------------------------------ page helpers


def composer(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message")


def assistant_messages(page: Page) -> Locator:
    return page.get_by_role("article", name="Assistant message")


def send(page: Page, message: str) -> None:
    composer(page).fill(message)
    page.get_by_role("button", name="Send").click()


def expect_idle(page: Page) -> None:
    """The reply has finished: Stop is gone and nothing is being generated."""
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    expect(page.get_by_role("log", name="Messages")).to_have_attribute("aria-busy", "false")


def record_text_states(page: Page, index: int) -> None:
    """Record every distinct text the ``index``-th assistant message shows.

    A MutationObserver sees each render, so this catches intermediate states
    without timing assumptions; ``recorded_text_states`` reads them back.
    """
    page.evaluate(
        """(index) => {
            const log = document.querySelector('[role="log"][aria-label="Messages"]');
            const samples = [];
            window.__e2eSamples = samples;
            const record = () => {
                const all = log.querySelectorAll('article[aria-label="Assistant message"]');
                const message = all[index];
                if (!message) return;
                const text = message.textContent.replace(/\\s+/g, " ").trim();
                if (samples[samples.length - 1] !== text) samples.push(text);
            };
            new MutationObserver(record).observe(log, {
                subtree: true, childList: true, characterData: true,
            });
        }""",
        index,
    )


def recorded_text_states(page: Page) -> list[str]:
    return page.evaluate("() => window.__e2eSamples")


def signup(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/signup")
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def login(page: Page, username: str) -> None:
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def expect_signed_in(page: Page, url: str, username: str) -> None:
    expect(page).to_have_url(f"{url}/")
    expect(page.locator(".app-user")).to_have_text(username)
    expect(composer(page)).to_be_visible()


# ------------------------------------------------------------------------- tests


def test_chat_flow_from_signup_to_logout(page: Page, chat_app: ChatApp) -> None:
    from chat.models import Conversation, Turn

    url, fake = chat_app.url, chat_app.fake
    username = f"e2e-{uuid.uuid4().hex[:8]}"
    log = watch(page)

    # --- sign up (which signs in), log out, then sign in through the form.
    signup(page, url, username)
    expect_signed_in(page, url, username)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "01-login")
    login(page, username)
    expect_signed_in(page, url, username)
    expect(page.get_by_test_id("model-badge")).to_have_text("Model: gpt-fake-e2e")

    # --- the reply streams in: several intermediate states before the end.
    streamed = "Tokens arrive one at a time so the reader sees the reply grow word by word."
    fake.push(text(streamed, interval=0.1))
    record_text_states(page, 0)
    first_message = "Tell me something slowly"
    send(page, first_message)
    expect(page.get_by_role("article", name="Your message")).to_have_text(first_message)
    expect(assistant_messages(page).first).to_have_text(streamed)
    expect_idle(page)
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    conversation_id = page.url.rsplit("/", 1)[1]
    states = [s for s in recorded_text_states(page) if s]
    intermediate = [s for s in states if s != streamed]
    assert len(intermediate) >= 2, f"the reply did not stream incrementally: {states}"
    assert all(streamed.startswith(s) for s in intermediate), states
    assert all(len(a) < len(b) for a, b in itertools.pairwise(states)), states
    first_token = log.chat_tokens[0]

    # --- a tool call renders as a card with its arguments and result.
    fake.push(tool_call("calculate", {"expression": "6 * 7"}), text("6 times 7 is 42."))
    send(page, "What is 6 times 7?")
    card = page.get_by_role("region", name="Tool call: calculate")
    expect(card).to_be_visible()
    expect(card.locator(".tool-args")).to_contain_text('"expression": "6 * 7"')
    expect(card.locator(".tool-result")).to_have_text("42")
    expect(assistant_messages(page).nth(1)).to_contain_text("6 times 7 is 42.")
    expect_idle(page)
    tool_output = fake.model_requests[-1].messages[-1]
    assert tool_output["role"] == "tool" and tool_output["content"] == "42", tool_output
    screenshot(page, "02-chat-streamed-reply-and-tool-card")

    # --- Stop mid-stream keeps the partial reply (and stops the upstream).
    held = hold("Partial reply that must never reach the page", after_tokens=2)
    fake.push(held)
    send(page, "Write a very long answer")
    expect(assistant_messages(page).nth(2)).to_have_text("Partial reply")
    assert held.wait_held(10)
    page.get_by_role("button", name="Stop").click()
    expect_idle(page)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(assistant_messages(page).nth(2)).to_have_text("Partial reply")
    assert fake.model_requests[-1].wait_disconnected(10), "Stop did not reach the upstream"
    held.release()
    wait_until(
        lambda: Turn.objects.filter(
            conversation_id=conversation_id, status=Turn.Status.INTERRUPTED
        ).exists(),
        "the stopped turn to be saved as interrupted",
    )

    # --- a reload shows the whole history, the partial reply included.
    reload_after_a_refresh(page)
    expect(page).to_have_url(f"{url}/c/{conversation_id}")
    expect(page.get_by_role("article", name="Your message")).to_have_text(
        [first_message, "What is 6 times 7?", "Write a very long answer"]
    )
    expect(assistant_messages(page)).to_have_count(3)
    expect(assistant_messages(page).nth(0)).to_have_text(streamed)
    expect(
        page.get_by_role("region", name="Tool call: calculate").locator(".tool-result")
    ).to_have_text("42")
    expect(assistant_messages(page).nth(1)).to_contain_text("6 times 7 is 42.")
    expect(assistant_messages(page).nth(2)).to_have_text("Partial reply")
    expect(page.get_by_role("link", name=first_message)).to_be_visible()

    # --- past the access token's lifetime the next message just works.
    page.get_by_role("button", name="+ New chat").click()
    expect(page).to_have_url(f"{url}/")
    refreshes_before, wait_started = log.refreshes, time.time()
    page.wait_for_timeout((ACCESS_SECONDS + 1) * 1000)  # the one fixed wait: let it expire
    fake.push(text("Still here after the token expired."))
    second_message = "Are you still there?"
    send(page, second_message)
    expect(assistant_messages(page).first).to_have_text("Still here after the token expired.")
    expect_idle(page)
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="Sign in")).to_have_count(0)
    second_id = page.url.rsplit("/", 1)[1]
    assert second_id != conversation_id
    # Every token that was valid when the wait began has expired: the message
    # went out with one issued during the wait, and it lives 5 seconds.
    assert log.refreshes > refreshes_before, "the session did not renew its access token"
    claims = jwt_claims(log.chat_tokens[-1])
    assert claims["exp"] - claims["iat"] == ACCESS_SECONDS, claims
    assert claims["iat"] >= int(wait_started), (claims, wait_started)
    assert log.chat_tokens[-1] != first_token

    # --- rename one conversation, delete the other.
    sidebar = page.get_by_role("complementary", name="Conversations")
    sidebar.get_by_role("button", name=f"Rename {first_message}").click()
    sidebar.get_by_label("New title").fill("Renamed in the browser")
    sidebar.get_by_role("button", name="Save").click()
    expect(sidebar.get_by_role("link", name="Renamed in the browser")).to_be_visible()
    expect(sidebar.get_by_role("link", name=first_message)).to_have_count(0)
    sidebar.get_by_role("button", name=f"Delete {second_message}").click()
    dialog = page.get_by_role("alertdialog", name="Delete this conversation?")
    expect(dialog).to_contain_text(second_message)
    dialog.get_by_role("button", name="Delete").click()
    expect(dialog).to_have_count(0)
    expect(sidebar.get_by_role("link", name=second_message)).to_have_count(0)
    expect(page).to_have_url(f"{url}/")
    reload_after_a_refresh(page)  # both changes are on the server, not only in the page
    expect(sidebar.get_by_role("link", name="Renamed in the browser")).to_be_visible()
    expect(sidebar.get_by_role("link")).to_have_count(1)
    assert Conversation.objects.get(id=conversation_id).title == "Renamed in the browser"
    assert not Conversation.objects.filter(id=second_id).exists()

    # --- create an API key, see it once, use it, revoke it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page).to_have_url(f"{url}/keys")
    page.get_by_label("Name", exact=True).fill("e2e script")
    page.get_by_label("Your password").fill(PASSWORD)  # minting a key asks for it
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Your new key “e2e script”")).to_be_visible()
    key_input = page.get_by_label("New API key")
    expect(key_input).to_have_value(re.compile(r"\S{20,}"))
    api_key = key_input.input_value()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="e2e script"))
    expect(row).to_contain_text("Active")
    screenshot(page, "03-keys-new-key-shown")
    with_key = httpx.get(f"{url}/api/conversations", headers={"X-API-Key": api_key}, timeout=10)
    assert with_key.status_code == 200, with_key.text
    assert [c["title"] for c in with_key.json()["results"]] == ["Renamed in the browser"]

    row.get_by_role("button", name="Revoke e2e script").click()
    confirm = page.get_by_role("alertdialog", name="Revoke “e2e script”?")
    confirm.get_by_role("button", name="Revoke").click()
    expect(confirm).to_have_count(0)
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button", name="Revoke e2e script")).to_have_count(0)
    revoked = httpx.get(f"{url}/api/conversations", headers={"X-API-Key": api_key}, timeout=10)
    assert revoked.status_code == 401, revoked.text

    # --- log out: the chat routes now lead to the login page, even after a reload.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{url}/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{url}/c/{conversation_id}")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(composer(page)).to_have_count(0)

    assert log.page_errors == []


def test_chat_is_usable_on_a_360px_screen(browser, chat_app: ChatApp) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log = watch(page)
        # Signed up here rather than with the ``owner`` fixture: tests/settings.py
        # stores passwords with MD5, which the server process does not accept.
        username = f"phone-{uuid.uuid4().hex[:8]}"
        signup(page, chat_app.url, username)
        expect_signed_in(page, chat_app.url, username)

        box = composer(page).bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box
        assert box["y"] + box["height"] <= 740, f"the composer is below the screen: {box}"
        send_box = page.get_by_role("button", name="Send").bounding_box()
        assert send_box is not None and send_box["x"] + send_box["width"] <= 360, send_box

        chat_app.fake.push(text("A reply that fits on a small screen."))
        composer(page).fill("Hello from a phone")
        page.get_by_role("button", name="Send").tap()
        expect(page.get_by_role("article", name="Your message")).to_have_text("Hello from a phone")
        expect(assistant_messages(page)).to_have_text(["A reply that fits on a small screen."])
        expect_idle(page)
        expect(assistant_messages(page).first).to_be_in_viewport()
        expect(composer(page)).to_be_in_viewport()
        screenshot(page, "04-chat-360px")

        # No sideways scrolling, and the conversation list opens from its toggle.
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
        toggle = page.get_by_role("button", name="☰ Conversations")
        toggle.tap()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(page.get_by_role("link", name="Hello from a phone")).to_be_in_viewport()
        screenshot(page, "05-chat-360px-conversations-open")
        assert log.page_errors == []
    except Exception:
        screenshot(page, "FAILED-test_chat_is_usable_on_a_360px_screen")
        raise
    finally:
        context.close()


def test_a_message_sent_with_an_expired_token_is_renewed_and_resent(
    page: Page, chat_app: ChatApp
) -> None:
    """The other renewal path: the page's timers are frozen (a sleeping laptop,
    a throttled background tab), so no refresh is scheduled in time and the
    message goes out with an expired token. It must come back 401, be renewed
    through the cookie and be sent again once, with no login prompt."""
    url, fake = chat_app.url, chat_app.fake
    log = watch(page)
    page.clock.install()
    signup(page, url, f"e2e-{uuid.uuid4().hex[:8]}")
    expect(composer(page)).to_be_visible()
    # From here the page's clock stands still: the refresh timer never fires
    # and the page still believes its token is fresh.
    page.clock.pause_at(datetime.now() + timedelta(milliseconds=500))
    refreshes_before = log.refreshes
    page.wait_for_timeout((ACCESS_SECONDS + 1) * 1000)  # real time: the token expires
    assert log.refreshes == refreshes_before, "a refresh ran although the page's clock stood still"

    fake.push(text("Renewed and resent."))
    send(page, "Sent with an expired token")
    expect(assistant_messages(page)).to_have_text(["Renewed and resent."])
    expect(page.get_by_role("article", name="Your message")).to_have_text(
        ["Sent with an expired token"]
    )
    expect_idle(page)
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    expect(page.get_by_role("alert")).to_have_count(0)
    assert log.chat_statuses == [401, 200], log.chat_statuses
    assert log.refreshes == refreshes_before + 1
    assert log.chat_tokens[0] != log.chat_tokens[1]
    assert len(fake.model_requests) == 1, "the rejected request reached the model"
    assert log.page_errors == []
