"""TOTP endpoints (``/api/auth/mfa/totp…``) and the login's second step
(``/api/auth/token/mfa``): parse → ``accounts.mfa`` → answer. Bearer only for the
setup endpoints; API keys are refused (no ``required_scope``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import mfa
from accounts.api_docs import THROTTLED, error
from accounts.apis import _TOKEN_OUTPUT, _token_response, _validated, client_ip
from accounts.drf import drf_user
from chatproject.fields import StrictCharField


class CurrentPasswordInput(serializers.Serializer):
    current_password = StrictCharField(max_length=4096, trim_whitespace=False)


class CodeInput(serializers.Serializer):
    code = StrictCharField(max_length=64)


class TotpDisableInput(serializers.Serializer):
    current_password = StrictCharField(max_length=4096, trim_whitespace=False)
    code = StrictCharField(max_length=64)


class MfaLoginInput(serializers.Serializer):
    mfa_token = StrictCharField(max_length=128)
    code = StrictCharField(max_length=64)


class TotpSetupOutput(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret, for typing into an app by hand.")
    otpauth_url = serializers.CharField(help_text="The otpauth:// URL the QR code encodes.")
    qr_svg = serializers.CharField(help_text="The QR code as an SVG data: URI.")


class RecoveryCodesOutput(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), help_text="10 one-time codes. Shown once, never again."
    )


class MfaStatusOutput(serializers.Serializer):
    enabled = serializers.BooleanField()
    pending = serializers.BooleanField(help_text="A setup was started and not confirmed.")
    recovery_codes_remaining = serializers.IntegerField()


_NO_STORE = {"Cache-Control": "no-store"}
_WRONG_PASSWORD = error("Wrong password (`invalid_credentials`).")


class TotpApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MfaStatusOutput)
    def get(self, request: Request) -> Response:
        return Response(MfaStatusOutput(mfa.mfa_status(user=drf_user(request))).data)

    @extend_schema(
        request=CurrentPasswordInput,
        responses={
            201: TotpSetupOutput,
            403: _WRONG_PASSWORD,
            409: error("TOTP is already on (`mfa_already_enabled`)."),
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(CurrentPasswordInput, request)
        setup = mfa.totp_begin(
            user=drf_user(request), current_password=data["current_password"], ip=client_ip(request)
        )
        return Response(
            TotpSetupOutput(setup).data, status=status.HTTP_201_CREATED, headers=_NO_STORE
        )

    @extend_schema(
        request=TotpDisableInput,
        responses={
            204: OpenApiResponse(description="Off."),
            403: error("Wrong password (`invalid_credentials`) or code (`invalid_code`)."),
            409: error("TOTP is not on (`mfa_not_enabled`)."),
            429: THROTTLED,
        },
    )
    def delete(self, request: Request) -> Response:
        data = _validated(TotpDisableInput, request)
        mfa.totp_disable(user=drf_user(request), ip=client_ip(request), **data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TotpConfirmApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CodeInput,
        responses={
            200: RecoveryCodesOutput,
            403: error("Wrong or already used code (`invalid_code`)."),
            409: error(
                "No setup pending (`mfa_not_pending`) or already on (`mfa_already_enabled`)."
            ),
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(CodeInput, request)
        codes = mfa.totp_confirm(user=drf_user(request), code=data["code"], ip=client_ip(request))
        return Response({"recovery_codes": codes}, headers=_NO_STORE)


class MfaTokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=MfaLoginInput,
        responses={
            200: _TOKEN_OUTPUT,
            401: error(
                "Wrong or used code (`invalid_code`), or an unknown, used or expired "
                "`mfa_token` (`mfa_token_invalid`)."
            ),
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(MfaLoginInput, request)
        issued = mfa.challenge_complete(
            ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""), **data
        )
        return _token_response(issued, with_user=True)
