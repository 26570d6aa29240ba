"""Admin: conversations with their owner and token totals; turns inline; items read-only;
the assistant profile (name, instructions, model, tools) a staff user edits without a deploy."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from chat.agent import profile_changed, settings_tools
from chat.models import AssistantProfile, Conversation, ConversationItem, Turn
from chat.tools import registered_tools

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _Totals(TypedDict):
    """What ``ConversationAdmin.get_queryset`` adds to each conversation."""

    _turns: int
    _input_tokens: int | None
    _output_tokens: int | None


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

    def has_add_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False


class ConversationItemInline(admin.TabularInline):
    model = ConversationItem
    extra = 0
    can_delete = False
    fields = ("position", "kind", "pretty_data")
    readonly_fields = fields
    ordering = ("position",)

    def has_add_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
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
    def turn_count(self, conversation: WithAnnotations[Conversation, _Totals]) -> int:
        return conversation._turns

    @admin.display(description="input tokens", ordering="_input_tokens")
    def input_tokens(self, conversation: WithAnnotations[Conversation, _Totals]) -> int:
        return conversation._input_tokens or 0

    @admin.display(description="output tokens", ordering="_output_tokens")
    def output_tokens(self, conversation: WithAnnotations[Conversation, _Totals]) -> int:
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class AssistantProfileForm(forms.ModelForm):
    tools = forms.MultipleChoiceField(
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The registered tools the agent may call (chat/tools.py, chat/custom_tools.py).",
    )

    class Meta:
        model = AssistantProfile
        fields = ("name", "instructions", "model", "tools")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read when the form is built: a tool added to the code shows up without a migration.
        tools = self.fields["tools"]
        assert isinstance(tools, forms.MultipleChoiceField)
        tools.choices = [
            (name, f"{name}: {_first_line(tool.description)}")
            for name, tool in registered_tools().items()
        ]


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0]


@admin.register(AssistantProfile)
class AssistantProfileAdmin(admin.ModelAdmin):
    """One row at most: the list page goes straight to it (or to "add" while there is none)."""

    form = AssistantProfileForm
    list_display = ("name", "model", "updated_at")
    readonly_fields = ("updated_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not AssistantProfile.objects.exists()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        profile = AssistantProfile.objects.first()
        if profile is not None and self.has_view_or_change_permission(request, profile):
            return HttpResponseRedirect(
                reverse("admin:chat_assistantprofile_change", args=[profile.pk])
            )
        if profile is None and self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:chat_assistantprofile_add"))
        return super().changelist_view(request, extra_context)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # A new profile starts as what the settings say today.
        from django.conf import settings

        return {
            "name": settings.CHAT_ASSISTANT_NAME,
            "instructions": settings.CHAT_INSTRUCTIONS,
            "tools": list(settings_tools()),
        }

    # Every change publishes a new version once committed: the next message, in any
    # process, uses it (chat.agent).
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(profile_changed)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        transaction.on_commit(profile_changed)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        transaction.on_commit(profile_changed)
