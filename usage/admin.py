"""Admin: the usage ledger (filters, CSV export), limits per user and group, and
the pieces the user and API-key pages show (totals, effective limits, a key's
own limit).

``accounts.admin`` mixes ``UserUsageMixin`` into its user admin and
``ApiKeyUsageMixin`` into its API-key admin; everything else lives here.
The ledger is read-only: rows are written by the turns themselves.
"""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from usage import selectors, services
from usage.models import KeyLimit, UsageLimits, UsageRecord

# --------------------------------------------------------------------------
# The ledger
# --------------------------------------------------------------------------

CSV_COLUMNS = (
    "created_at",
    "user_id",
    "username",
    "api_key_id",
    "api_key_prefix",
    "conversation_id",
    "model",
    "input_tokens",
    "output_tokens",
    "total_tokens",
)


def csv_cell(value: Any) -> Any:
    """A value a spreadsheet shows as text: a cell starting with ``= + - @`` (or a tab
    or carriage return) would be run as a formula. Usernames and key names are
    user-chosen."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "user",
        "api_key",
        "conversation_id",
        "model",
        "input_tokens",
        "output_tokens",
        "total_tokens",
    )
    list_filter = (
        ("user", admin.RelatedOnlyFieldListFilter),
        ("api_key", admin.RelatedOnlyFieldListFilter),
        "model",
        ("created_at", admin.DateFieldListFilter),
    )
    date_hierarchy = "created_at"
    search_fields = ("user__username", "model", "api_key__prefix")
    list_select_related = ("user", "api_key")
    actions = ["export_csv"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="total tokens")
    def total_tokens(self, record: UsageRecord) -> int:
        return record.total_tokens

    @admin.action(description="Export selected usage records as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[UsageRecord]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="usage-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        rows = queryset.select_related("user", "api_key").order_by("created_at", "id")
        for record in rows.iterator(chunk_size=2000):
            key = record.api_key
            writer.writerow(
                [
                    csv_cell(value)
                    for value in (
                        record.created_at.isoformat(),
                        record.user_id,
                        record.user.get_username(),
                        record.api_key_id or "",
                        key.prefix if key is not None else "",
                        record.conversation_id or "",
                        record.model,
                        record.input_tokens,
                        record.output_tokens,
                        record.total_tokens,
                    )
                ]
            )
        return response


# --------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------


class UsageLimitsForm(ModelForm):
    class Meta:
        model = UsageLimits
        fields = ("user", "group", "concurrent_turns", "turns_per_minute", "daily_tokens")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("user")) == bool(data.get("group")):
            raise ValidationError("Choose either a user or a group.")
        return data


@admin.register(UsageLimits)
class UsageLimitsAdmin(admin.ModelAdmin):
    form = UsageLimitsForm
    list_display = ("__str__", "concurrent_turns", "turns_per_minute", "daily_tokens")
    list_filter = (("user", admin.EmptyFieldListFilter), ("group", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "group__name")
    list_select_related = ("user", "group")
    raw_id_fields = ("user",)


class _LimitsInline(admin.StackedInline):
    model = UsageLimits
    fields = ("concurrent_turns", "turns_per_minute", "daily_tokens")
    extra = 1
    max_num = 1
    can_delete = True
    verbose_name_plural = "usage limits (empty: the next level's value)"


class UserLimitsInline(_LimitsInline):
    fk_name = "user"


class GroupLimitsInline(_LimitsInline):
    fk_name = "group"


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    inlines = [GroupLimitsInline]


def _totals(totals: selectors.Totals) -> str:
    return f"{totals.today:,} tokens today, {totals.this_month:,} this month (UTC)"


_EFFECTIVE_LABELS = (
    ("concurrent_turns", "{:,} live turns at once"),
    ("turns_per_minute", "{:,} turns a minute"),
    ("daily_tokens", "{:,} tokens a day"),
)


def effective_limits_text(limits: selectors.Limits) -> str:
    parts = []
    for field, label in _EFFECTIVE_LABELS:
        value = getattr(limits, field)
        text = (
            "unlimited tokens a day"
            if field == "daily_tokens" and not value
            else label.format(value)
        )
        parts.append(f"{text} ({limits.source(field)})")
    return "; ".join(parts)


_USER_USAGE_FIELDS = ("usage_totals", "usage_effective_limits")


class UserUsageMixin:
    """For the user admin: the user's totals and effective limits (read-only), and
    an inline to override the limits."""

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return [*super().get_inlines(request, obj), UserLimitsInline]  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))  # type: ignore[misc]
        if obj is not None:
            fieldsets.append(("Usage", {"fields": _USER_USAGE_FIELDS}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return (*fields, *_USER_USAGE_FIELDS) if obj is not None else fields

    @admin.display(description="tokens used")
    def usage_totals(self, obj: Any) -> str:
        return _totals(selectors.totals(now=timezone.now(), user_id=obj.pk))

    @admin.display(description="effective limits")
    def usage_effective_limits(self, obj: Any) -> str:
        return effective_limits_text(selectors.limits_effective(user_id=obj.pk))


class KeyLimitInline(admin.StackedInline):
    model = KeyLimit
    fields = ("daily_tokens", "key_usage_totals")
    readonly_fields = ("key_usage_totals",)
    extra = 1
    max_num = 1
    can_delete = False
    verbose_name = "usage"
    verbose_name_plural = "usage"

    @admin.display(description="tokens used")
    def key_usage_totals(self, limit: KeyLimit) -> str:
        if limit.api_key_id is None:
            return "-"
        return _totals(selectors.totals(now=timezone.now(), api_key_id=limit.api_key_id))


def _daily_tokens_field() -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**63 - 1,
        label="Daily tokens",
        help_text=KeyLimit._meta.get_field("daily_tokens").help_text,
    )


class ApiKeyUsageMixin:
    """For the API-key admin: the key's own daily limit, as a field of the add form
    and an inline (with the key's totals) on its page."""

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        inlines = list(super().get_inlines(request, obj))  # type: ignore[misc]
        return [*inlines, KeyLimitInline] if obj is not None else inlines

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))  # type: ignore[misc]
        if obj is None:
            fieldsets.append(("Usage", {"fields": ("daily_tokens",)}))
        return fieldsets

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            base = kwargs.get("form") or forms.ModelForm
            kwargs["form"] = type(base.__name__, (base,), {"daily_tokens": _daily_tokens_field()})
        return super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        daily_tokens = form.cleaned_data.get("daily_tokens")
        if not change and daily_tokens is not None:
            services.key_limit_set(api_key_id=form.instance.pk, daily_tokens=daily_tokens)
