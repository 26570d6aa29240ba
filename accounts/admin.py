"""Admin: users with their keys and sessions, API keys, token families.

An API key is created through ``api_key_create``; its plaintext is rendered once
on the page that answers the form (not stored, not put in a message cookie, not
shown again). Outstanding/blacklisted tokens are SimpleJWT's own admin pages.

The admin's login form (``accounts.admin_login.AdminLoginForm``) counts against
the API's login limits, asks staff with TOTP for a code and writes the same
audit lines; ``admin_login`` answers a throttled attempt with a 429 page and
``Retry-After``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts import admin_login as admin_mfa
from accounts import api_key_services, services, sessions
from accounts.models import ApiKey, RevokeReason, Scope, TokenFamily, User
from usage.admin import ApiKeyUsageMixin, UserUsageMixin

if TYPE_CHECKING:
    pass

audit = logging.getLogger("accounts.audit")


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """``/admin/login/``: the admin's own view, but 429 when the form was throttled."""
    response = admin.site.login(request, extra_context)
    context = getattr(response, "context_data", None) or {}
    wait = getattr(context.get("form"), "throttled_wait", None)
    if wait is not None:
        response.status_code = 429
        response["Retry-After"] = str(wait)
    return response


# Counted like API logins; staff with TOTP give a code, ADMIN_REQUIRE_MFA makes it
# mandatory (accounts/admin_login.py).
admin.site.login_form = admin_mfa.AdminLoginForm
admin.site.login_template = admin_mfa.TEMPLATE


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("name", "prefix", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False  # keys are made on the API key page, where the plaintext is shown


class PasswordChangeForm(AdminPasswordChangeForm):
    """The admin's password form, through the service that ends the user's sessions."""

    def save(self, commit: bool = True) -> User:
        return services.user_password_change(
            user=self.user, password=self.cleaned_data["password1"]
        )


@admin.register(User)
class UserAdmin(UserUsageMixin, DjangoUserAdmin):
    inlines = [ApiKeyInline]
    change_password_form = PasswordChangeForm
    actions = ["revoke_all_sessions"]
    # verified_email: the address the user confirmed (accounts/verification.py).
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Email verification", {"fields": ("verified_email",)}),
    )

    @admin.action(description="Revoke all sessions (refresh tokens)")
    def revoke_all_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        total = sum(
            services.user_sessions_revoke(user=user, reason=RevokeReason.ADMIN) for user in queryset
        )
        self.message_user(request, f"Revoked {total} session(s).", messages.SUCCESS)


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> tuple[tuple[str, str], ...]:
        return (("yes", "Revoked"), ("no", "Not revoked"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> tuple[tuple[str, str], ...]:
        return (("yes", "Expired"), ("no", "Not expired"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "no":
            return queryset.exclude(expires_at__lte=now)
        return queryset


class ApiKeyAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, initial=[Scope.CHAT], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ("user", "name", "scopes", "expires_at")


@admin.register(ApiKey)
class ApiKeyAdmin(ApiKeyUsageMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (("user", admin.RelatedOnlyFieldListFilter), RevokedFilter, ExpiredFilter)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    actions = ["revoke"]
    readonly_fields = (
        "user",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    fields = ("user", "name", *readonly_fields[1:])
    raw_id_fields = ("user",)

    def get_form(
        self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[ApiKey]]:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        return ApiKeyAddForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(
        self, request: HttpRequest, obj: ApiKey | None = None
    ) -> tuple[str, ...]:
        return () if obj is None else self.readonly_fields

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().add_view(request, form_url, extra_context)
        plaintext = getattr(request, "_api_key_plaintext", None)
        if plaintext is None:
            return response
        # Rendered, never redirected: the plaintext exists only in this response.
        page = TemplateResponse(
            request,
            "admin/accounts/apikey/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "API key created",
                "key": getattr(request, "_api_key_object", None),
                "plaintext": plaintext,
            },
        )
        page["Cache-Control"] = "no-store"
        return page

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: Any) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, plaintext = api_key_services.api_key_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
        )
        obj.pk = key.pk
        # Handed to add_view on the same request (HttpRequest declares no such attributes).
        vars(request).update(_api_key_plaintext=plaintext, _api_key_object=key)

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_services.api_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)


@admin.register(TokenFamily)
class TokenFamilyAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "created_at",
        "last_used_at",
        "ip",
        "rotations",
        "expires_at",
        "revoked_at",
        "revoke_reason",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "revoke_reason")
    search_fields = ("user__username", "id", "ip")
    list_select_related = ("user",)
    readonly_fields = [field.name for field in TokenFamily._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected sessions")
    def revoke(self, request: HttpRequest, queryset: QuerySet[TokenFamily]) -> None:
        revoked = sum(sessions.token_family_revoke(family=family) for family in queryset)
        self.message_user(request, f"Revoked {revoked} session(s).", messages.SUCCESS)
