"""Account endpoints: parse → service/selector → serialize.

The refresh token never appears in a response body: it lives in an HttpOnly,
SameSite=Strict cookie scoped to ``/api/auth/``. The two endpoints that act on
that cookie (refresh, logout) also check ``Origin``/``Referer`` and require an
``X-Requested-With`` header (which a cross-site form cannot send), so another
site cannot drive them; a failed check is 403 ``csrf_failed`` and changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponseBase, JsonResponse
from django.utils.http import is_same_domain
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts import api_key_services, mfa, selectors, services, sessions, verification
from accounts.api_docs import MFA_REQUIRED_OUTPUT
from accounts.authentication import ANY_SCOPE
from accounts.drf import drf_principal, drf_user
from accounts.models import Scope
from accounts.serializers import (
    ApiKeyCreatedOutput,
    ApiKeyCreateInput,
    ApiKeyOutput,
    ApiKeyPageOutput,
    LoginInput,
    LogoutAllInput,
    PasswordChangeInput,
    RegisteredUserOutput,
    RegisterInput,
    SessionListOutput,
    SessionOutput,
    UserOutput,
)
from accounts.throttles import RefreshThrottle, RegisterThrottle
from chatproject.errors import ApiError, error_response


def client_ip(request: Request) -> str:
    """The client IP used for limits and logs (``NUM_PROXIES`` decides trust in XFF)."""
    return BaseThrottle().get_ident(request)


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _require_object_body(request: Request) -> None:
    """Body-less endpoints still reject a body that is not JSON or not an object."""
    if not isinstance(request.data, dict):
        raise ApiError(400, "invalid", "Expected a JSON object or an empty body.")


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname if port in (None, default) else f"{parts.hostname}:{port}"
    return f"{parts.scheme}://{host}"


def _trusted_origin(request: Request, origin: str) -> bool:
    own = _origin(f"{request.scheme}://{request.get_host()}")
    if origin == own:
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if "*" in trusted:  # Django's form: "https://*.example.com"
            scheme, _, pattern = trusted.partition("://")
            parts = urlsplit(origin)
            if parts.scheme == scheme and is_same_domain(parts.netloc, pattern.lstrip("*")):
                return True
        elif _origin(trusted) == origin:
            return True
    return False


def check_cookie_request(request: Request) -> None:
    """Refuse a cookie-authenticated request that a cross-site page could have sent."""
    if not request.headers.get("X-Requested-With", "").strip():
        raise ApiError(403, "csrf_failed", "Missing X-Requested-With header.")
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    origin = _origin(source) if source and source != "null" else None
    if origin is None or not _trusted_origin(request, origin):
        raise ApiError(403, "csrf_failed", "Origin not allowed.")


def _set_refresh_cookie(response: Response, issued: sessions.IssuedTokens) -> None:
    response.set_cookie(
        settings.REFRESH_COOKIE_NAME,
        issued.refresh,
        max_age=issued.refresh_max_age,
        path=settings.REFRESH_COOKIE_PATH,
        secure=settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def _clear_refresh_cookie(response: HttpResponseBase) -> None:
    response.delete_cookie(
        settings.REFRESH_COOKIE_NAME, path=settings.REFRESH_COOKIE_PATH, samesite="Strict"
    )


_TOKEN_OUTPUT = inline_serializer(
    "TokenOutput",
    {"access": serializers.CharField(), "access_expires_at": serializers.DateTimeField()},
)
_NO_CONTENT = {204: OpenApiResponse(description="Done.")}


def _token_response(issued: sessions.IssuedTokens, *, with_user: bool) -> Response:
    body: dict[str, Any] = {
        "access": issued.access,
        "access_expires_at": issued.access_expires_at.isoformat(),
    }
    if with_user:
        body["user"] = UserOutput(issued.user).data
    response = Response(body)
    response["Cache-Control"] = "no-store"
    _set_refresh_cookie(response, issued)
    return response


class RegisterApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]

    @extend_schema(request=RegisterInput, responses={201: RegisteredUserOutput})
    def post(self, request: Request) -> Response:
        if not settings.ALLOW_SIGNUP:
            raise ApiError(403, "signup_disabled", "Registration is closed.")
        data = _validated(RegisterInput, request)
        verification.registration_email_check(email=data["email"])
        user = services.user_register(**data)
        verification.user_registered(user=user, request=request._request)
        return Response(RegisteredUserOutput(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(APIView):
    # No authentication: a stale Authorization header must not break a login.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=LoginInput,
        responses={
            200: PolymorphicProxySerializer(
                "LoginOutput", [_TOKEN_OUTPUT, MFA_REQUIRED_OUTPUT], resource_type_field_name=None
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(LoginInput, request)
        # With TOTP on, the password alone gives no session (accounts/mfa.py).
        mfa_token = mfa.login_challenge(ip=client_ip(request), request=request._request, **data)
        if mfa_token is not None:
            body = {"mfa_required": True, "mfa_token": mfa_token}
            return Response(body, headers={"Cache-Control": "no-store"})
        issued = sessions.auth_login(
            username=data["username"],
            password=data["password"],
            ip=client_ip(request),
            request=request._request,
            user_agent=request.headers.get("User-Agent", ""),
            previous_refresh=request.COOKIES.get(settings.REFRESH_COOKIE_NAME),
        )
        return _token_response(issued, with_user=True)


class TokenRefreshApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RefreshThrottle]

    @extend_schema(request=None, responses={200: _TOKEN_OUTPUT})
    def post(self, request: Request) -> Response | JsonResponse:
        check_cookie_request(request)
        _require_object_body(request)
        raw = request.COOKIES.get(settings.REFRESH_COOKIE_NAME)
        if not raw:
            raise ApiError(401, "not_authenticated", "No refresh cookie.")
        try:
            issued = sessions.refresh_token_rotate(raw=raw, ip=client_ip(request))
        except ApiError as error:
            response = error_response(error)
            _clear_refresh_cookie(response)  # a dead cookie is of no use to anyone
            return response
        return _token_response(issued, with_user=False)


class LogoutApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses=_NO_CONTENT)
    def post(self, request: Request) -> Response:
        check_cookie_request(request)
        _require_object_body(request)
        sessions.logout(raw=request.COOKIES.get(settings.REFRESH_COOKIE_NAME))
        response = Response(status=status.HTTP_204_NO_CONTENT)
        _clear_refresh_cookie(response)
        return response


class LogoutAllApi(APIView):
    """Bearer only (API keys are refused: no ``required_scope``). Ends every session,
    this one included; ``revoke_api_keys`` also revokes every API key."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=LogoutAllInput, responses=_NO_CONTENT)
    def post(self, request: Request) -> Response:
        _require_object_body(request)
        data = _validated(LogoutAllInput, request)
        services.user_sessions_revoke(
            user=drf_user(request), revoke_api_keys=data["revoke_api_keys"]
        )
        response = Response(status=status.HTTP_204_NO_CONTENT)
        _clear_refresh_cookie(response)
        return response


