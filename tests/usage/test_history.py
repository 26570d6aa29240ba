"""History trimming: the pure function, and what actually goes upstream through the SDK."""

from __future__ import annotations

import json

import pytest
from agents import RunConfig, Runner
from asgiref.sync import sync_to_async

from chat import agent as chat_agent
from chat.models import Conversation, ConversationItem
from chat.session import DjangoSession
from tests.fake_openai import FakeOpenAI, text
from usage.history import estimate_tokens, history_trim, session_input


def user(content: str) -> dict:
    return {"role": "user", "content": content}


def assistant(content: str) -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": content, "annotations": []}],
    }


def call(call_id: str) -> dict:
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": "add",
        "arguments": '{"a": 1, "b": 2}',
    }


def output(call_id: str) -> dict:
    return {"type": "function_call_output", "call_id": call_id, "output": "3"}


def reasoning(summary: str) -> dict:
    return {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": summary}],
    }


OLD = [user("first question"), assistant("x" * 4000)]
TOOL_TURN = [
    user("add 1 and 2"),
    reasoning("use the tool"),
    call("c1"),
    output("c1"),
    assistant("3"),
]
LAST = [user("thanks"), assistant("you're welcome")]
HISTORY = [*OLD, *TOOL_TURN, *LAST]


def size(items: list) -> int:
    return sum(estimate_tokens(item) for item in items)


def test_the_estimate_is_four_bytes_of_json_per_token():
    item = {"role": "user", "content": "a" * 100}
    assert estimate_tokens(item) == -(-len(json.dumps(item, separators=(",", ":"))) // 4)
    # Three-byte characters count three bytes each: closer to one token a character.
    assert estimate_tokens(user("漢" * 100)) > estimate_tokens(user("a" * 100)) * 2


def test_trimming_keeps_the_most_recent_whole_turns_within_the_budget():
    budget = size(TOOL_TURN) + size(LAST)
    kept = history_trim(HISTORY, max_tokens=budget)
    assert kept == [*TOOL_TURN, *LAST]
    assert all(a is b for a, b in zip(kept, HISTORY[2:], strict=True))  # the same objects
    assert history_trim(HISTORY, max_tokens=budget - 1) == LAST
    assert history_trim(HISTORY, max_tokens=size(HISTORY)) == HISTORY


def test_a_tool_call_and_its_output_are_never_split():
    # A budget that would fit the tail of the tool turn but not all of it.
    budget = size(TOOL_TURN[2:]) + size(LAST)
    kept = history_trim(HISTORY, max_tokens=budget)
    kinds = [item.get("type") for item in kept]
    assert "function_call" not in kinds and "function_call_output" not in kinds
    assert kept == LAST


def test_an_unpaired_call_or_output_is_left_out():
    interrupted = [user("q"), call("c9"), output("c8"), assistant("partial")]
    kept = history_trim([*interrupted, *LAST], max_tokens=10_000)
    assert kept == [interrupted[0], interrupted[3], *LAST]


def test_a_budget_of_zero_keeps_everything_and_a_huge_last_turn_keeps_nothing():
    assert history_trim(HISTORY, max_tokens=0) == HISTORY
    assert history_trim([*LAST, *OLD], max_tokens=size(LAST)) == []


def test_items_before_the_first_user_message_form_a_turn_of_their_own():
    orphan = [assistant("welcome")]
    assert history_trim([*orphan, *LAST], max_tokens=size(LAST)) == LAST
    assert history_trim([*orphan, *LAST], max_tokens=size(orphan) + size(LAST)) == [
        *orphan,
        *LAST,
    ]


def test_session_input_appends_the_new_message_to_the_trimmed_history(settings):
    settings.CHAT_HISTORY_MAX_TOKENS = size(LAST)
    new = [user("next")]
    assert session_input(HISTORY, new) == [*LAST, *new]


# --------------------------------------------------------------------------
# Through the Agents SDK, against the fake upstream
# --------------------------------------------------------------------------


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def _store_history(owner) -> Conversation:
    conversation = Conversation.objects.create(owner=owner, title="t")
    ConversationItem.objects.bulk_create(
        ConversationItem(conversation=conversation, position=n, data=item)
        for n, item in enumerate(HISTORY)
    )
    return conversation


def _stored(conversation) -> list:
    return list(
        ConversationItem.objects.filter(conversation=conversation)
        .order_by("position")
        .values_list("data", flat=True)
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_the_upstream_gets_the_trimmed_history_and_the_output_cap(
    api, owner, settings, fake, close_db_connections
):
    settings.OPENAI_BASE_URL = fake.base_url
    settings.OPENAI_API_KEY = "sk-test"
    settings.CHAT_MODEL_API = api
    settings.CHAT_MAX_OUTPUT_TOKENS = 321
    settings.CHAT_HISTORY_MAX_TOKENS = size(TOOL_TURN) + size(LAST)
    chat_agent._build_agent.cache_clear()
    conversation = await sync_to_async(_store_history)(owner)
    fake.push(text("fine"))
    session = DjangoSession(conversation.id)
    try:
        agent, _ = await chat_agent.get_agent()
        result = Runner.run_streamed(
            agent,
            "and now?",
            session=session,
            run_config=RunConfig(session_input_callback=session_input),
        )
        async for _event in result.stream_events():
            pass
    finally:
        chat_agent._build_agent.cache_clear()

    body = fake.model_requests[0].body
    sent = json.dumps(body)
    assert "x" * 4000 not in sent  # the oldest turn stayed home
    assert "add 1 and 2" in sent and "thanks" in sent and "and now?" in sent
    if api == "chat_completions":
        assert body["max_tokens"] == 321
        roles = [m["role"] for m in body["messages"]]
        # system, then the tool turn (the call and its result together), the last turn, the new one
        assert roles == [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
            "assistant",
            "user",
        ]
    else:
        assert body["max_output_tokens"] == 321
        types = [item.get("type") for item in body["input"]]
        assert types.count("function_call") == types.count("function_call_output") == 1
    # Only the new turn's items are to be saved; what is stored is untouched.
    assert [item.get("content") for item in session.pending][:1] == ["and now?"]
    assert len(session.pending) == 2
    assert await sync_to_async(_stored)(conversation) == HISTORY
