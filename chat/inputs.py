"""The chat input contract: what starts a turn, and the event id a reader resumes after.

One serializer, ``ChatInputSerializer``, validates ``POST /api/chat``,
``POST /api/runs`` and the WebSocket's message frame (the consumer hands it the
decoded frame), and the OpenAPI schema is generated from it, so its limits
(``CHAT_MAX_MESSAGE_CHARS``) are read from the settings each time, never
copied. ``event_id`` is the one parser of ``Last-Event-ID`` and the
WebSocket's ``lastEventId``.

The fields are strict: JSON has types, and a number where a string belongs is
a client bug to report, not a value to coerce.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import serializers

from chatproject.errors import ApiError
from chatproject.fields import StrictBooleanField, StrictCharField, StrictUUIDField

# Redis stream ids are 64-bit: a larger event id cannot name an event.
MAX_EVENT_ID = 2**63 - 1


@dataclass(frozen=True)
class ChatInput:
    message: str
    conversation_id: uuid.UUID | None = None
    replace_last_turn: bool = False


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", errors={field: [message]})


class ChatInputSerializer(serializers.Serializer):
    """What starts a turn: the body of POST /api/chat and /api/runs, the WebSocket's message frame."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # Built per use: the limit is a setting (and tests change it).
        return {
            "message": StrictCharField(
                min_length=1,
                max_length=settings.CHAT_MAX_MESSAGE_CHARS,
                trim_whitespace=False,  # kept as typed; blank is refused below
                help_text="The user's message.",
            ),
            "conversation_id": StrictUUIDField(
                required=False,
                allow_null=True,
                default=None,
                help_text="Continue this conversation; absent or null: start a new one.",
            ),
            "replace_last_turn": StrictBooleanField(
                required=False,
                default=False,
                help_text=(
                    "Replace the conversation's last turn (its last user message and "
                    "everything after it) with this message: regenerate, edit and "
                    "resend, or retry. Needs `conversation_id`."
                ),
            ),
        }

    def validate_message(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("May not be blank.", code="blank")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("replace_last_turn") and attrs.get("conversation_id") is None:
            raise serializers.ValidationError(
                {"replace_last_turn": ["Needs a conversation_id (the conversation to change)."]}
            )
        return attrs


def chat_input(data: Any) -> ChatInput:
    """Validate a decoded request body or frame; ``ApiError`` 400 otherwise."""
    if not isinstance(data, dict):
        raise ApiError(400, "parse_error", "The body must be a JSON object.")
    serializer = ChatInputSerializer(data=data)
    if not serializer.is_valid():
        errors = {
            field: [str(message) for message in messages]
            for field, messages in serializer.errors.items()
        }
        raise ApiError(400, "invalid", "Invalid input.", errors=errors)
    return ChatInput(**serializer.validated_data)


def json_object(raw: bytes | str) -> dict[str, Any]:
    """A JSON object from a body or a frame; 400 ``parse_error`` for anything else."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "parse_error", "The body must be JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "parse_error", "The body must be a JSON object.")
    return data


def event_id(value: Any, *, field: str) -> int:
    """An event id to resume after: a non-negative integer, or its ASCII digits.

    ``str.isdigit`` and ``int()`` take more than ASCII (``"²".isdigit()`` is true,
    ``int("٣")`` is 3): only ``0-9`` are accepted here. Absent, null or blank: 0.
    """
    if value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        if not (text.isascii() and text.isdigit()) or len(text) > 19:
            raise invalid(field, "Must be a non-negative integer (an event id).")
        value = int(text)
    elif not isinstance(value, int) or isinstance(value, bool):
        raise invalid(field, "Must be a non-negative integer (an event id).")
    if not 0 <= value <= MAX_EVENT_ID:
        raise invalid(field, "Must be a non-negative integer (an event id).")
    return value
