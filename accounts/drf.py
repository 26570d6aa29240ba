"""The authenticator's DRF integration: the authentication classes named in
``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``, the ``HasScope`` permission
and the helpers views use to read who called.

- ``JWTAuthentication`` (first, so a 401 carries
  ``WWW-Authenticate: Bearer realm="api"``) and ``ApiKeyAuthentication`` apply
  the rules of ``accounts.authentication``, with its error codes; an ``ApiError``
  reaches DRF as an ``APIException`` (``_AuthError``).
- API keys are opt-in per view: a view accepts a key only if it declares
  ``required_scope`` (a scope, ``ANY_SCOPE``, or a ``{method: scope}`` dict).
  JWT users (the browser) have every scope.
- ``drf_user`` and ``drf_principal``: the caller of an authenticated request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from accounts import tokens
from accounts.authentication import (
    Principal,
    _Credentials,
    _jwt_authenticate,
    _read_credentials,
    _require_scope,
    _session_id_of,
    authenticate_credentials,
    insufficient_scope,
)
from accounts.models import ApiKey, User
from chatproject.errors import WWW_AUTHENTICATE, ApiError

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class _AuthError(exceptions.APIException):
    """An ``ApiError`` raised inside DRF authentication. DRF only resets the request's
    user for ``APIException``s, so the error is carried in one."""

    def __init__(self, error: ApiError) -> None:
        self.status_code = error.status
        super().__init__(detail=error.detail, code=error.code)


def _drf_credentials(request: Request) -> _Credentials | None:
    try:
        return _read_credentials(
            request.META.get("HTTP_AUTHORIZATION"), request.META.get("HTTP_X_API_KEY")
        )
    except ApiError as error:
        raise _AuthError(error) from None


def required_scope_of(view: Any, method: str | None) -> str | None:
    """What a view asks of an API key: a scope, ``ANY_SCOPE``, or None (keys refused)."""
    required = getattr(view, "required_scope", None)
    if isinstance(required, dict):
        required = required.get("GET" if method == "HEAD" else method)
    return required


def drf_user(request: Request) -> User:
    """``request.user`` of an authenticated DRF request (``IsAuthenticated`` views)."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user


def drf_principal(request: Request) -> Principal:
    """The ``Principal`` of an authenticated DRF request."""
    user = drf_user(request)
    if isinstance(request.auth, ApiKey):
        return Principal(user=user, api_key=request.auth, scopes=frozenset(request.auth.scopes))
    payload = request.auth if isinstance(request.auth, dict) else None
    return Principal(
        user=user,
        api_key=None,
        scopes=None,
        token_expires_at=tokens.expiry_of(payload) if payload else None,
        session_id=_session_id_of(payload) if payload else None,
    )


class JWTAuthentication(BaseAuthentication):
    """``Authorization: Bearer <access>``. ``request.auth`` is the token's claims."""

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]] | None:
        credentials = _drf_credentials(request)
        if credentials is None or credentials.kind != "jwt":
            return None
        try:
            payload = tokens.decode(credentials.value, kind="access")
            principal = _jwt_authenticate(payload)
        except ApiError as error:
            raise _AuthError(error) from None
        return principal.user, payload

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


class ApiKeyAuthentication(BaseAuthentication):
    """``X-API-Key: sk_…``: ``request.user`` is the key's owner, ``request.auth`` the key.
    Only views that declare ``required_scope`` accept keys."""

    def authenticate(self, request: Request) -> tuple[User, ApiKey | None] | None:
        credentials = _drf_credentials(request)
        if credentials is None or credentials.kind != "api_key":
            return None
        try:
            principal = authenticate_credentials(credentials)
            view = (request.parser_context or {}).get("view")
            required = required_scope_of(view, request.method)
            if required is None:
                raise insufficient_scope(None)
            _require_scope(principal, required)
        except ApiError as error:
            raise _AuthError(error) from None
        return principal.user, principal.api_key

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


class HasScope(BasePermission):
    """Allow JWT users, and API keys that carry the view's ``required_scope``."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        required = required_scope_of(view, request.method)
        if required is None or not drf_principal(request).has_scope(required):
            raise _AuthError(insufficient_scope(required))
        return True
