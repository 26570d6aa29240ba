"""Conversations, their history as agent input items, and one row per assistant turn.

History is stored in the Agents SDK's own format (``TResponseInputItem`` dicts:
user messages, assistant messages, reasoning, function calls and their
outputs), so a turn can hand it back to the model unchanged. The ``Message``
shape the API returns is derived from these items (``chat.selectors``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The run lock: set by one conditional UPDATE when a turn starts, cleared when
    # it ends. Two concurrent posts cannot both set it (see services.turn_claim).
    active_run = models.UUIDField(null=True, blank=True, editable=False)
    active_run_started_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-updated_at", "-id"], name="chat_conv_owner_recent")
        ]

    def __str__(self) -> str:
        return self.title or str(self.id)


class ConversationItem(models.Model):
    """One agent input item, in order. Written once per turn, never per token."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    turn = models.ForeignKey(
        "Turn", on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    data = models.JSONField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "position"], name="chat_item_unique_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.position}"


class Turn(models.Model):
    """One assistant reply: which model, what it cost, how it ended.

    The row is written when the turn starts (``running``, with the user's message
    as its first item), so a worker that dies mid-reply leaves the question and
    the last checkpoint of the reply behind. ``lease_expires_at`` is renewed by
    the worker while the turn lives; once it has passed, anyone may record the
    turn as ``interrupted`` (``chat.services.turn_expire``).
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETE = "complete"
        INTERRUPTED = "interrupted"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    model = models.CharField(max_length=200)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices)
    error_code = models.CharField(max_length=50, blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.model} {self.status} ({self.started_at:%Y-%m-%d %H:%M})"


class AssistantProfile(models.Model):
    """The assistant's identity as a staff user set it in the admin: at most one row.

    When the row exists it replaces the settings (``CHAT_ASSISTANT_NAME``,
    ``CHAT_INSTRUCTIONS``, ``CHAT_TOOLS``; ``OPENAI_MODEL`` unless ``model`` is
    blank); deleting it goes back to them. ``chat.agent`` reads it, and a save
    through the admin applies to the next message (``chat.agent.profile_changed``).
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    name = models.CharField(max_length=100)
    instructions = models.TextField(help_text="The system prompt the model gets on every turn.")
    model = models.CharField(
        max_length=200,
        blank=True,
        help_text="Model name sent upstream; blank: OPENAI_MODEL. Ignored by the offline demo.",
    )
    tools = models.JSONField(
        default=list,
        blank=True,
        help_text="Names of the registered tools the agent may call.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "assistant profile"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(id=1), name="chat_assistant_profile_singleton"
            )
        ]

    def __str__(self) -> str:
        return self.name
