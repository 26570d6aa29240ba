"""Reload mid-reply, the reply completes on screen (issue 7, "Browser e2e").

With the "Background (resumable)" and the "WebSocket" transports the reply
lives on the server, not in the connection that asked for it. The fake
upstream sends the first words of a reply and then holds; the page is
reloaded; the reloaded page loads the conversation's history, then resumes
the run from its start (the run id is kept in ``sessionStorage``). Once the
upstream is released the reply completes on screen -- exactly once: one
question, one answer, no replayed words doubled -- and a second reload shows
the same turn from the saved history.

The server and helpers are those of ``test_chat_flow``. Its access tokens
live 5 s, and the WebSocket test waits past that after the reload: the server
closes the resumed socket with 4401, the page reconnects with a fresh token
and resumes again, and the reply still completes once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import reload_after_a_refresh, screenshot
from tests.e2e.test_chat_flow import (  # noqa: F401  (fixtures)
    ACCESS_SECONDS,
    ChatApp,
    _chat_app,
    assistant_messages,
    chat_app,
    composer,
    expect_idle,
    expect_signed_in,
    send,
    signup,
    start_chat_app,
    watch,
)
from tests.fake_openai import hold, text

pytestmark = [pytest.mark.browser, pytest.mark.live]

REPLY = "Resumed replies survive a reload and finish exactly once on the screen."
# What the page shows while the upstream holds (after_tokens=3: three words).
PARTIAL = "Resumed replies survive"
QUESTION = "Will this survive a reload?"
RUN_KEY = "chat.activeRun"


def stored_run(page: Page) -> dict | None:
    return page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{RUN_KEY}') || 'null')")


def choose_transport(page: Page, label: str) -> None:
    """Pick the transport on the settings page, then come back to a new chat."""
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Settings").click()
    page.get_by_label("Transport").select_option(label=label)
    nav.get_by_role("link", name="Chat").click()
    expect(composer(page)).to_be_visible()


def reload_mid_reply(
    page: Page, app: ChatApp, transport_label: str, name: str, *, checkpointed: bool | None = None
) -> None:
    """``checkpointed``: whether the reply in progress must (True) or must not (False)
    be in the stored history when the page reloads; None: either (it is written
    every CHAT_CHECKPOINT_SECONDS, so a reload may land before or after)."""
    from chat.models import ConversationItem, Turn

    url, fake = app.url, app.fake
    log = watch(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))

    username = f"{name}-{uuid.uuid4().hex[:8]}"
    signup(page, url, username)
    expect_signed_in(page, url, username)

    # An earlier, finished turn: the reloaded page must show it from history.
    choose_transport(page, transport_label)
    fake.push(text("The first answer."))
    send(page, "First question")
    expect(assistant_messages(page).first).to_have_text("The first answer.")
    expect_idle(page)
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    conversation_id = page.url.rsplit("/", 1)[1]
    assert stored_run(page) is None, "a finished run must not stay in sessionStorage"

    # The reply in progress: a few words, then the upstream holds.
    held = hold(REPLY, after_tokens=3)
    fake.push(held)
    send(page, QUESTION)
    expect(assistant_messages(page).nth(1)).to_have_text(PARTIAL)
    assert held.wait_held(10)
    run = stored_run(page)
    assert run is not None and run["conversationId"] == conversation_id, run
    assert run["text"] == QUESTION, run

    # Reload while the server is still generating.
    starts_before = sum(1 for r in requests if r.startswith("POST") and r.endswith("/api/runs"))
    reload_after_a_refresh(page)
    if checkpointed is not None:
        stored = ConversationItem.objects.filter(conversation_id=conversation_id)
        last = stored.order_by("position").values_list("data", flat=True).last()
        assert (last != {"role": "user", "content": QUESTION}) == checkpointed, last
    expect(page).to_have_url(f"{url}/c/{conversation_id}")
    # History first, then the question of the turn in progress and the replay.
    expect(page.get_by_role("article", name="Your message")).to_have_text(
        ["First question", QUESTION]
    )
    expect(assistant_messages(page)).to_have_count(2)
    expect(assistant_messages(page).nth(0)).to_have_text("The first answer.")
    expect(assistant_messages(page).nth(1)).to_have_text(PARTIAL)
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    screenshot(page, f"{name}-01-resumed-after-reload")

    if transport_label == "WebSocket":
        # Outlive the access token the resumed socket was opened with: the
        # server closes it with 4401, the page refreshes and resumes again.
        sockets_before = len(sockets)
        page.wait_for_timeout((ACCESS_SECONDS + 1) * 1000)
        expect(assistant_messages(page).nth(1)).to_have_text(PARTIAL)
        assert len(sockets) > sockets_before, f"no reconnect after the token expired: {sockets}"

    held.release()
    expect(assistant_messages(page).nth(1)).to_have_text(REPLY)
    expect_idle(page)
    expect(page.get_by_role("article", name="Your message")).to_have_text(
        ["First question", QUESTION]
    )
    expect(assistant_messages(page)).to_have_text(["The first answer.", REPLY])
    assert stored_run(page) is None
    # Resumed, not restarted: no new run, and only the two scripted model calls.
    starts_after = sum(1 for r in requests if r.startswith("POST") and r.endswith("/api/runs"))
    assert starts_after == starts_before, requests
    assert len(fake.model_requests) == 2, [r.messages[-1] for r in fake.model_requests]
    if transport_label == "WebSocket":
        # First turn, second turn, after the reload, after the 4401.
        assert sum(1 for s in sockets if s.endswith("/ws/chat")) >= 4, sockets
    else:
        assert any(re.search(r"GET .*/api/runs/[0-9a-f-]{36}/events$", r) for r in requests), (
            requests
        )
    assert (
        Turn.objects.filter(conversation_id=conversation_id, status=Turn.Status.COMPLETE).count()
        == 2
    )

    # The saved history holds the same turn, once.
    reload_after_a_refresh(page)
    expect(assistant_messages(page)).to_have_text(["The first answer.", REPLY])
    expect(page.get_by_role("article", name="Your message")).to_have_text(
        ["First question", QUESTION]
    )
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    screenshot(page, f"{name}-02-history-after-second-reload")
    assert log.page_errors == []


# ``chat_app`` is test_chat_flow's fixture, imported above (hence F811).
def test_background_reply_survives_a_reload(page: Page, chat_app: ChatApp) -> None:  # noqa: F811
    reload_mid_reply(page, chat_app, "Background (resumable)", "resume-background")


def test_websocket_reply_survives_a_reload(page: Page, chat_app: ChatApp) -> None:  # noqa: F811
    reload_mid_reply(page, chat_app, "WebSocket", "resume-websocket")


@pytest.fixture(scope="module")
def _no_checkpoint_app(server_factory) -> Iterator[ChatApp]:
    app = start_chat_app(server_factory, CHAT_CHECKPOINT_SECONDS="600")
    try:
        yield app
    finally:
        app.fake.stop()


def test_a_reload_before_the_first_checkpoint_still_resumes(
    page: Page, _no_checkpoint_app: ChatApp, transactional_db
) -> None:
    """The reply in progress is only in the history from its first checkpoint on;
    before it, the history ends with the question (and an empty ``running``
    reply), and the reloaded page must still resume the run, not take the turn
    for one that ended with no answer (a reload within the first seconds of a
    reply used to show the question alone, and the reply never came)."""
    reload_mid_reply(
        page, _no_checkpoint_app, "Background (resumable)", "resume-early", checkpointed=False
    )