class MeApi(APIView):
    permission_classes = [IsAuthenticated]
    required_scope = ANY_SCOPE

    @extend_schema(responses=UserOutput)
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)


class ApiKeyListCreateApi(APIView):
    """GET: Bearer, or a key with ``keys:read``. POST: Bearer only (a key cannot mint keys)."""

    permission_classes = [IsAuthenticated]
    required_scope = {"GET": Scope.KEYS_READ}

    @extend_schema(responses=ApiKeyPageOutput)
    def get(self, request: Request) -> Response:
        keys = selectors.api_key_list(user=drf_user(request))
        return Response(
            {"results": ApiKeyOutput(keys, many=True).data, "next": None, "previous": None}
        )

    @extend_schema(request=ApiKeyCreateInput, responses={201: ApiKeyCreatedOutput})
    def post(self, request: Request) -> Response:
        data = _validated(ApiKeyCreateInput, request)
        key, plaintext = api_key_services.user_api_key_create(
            user=drf_user(request), ip=client_ip(request), **data
        )
        body = {**ApiKeyOutput(key).data, "key": plaintext}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ApiKeyRevokeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=_NO_CONTENT)
    def delete(self, request: Request, key_id: int) -> Response:
        key = selectors.api_key_get(user=drf_user(request), key_id=key_id)
        api_key_services.api_key_revoke(api_key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionListApi(APIView):
    """Bearer only: the caller's live sessions (token families), newest first."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=SessionListOutput)
    def get(self, request: Request) -> Response:
        current = drf_principal(request).session_id
        families = selectors.session_list(user=drf_user(request))
        rows = [
            {
                "id": family.pk,
                "created_at": family.created_at,
                "last_used_at": family.last_used_at,
                "user_agent": family.user_agent,
                "ip": family.ip,
                "current": family.pk == current,
            }
            for family in families
        ]
        return Response({"results": SessionOutput(rows, many=True).data})


class SessionRevokeApi(APIView):
    """Bearer only: end one of the caller's sessions; its refresh cookie and access
    tokens are refused from then on. Anyone else's session id is 404."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=_NO_CONTENT)
    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        services.session_revoke(user=drf_user(request), session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    """Bearer only. Every other session ends; this one keeps its access token and
    refresh cookie."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=PasswordChangeInput, responses=_NO_CONTENT)
    def post(self, request: Request) -> Response:
        data = _validated(PasswordChangeInput, request)
        services.user_password_change_checked(
            user=drf_user(request),
            current_password=data["current_password"],
            new_password=data["new_password"],
            revoke_api_keys=data["revoke_api_keys"],
            ip=client_ip(request),
            current_session=drf_principal(request).session_id,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
