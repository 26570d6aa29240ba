"""The daily token quota in a real browser (issue 18, "UI").

A server with a tiny ``CHAT_DAILY_TOKENS`` and the fake upstream reporting
more than that for the first reply: the meter beside the composer shows the
day's use against the limit, and the next message, on each transport, is
refused with one sentence saying when the quota resets; the question is not
left in the conversation, and it is back in the composer to send later.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_chat_flow import (
    ChatApp,
    assistant_messages,
    composer,
    expect_idle,
    expect_signed_in,
    send,
    signup,
    watch,
)
from tests.fake_openai import FakeOpenAI, text

pytestmark = [pytest.mark.browser, pytest.mark.live]

QUOTA = 50


@pytest.fixture
def quota_app(server_factory, transactional_db) -> Iterator[ChatApp]:
    fake = FakeOpenAI(default_turn=text("UNSCRIPTED upstream request")).start()
    server = server_factory(
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_API_KEY="test-key",
        OPENAI_MODEL="gpt-fake-e2e",
        ALLOW_SIGNUP="1",
        THROTTLE_REGISTER="1000/min",
        THROTTLE_REFRESH="1000/min",
        CHAT_DAILY_TOKENS=str(QUOTA),
    )
    try:
        yield ChatApp(server, fake)
    finally:
        server.stop()
        fake.stop()


def test_a_spent_quota_says_when_it_resets_and_keeps_the_message(
    page: Page, quota_app: ChatApp
) -> None:
    log = watch(page)
    username = f"quota-{uuid.uuid4().hex[:8]}"
    signup(page, quota_app.url, username)
    expect_signed_in(page, quota_app.url, username)
    meter = page.get_by_test_id("usage-meter")
    expect(meter).to_contain_text(f"Today: 0 of {QUOTA} tokens")

    quota_app.fake.push(text("The first reply.", usage=(40, 20)))
    send(page, "First question")
    expect(assistant_messages(page)).to_have_text(["The first reply."])
    expect_idle(page)
    expect(meter).to_contain_text(f"Today: 60 of {QUOTA} tokens")

    for transport in ("sse", "background-sse", "websocket"):
        # The stored transport setting (wherever the page that sets it lives).
        page.evaluate("(t) => localStorage.setItem('chat.transport', t)", transport)
        page.reload()
        expect(assistant_messages(page)).to_have_text(["The first reply."])
        question = f"Second question over {transport}"
        send(page, question)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("You have used today's token allowance. It resets at")
        expect(composer(page)).to_have_value(question)
        expect(page.get_by_role("article", name="Your message")).to_have_text(["First question"])
        if transport == "sse":
            screenshot(page, "usage-quota-spent")
        page.get_by_role("button", name="Dismiss").click()
        composer(page).fill("")

    assert quota_app.fake.pending_turns == 0
    assert len(quota_app.fake.model_requests) == 1
    assert 429 in log.chat_statuses
    assert log.page_errors == []
