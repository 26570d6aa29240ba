"""OpenAPI pieces shared by the password-reset, verification and TOTP endpoints:
their specific error answers (in the one error shape) and the login's MFA answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(
        response={"$ref": "#/components/schemas/ApiErrorBody"}, description=description
    )


THROTTLED = error("Throttled (`throttled`); `Retry-After` says when to try again.")
NOT_CONFIGURED = error("`FRONTEND_ORIGIN` is not set in production (`email_not_configured`).")

MFA_REQUIRED_OUTPUT = inline_serializer(
    "MfaRequiredOutput",
    {
        "mfa_required": serializers.BooleanField(help_text="Always true."),
        "mfa_token": serializers.CharField(
            help_text="For POST /api/auth/token/mfa; lives 5 minutes, works once."
        ),
    },
)
