"""What part of a conversation's history is sent upstream with a new message.

``history_trim`` keeps the most recent *whole* turns whose estimated size fits
``CHAT_HISTORY_MAX_TOKENS``. A turn is a user message and everything after it
up to the next user message (reasoning, tool calls and their outputs, the
assistant's text), so a tool call and its result are kept or dropped together.
The stored history is not touched: this only shapes the model's input.

The estimate: 4 bytes of the item's UTF-8 JSON per token, rounded up. It
counts field names and ids too, so it runs high for English prose (about 4
characters a token) and roughly right for text in scripts of 3-byte UTF-8
characters (Chinese, Japanese: about one character a token); it never calls
a tokenizer, so it costs microseconds and needs no model-specific library. The
instructions and the new message are not part of the budget.

Wire it through the Agents SDK: ``RunConfig(session_input_callback=session_input)``.
The SDK then persists only the new turn's items, and the trimmed-away ones
stay stored.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings

# A call whose result arrives as a separate item: upstream APIs refuse one without the other.
_PAIRS = {
    "function_call": "function_call_output",
    "custom_tool_call": "custom_tool_call_output",
    "computer_call": "computer_call_output",
}
_OUTPUTS = {output: call for call, output in _PAIRS.items()}


def estimate_tokens(item: Any) -> int:
    try:
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = str(item)
    return math.ceil(len(text.encode("utf-8", "replace")) / 4)


def _starts_turn(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and item.get("role") == "user"
        and item.get("type") in (None, "message")
    )


def _turns(items: list[Any]) -> list[list[Any]]:
    turns: list[list[Any]] = []
    for item in items:
        if _starts_turn(item) or not turns:
            turns.append([])
        turns[-1].append(item)
    return turns


def _paired(items: list[Any]) -> list[Any]:
    """``items`` without a tool call whose output is missing, or an output whose call is
    (an interrupted turn can leave either behind)."""
    calls: set[tuple[str, Any]] = set()
    outputs: set[tuple[str, Any]] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind in _PAIRS:
            calls.add((kind, item.get("call_id")))
        elif kind in _OUTPUTS:
            outputs.add((_OUTPUTS[kind], item.get("call_id")))
    kept = []
    for item in items:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind in _PAIRS and (kind, item.get("call_id")) not in outputs:
            continue
        if kind in _OUTPUTS and (_OUTPUTS[kind], item.get("call_id")) not in calls:
            continue
        kept.append(item)
    return kept


def history_trim(items: list[Any], *, max_tokens: int) -> list[Any]:
    """The most recent whole turns of ``items`` within ``max_tokens`` (estimated), oldest
    first, each tool call with its output; the same item objects, never copies.
    ``max_tokens=0`` keeps everything. A last turn larger than the budget on its own
    is dropped too: the budget is a bound, not a target."""
    if max_tokens <= 0:
        return list(items)
    kept: list[list[Any]] = []
    budget = max_tokens
    for turn in reversed(_turns(list(items))):
        turn = _paired(turn)
        size = sum(estimate_tokens(item) for item in turn)
        if size > budget:
            break
        budget -= size
        kept.append(turn)
    return [item for turn in reversed(kept) for item in turn]


def session_input(history: list[Any], new_input: list[Any]) -> list[Any]:
    """``RunConfig.session_input_callback``: trimmed history, then the new message."""
    return history_trim(history, max_tokens=settings.CHAT_HISTORY_MAX_TOKENS) + new_input
