"""Two-factor in the admin.

The login form: a staff user with TOTP on also gives a code (or a recovery
code); with ``ADMIN_REQUIRE_MFA=1`` staff without TOTP are refused until they
turn it on in the app (Account → Two-factor). Wrong passwords and codes count
against the same limits as API logins (``accounts.throttles``).

The TOTP devices page lists who has two-factor on (never the secret) and lets
an administrator turn it off for a user who lost both phone and recovery codes.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts import mfa, throttles
from accounts.models import TotpDevice, User
from chatproject.errors import ApiError

TEMPLATE = "admin/accounts/login.html"
audit = logging.getLogger("accounts.audit")


class AdminLoginForm(AdminAuthenticationForm):
    otp_code = forms.CharField(
        label="Two-factor code",
        required=False,
        max_length=64,
        strip=True,
        help_text="From your authenticator app, or a recovery code. Empty if two-factor is off.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    # Set when the attempt was refused by the limits: ``admin_login`` answers 429.
    throttled_wait: int | None = None

    def _ip(self) -> str:
        """The client IP as the API's limits see it (``DJANGO_NUM_PROXIES``)."""
        if self.request is None:
            return ""
        return BaseThrottle().get_ident(Request(self.request))

    def clean(self) -> dict[str, Any]:
        """Counted like ``POST /api/auth/token``: the attempt is counted before the
        password hash; a right password (and code) gives the count back."""
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password") or self.request is None:
            return super().clean()  # Django's own "field required" errors
        ip = self._ip()
        try:
            attempt = throttles.login_attempt_begin(username=username, ip=ip)
        except ApiError as error:
            self.throttled_wait = int(error.headers["Retry-After"])
            audit.warning("admin login throttled username=%r ip=%s", username[:150], ip)
            raise ValidationError(error.detail, code="throttled") from None
        try:
            cleaned = super().clean()
        except ValidationError as error:
            # A right password of a user who may not log in here (not staff, no
            # code yet) is no guess; a wrong two-factor code is one.
            if self.user_cache is not None and error.code != "invalid_code":
                attempt.succeeded()
            audit.warning("admin login failed username=%r ip=%s", username[:150], ip)
            raise
        attempt.succeeded()
        audit.info("admin login user_id=%s ip=%s", self.get_user().pk, ip)
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        assert isinstance(user, User)
        if not mfa.mfa_enabled(user):
            if settings.ADMIN_REQUIRE_MFA:
                raise ValidationError(
                    "The admin requires two-factor authentication: turn it on in the app "
                    "(Account → Two-factor), then log in here.",
                    code="mfa_required",
                )
            return
        code = self.cleaned_data.get("otp_code") or ""
        if not code:
            raise ValidationError(
                "Enter the code from your authenticator app.", code="mfa_code_required"
            )
        if mfa.second_factor_check(user=user, code=code) is None:
            raise ValidationError("Wrong or already used code.", code="invalid_code")


@admin.register(TotpDevice)
class TotpDeviceAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "confirmed_at")
    list_filter = (("confirmed_at", admin.EmptyFieldListFilter),)
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = ("user", "created_at", "confirmed_at")
    readonly_fields = fields
    actions = ["turn_off"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # set up by the user, in the app, where the QR code is shown

    def has_delete_permission(self, request: HttpRequest, obj: TotpDevice | None = None) -> bool:
        return False  # through the action, which also drops recovery codes and audits

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if request.user.has_perm("accounts.change_totpdevice"):
            return actions
        actions.pop("turn_off", None)
        return actions

    @admin.action(description="Turn two-factor off for the selected users")
    def turn_off(self, request: HttpRequest, queryset: QuerySet[TotpDevice]) -> None:
        admin_id = getattr(request.user, "pk", None)
        count = sum(
            mfa.totp_reset_by_admin(user=device.user, admin_id=admin_id)
            for device in queryset.select_related("user")
        )
        self.message_user(request, f"Two-factor turned off for {count} user(s).", messages.SUCCESS)
