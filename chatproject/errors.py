"""One error type with a stable code, and the handlers that render it.

Every error the API returns has the shape ``{"detail": str, "code": str}``;
validation errors (400) add ``"errors": {field: [messages]}``. Clients and
tests rely on ``code``; ``detail`` is English for humans and may change.

``ApiError`` is what services and views raise. The DRF exception handler maps
it (and DRF's own exceptions) to a response; plain async Django views (the SSE
endpoint) call ``error_response`` directly.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

WWW_AUTHENTICATE = 'Bearer realm="api"'


class ApiError(Exception):
    """An expected failure with an HTTP status and a stable machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = errors
        if status == 401:
            self.headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse(error.payload(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _first_code(codes: Any) -> str:
    """DRF's ``get_codes()`` is a str, a list or a dict of those; take the first leaf."""
    while isinstance(codes, list | dict):
        if not codes:
            return "invalid"
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every error response gets ``detail`` and ``code``."""
    # Imported here: rest_framework.views resolves DEFAULT_AUTHENTICATION_CLASSES at
    # import time, and those classes (accounts.drf) import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, ApiError):
        return Response(exc.payload(), status=exc.status, headers=exc.headers)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "Request body too large.", "code": "request_too_large"}, status=413
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, drf_exceptions.APIException):
        return response

    if isinstance(exc, drf_exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            errors: Any = detail
            message = "Invalid input."
        else:
            errors = {"non_field_errors": detail}
            message = str(detail[0]) if isinstance(detail, list) and detail else "Invalid input."
        response.data = {
            "detail": message,
            "code": _first_code(exc.get_codes()) if not isinstance(detail, dict) else "invalid",
            "errors": errors,
        }
    else:
        response.data = {"detail": str(exc.detail), "code": _first_code(exc.get_codes())}
    if response.status_code == 401:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """``handler404``: JSON for every path (the SPA fallback catches client routes)."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    """``handler500``: never leak a traceback, even in the message."""
    return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)
