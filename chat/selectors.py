"""Reads: conversations of a user, and history items turned into ``Message`` objects."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db.models import QuerySet

from chat.models import Conversation, ConversationItem, Turn
from chatproject.errors import ApiError


def conversation_list(*, user: Any) -> QuerySet[Conversation]:
    return Conversation.objects.filter(owner=user).only("id", "title", "created_at", "updated_at")


def conversation_get(*, user: Any, conversation_id: str | uuid.UUID) -> Conversation:
    """The user's conversation, or 404 -- for someone else's, unknown, or malformed ids."""
    try:
        key = uuid.UUID(str(conversation_id))
    except ValueError:
        raise ApiError(404, "not_found", "Conversation not found.") from None
    conversation = Conversation.objects.filter(id=key, owner=user).first()
    if conversation is None:
        raise ApiError(404, "not_found", "Conversation not found.")
    return conversation


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or part.get("refusal") or "")
            for part in content
            if isinstance(part, dict)
        )
    return ""


def _reasoning_text(item: dict[str, Any]) -> str:
    parts = item.get("summary") or item.get("content") or []
    return "\n\n".join(str(part.get("text", "")) for part in parts if isinstance(part, dict))


def _output(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)


def messages_from_items(rows: list[tuple[int, dict[str, Any], str | None]]) -> list[dict[str, Any]]:
    """Group history items into ``Message`` objects (docs/api.md).

    ``rows`` are ``(item id, item, turn status)``. A user item starts a user
    message; everything after it (reasoning, tool calls and their outputs,
    assistant text) forms one assistant message. Tool outputs are folded into
    their call's part as ``result``. Assistant messages also carry the turn's
    ``status`` (``complete`` / ``interrupted`` / ``failed`` / ``running``). A
    running turn with nothing checkpointed yet still gets its (empty) assistant
    message: without it a client could not tell a reply in progress from a turn
    that ended with no output, and would not resume it.
    """
    messages: list[dict[str, Any]] = []
    assistant: dict[str, Any] | None = None
    calls: dict[str, dict[str, Any]] = {}
    running_question: str | None = None

    def reply_in_progress() -> None:
        if running_question is not None and assistant is None:
            messages.append(
                {
                    "id": f"{running_question}-reply",
                    "role": "assistant",
                    "parts": [],
                    "status": Turn.Status.RUNNING.value,
                }
            )

    for item_id, item, status in rows:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        role = item.get("role")
        if is_user_message(item):
            reply_in_progress()
            messages.append(
                {
                    "id": str(item_id),
                    "role": "user",
                    "parts": [{"type": "text", "text": _text(item.get("content"))}],
                }
            )
            assistant = None
            running_question = str(item_id) if status == Turn.Status.RUNNING else None
            continue
        if assistant is None:
            assistant = {"id": str(item_id), "role": "assistant", "parts": []}
            if status:
                assistant["status"] = status
            messages.append(assistant)
        parts = assistant["parts"]
        if role == "assistant":
            text = _text(item.get("content"))
            if text:
                parts.append({"type": "text", "text": text})
        elif kind == "reasoning":
            text = _reasoning_text(item)
            if text:
                parts.append({"type": "reasoning", "text": text})
        elif kind == "function_call":
            part = {
                "type": "tool_call",
                "tool_name": item.get("name", ""),
                "argument": item.get("arguments", ""),
                "callId": item.get("call_id", ""),
            }
            calls[part["callId"]] = part
            parts.append(part)
        elif kind == "function_call_output":
            called = calls.get(item.get("call_id", ""))
            if called is not None:
                called["result"] = _output(item.get("output"))
    reply_in_progress()
    return messages


def conversation_messages(*, conversation: Conversation) -> list[dict[str, Any]]:
    rows = (
        ConversationItem.objects.filter(conversation=conversation)
        .order_by("position")
        .values_list("id", "data", "turn__status")
    )
    return messages_from_items(list(rows))


def is_user_message(item: Any) -> bool:
    """Does this input item start a turn (a message the user typed)?"""
    return (
        isinstance(item, dict)
        and item.get("role") == "user"
        and item.get("type") in (None, "message")
    )


def conversation_items(
    *, conversation: Conversation, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The stored input items, oldest first, and whether older ones were left out.

    At most ``limit``: a longer history gives its most recent items, from the first
    user message among them (a turn is never cut in half)."""
    rows = ConversationItem.objects.filter(conversation=conversation)
    recent = list(rows.order_by("-position").values_list("data", flat=True)[: limit + 1])
    recent.reverse()
    if len(recent) <= limit:
        return recent, False
    recent = recent[1:]
    first_user = next((n for n, item in enumerate(recent) if is_user_message(item)), len(recent))
    return recent[first_user:], True
