"""Writes: the ledger row of a finished turn, an API key's own limit."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from usage.models import KeyLimit, UsageRecord


def _tokens(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_record_write(
    *,
    user_id: int,
    api_key_id: int | None,
    conversation_id: uuid.UUID | str | None,
    model: str,
    input_tokens: int,
    output_tokens: int,
) -> UsageRecord:
    """One ledger row. A conversation or key deleted while the turn ran is recorded
    as null (the tokens were spent all the same)."""
    from accounts.models import ApiKey
    from chat.models import Conversation

    fields = {
        "user_id": user_id,
        "api_key_id": api_key_id,
        "conversation_id": conversation_id,
        "model": (model or "")[:200],
        "input_tokens": _tokens(input_tokens),
        "output_tokens": _tokens(output_tokens),
        "created_at": timezone.now(),
    }
    try:
        with transaction.atomic():
            return UsageRecord.objects.create(**fields)
    except IntegrityError:
        # A foreign key vanished in between (checked at commit): keep the row anyway.
        if (
            conversation_id is not None
            and not Conversation.objects.filter(pk=conversation_id).exists()
        ):
            fields["conversation_id"] = None
        if api_key_id is not None and not ApiKey.objects.filter(pk=api_key_id).exists():
            fields["api_key_id"] = None
        with transaction.atomic():
            return UsageRecord.objects.create(**fields)


def key_limit_set(*, api_key_id: int, daily_tokens: int | None) -> KeyLimit:
    """Set (or clear, with None) an API key's own daily token limit."""
    limit, _ = KeyLimit.objects.update_or_create(
        api_key_id=api_key_id, defaults={"daily_tokens": daily_tokens}
    )
    return limit
