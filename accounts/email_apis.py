"""Password reset and email verification endpoints (``/api/auth/password/reset…``,
``/api/auth/email/verify…``): parse → ``password_reset`` / ``verification`` → answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import password_reset, verification
from accounts.api_docs import NOT_CONFIGURED, THROTTLED, error
from accounts.apis import _require_object_body, _validated, client_ip
from accounts.drf import drf_user
from chatproject.fields import StrictCharField, StrictEmailField


class PasswordResetInput(serializers.Serializer):
    email = StrictEmailField()


class PasswordResetConfirmInput(serializers.Serializer):
    uid = StrictCharField(max_length=64)
    token = StrictCharField(max_length=128)
    new_password = StrictCharField(max_length=4096, trim_whitespace=False)


class EmailVerifyInput(serializers.Serializer):
    uid = StrictCharField(max_length=64)
    token = StrictCharField(max_length=128)


_ACCEPTED = {
    202: OpenApiResponse(description="Accepted; an email is sent if the address has an account.")
}
_NO_CONTENT = {204: OpenApiResponse(description="Done.")}


class PasswordResetApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=PasswordResetInput,
        responses={**_ACCEPTED, 429: THROTTLED, 503: NOT_CONFIGURED},
    )
    def post(self, request: Request) -> Response:
        data = _validated(PasswordResetInput, request)
        password_reset.password_reset_request(
            email=data["email"], ip=client_ip(request), request=request._request
        )
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=PasswordResetConfirmInput,
        responses={
            **_NO_CONTENT,
            400: error("Bad, used or expired link (`reset_token_invalid`), or invalid input."),
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(PasswordResetConfirmInput, request)
        password_reset.password_reset_confirm(ip=client_ip(request), **data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyApi(APIView):
    # No authentication: the link may be opened in a browser that is not logged in.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=EmailVerifyInput,
        responses={
            **_NO_CONTENT,
            400: error("Bad, used or expired link (`verification_token_invalid`)."),
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(EmailVerifyInput, request)
        verification.email_verify(ip=client_ip(request), **data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyResendApi(APIView):
    """Bearer only (API keys are refused: no ``required_scope``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description="Sent."),
            400: error(
                "No address on the account (`email_missing`), or a body that is not an object."
            ),
            409: error("Already verified (`email_already_verified`)."),
            429: THROTTLED,
            503: NOT_CONFIGURED,
        },
    )
    def post(self, request: Request) -> Response:
        _require_object_body(request)
        verification.verification_resend(user=drf_user(request), request=request._request)
        return Response(status=status.HTTP_202_ACCEPTED)
