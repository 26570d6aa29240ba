"""The admin's login form: a staff user with TOTP on also gives a code (or a
recovery code); with ``ADMIN_REQUIRE_MFA=1`` staff without TOTP are refused until
they turn it on in the app (Account → Two-factor). Wrong passwords and codes
count against the same limits as API logins (``accounts.throttles``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts import mfa, throttles
from accounts.models import User
from chatproject.errors import ApiError

TEMPLATE = "admin/accounts/login.html"


class AdminLoginForm(AdminAuthenticationForm):
    otp_code = forms.CharField(
        label="Two-factor code",
        required=False,
        max_length=64,
        strip=True,
        help_text="From your authenticator app, or a recovery code. Empty if two-factor is off.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def _ip(self) -> str:
        """The client IP as the API's limits see it (``DJANGO_NUM_PROXIES``)."""
        if self.request is None:
            return ""
        return BaseThrottle().get_ident(Request(self.request))

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        try:
            throttles.login_check(username=username, ip=self._ip())
        except ApiError as error:
            raise ValidationError(error.detail, code="throttled") from None
        try:
            return super().clean()
        except ValidationError as error:
            if error.code == "invalid_login" and self.user_cache is None:
                throttles.login_failure_record(username=username, ip=self._ip())
            raise

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
            throttles.login_failure_record(username=user.get_username(), ip=self._ip())
            raise ValidationError("Wrong or already used code.", code="invalid_code")
