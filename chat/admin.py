"""Admin: conversations with their owner and token totals; turns inline; items read-only."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import Count, Sum
from django.utils.html import format_html

from chat.models import Conversation, ConversationItem, Turn


class TurnInline(admin.TabularInline):
    model = Turn
    extra = 0
    can_delete = False
    fields = (
        "started_at",
        "finished_at",
        "model",
        "status",
        "error_code",
        "input_tokens",
        "output_tokens",
    )
    readonly_fields = fields
    ordering = ("started_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ConversationItemInline(admin.TabularInline):
    model = ConversationItem
    extra = 0
    can_delete = False
    fields = ("position", "kind", "pretty_data")
    readonly_fields = fields
    ordering = ("position",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="kind")
    def kind(self, item: ConversationItem) -> str:
        data = item.data if isinstance(item.data, dict) else {}
        return data.get("type") or data.get("role") or "?"

    @admin.display(description="item")
    def pretty_data(self, item: ConversationItem) -> str:
        text = json.dumps(item.data, indent=2, ensure_ascii=False)
        return format_html("<pre style='white-space:pre-wrap;max-width:70em'>{}</pre>", text)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = (
        "title_or_id",
        "owner",
        "turn_count",
        "input_tokens",
        "output_tokens",
        "updated_at",
    )
    list_select_related = ("owner",)
    search_fields = ("title", "owner__username", "id")
    list_filter = ("updated_at",)
    date_hierarchy = "updated_at"
    readonly_fields = (
        "id",
        "owner",
        "created_at",
        "updated_at",
        "active_run",
        "active_run_started_at",
    )
    fields = (
        "id",
        "owner",
        "title",
        "created_at",
        "updated_at",
        "active_run",
        "active_run_started_at",
    )
    inlines = (TurnInline, ConversationItemInline)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _turns=Count("turns", distinct=True),
                _input_tokens=Sum("turns__input_tokens"),
                _output_tokens=Sum("turns__output_tokens"),
            )
        )

    @admin.display(description="title", ordering="title")
    def title_or_id(self, conversation: Conversation) -> str:
        return conversation.title or str(conversation.id)

    @admin.display(description="turns", ordering="_turns")
    def turn_count(self, conversation: Conversation) -> int:
        return conversation._turns

    @admin.display(description="input tokens", ordering="_input_tokens")
    def input_tokens(self, conversation: Conversation) -> int:
        return conversation._input_tokens or 0

    @admin.display(description="output tokens", ordering="_output_tokens")
    def output_tokens(self, conversation: Conversation) -> int:
        return conversation._output_tokens or 0


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "conversation",
        "model",
        "status",
        "input_tokens",
        "output_tokens",
    )
    list_filter = ("status", "model")
    list_select_related = ("conversation",)
    readonly_fields = [field.name for field in Turn._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
