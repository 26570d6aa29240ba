"""Small input/output serializers for the account APIs."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Scope
from chatproject.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictEmailField,
    StrictIntegerField,
)


class RegisterInput(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False)
    email = StrictEmailField(required=False, allow_blank=True, default="")


class LoginInput(serializers.Serializer):
    username = StrictCharField(max_length=150, trim_whitespace=False)
    password = StrictCharField(max_length=4096, trim_whitespace=False)


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    is_staff = serializers.BooleanField()
    email_verified = serializers.BooleanField(help_text="The address was confirmed by email.")


class RegisteredUserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()


class ApiKeyCreateInput(serializers.Serializer):
    name = StrictCharField(max_length=100)
    # Optional here so that a missing one is 400 ``password_required``, not ``required``.
    password = StrictCharField(
        max_length=4096,
        trim_whitespace=False,
        required=False,
        allow_blank=True,
        default="",
        help_text="The current password (required): a key outlives every session.",
    )
    expires_at = StrictDateTimeField(required=False, allow_null=True, default=None)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices),
        required=False,
        allow_empty=False,
        max_length=len(Scope.choices),
        default=[Scope.CHAT],
    )
    # The key's own daily token limit (usage.KeyLimit); null or 0: none of its own.
    daily_tokens = StrictIntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**63 - 1, default=None
    )


class ApiKeyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.CharField(help_text="The plaintext key. Shown once, never again.")


class ApiKeyPageOutput(serializers.Serializer):
    """The keys list, in the shape of our other lists (one page: a user has few keys)."""

    results = ApiKeyOutput(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


_REVOKE_KEYS_HELP = "Also revoke every API key (after a suspected leak). Default false."


class LogoutAllInput(serializers.Serializer):
    revoke_api_keys = StrictBooleanField(required=False, default=False, help_text=_REVOKE_KEYS_HELP)


class PasswordChangeInput(serializers.Serializer):
    current_password = StrictCharField(
        max_length=4096, trim_whitespace=False, required=False, allow_blank=True, default=""
    )
    new_password = StrictCharField(max_length=4096, trim_whitespace=False)
    revoke_api_keys = StrictBooleanField(required=False, default=False, help_text=_REVOKE_KEYS_HELP)


class SessionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(
        allow_null=True, help_text="The last login or refresh of this session."
    )
    user_agent = serializers.CharField(help_text="The browser's User-Agent at login.")
    ip = serializers.CharField(help_text="The client IP of the last login or refresh.")
    current = serializers.BooleanField(help_text="The session of the token making this request.")


class SessionListOutput(serializers.Serializer):
    results = SessionOutput(many=True)
