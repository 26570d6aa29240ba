"""The one authenticator: "who is this request?" for every entry point.

- DRF views: ``JWTAuthentication`` (first, so a 401 carries
  ``WWW-Authenticate: Bearer realm="api"``) and ``ApiKeyAuthentication``, with
  the ``HasScope`` permission, in ``accounts.drf``; they call the sync path here.
- Plain async Django views (the SSE chat view): ``await authenticate_request(request)``.
- Channels WebSocket scopes: ``await authenticate_scope(scope)``.

All three read the same credentials and apply the same rules, with the same
error codes: ``not_authenticated``, ``token_not_valid``, ``token_revoked``,
``api_key_invalid``, ``user_inactive`` (401), ``ambiguous_credentials`` (400, a
Bearer token and an API key on one request), ``insufficient_scope`` (403), and on
the chat scope ``email_unverified`` (403, with ``REQUIRE_EMAIL_VERIFICATION``:
accounts/verification.py).

Revocation is immediate: an access token carries its session (token family) id
in the ``fam`` claim, and the one query that reads the user reads the session
with it (session joined with its user). A session that has ended (logout,
logout-all, reuse detection, password change, deactivation, the sessions page)
or whose password fingerprint no longer matches (a password set by any path)
gives 401 ``token_revoked`` from the next request on, in every process. Every
entry point, and a WebSocket that re-authenticates before each turn, goes
through these functions. An access token without ``fam`` is never issued by the
login endpoints (only ``AccessToken.for_user`` in scripts and tests makes one):
it is checked against the user alone.

Cost per request: a JWT is verified on the CPU and costs one query (its session
joined with the user); an API key costs one query (key joined with its user)
plus, at most once a minute per key, an ``UPDATE`` of ``last_used_at``. The
async paths run the lookup and its rules as one job on ``chatproject.db``'s
threads, whose connections stay open: a query, not a connection, per request;
a caller may add a read of its own to that job (``then``: the chat views read
the usage limits there).

API keys are opt-in per view: a DRF view accepts a key only if it declares
``required_scope`` (a scope, ``ANY_SCOPE``, or a ``{method: scope}`` dict:
``accounts.drf``); an async view or a WebSocket passes the scope it needs.
JWT users (the browser) have every scope.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts import apikeys, tokens, verification
from accounts.models import ApiKey, TokenFamily, User, password_fingerprint
from chatproject import db
from chatproject.errors import ApiError

logger = logging.getLogger(__name__)

ANY_SCOPE = "*"

# A read run in the authentication's own database job (``aauthenticate_credentials``).
Then = Callable[["Principal"], Any]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``scopes is None`` means a JWT user: every scope."""

    user: User
    api_key: ApiKey | None
    scopes: frozenset[str] | None
    # When the access token expires (JWT only): a WebSocket closes then.
    token_expires_at: datetime | None = None
    # The session (token family) the access token belongs to (JWT only).
    session_id: uuid.UUID | None = None
    # What the caller's ``then`` read in the authentication's database job, if any.
    prefetched: Any = None

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope == ANY_SCOPE or scope in self.scopes


@dataclass(frozen=True)
class _Credentials:
    kind: Literal["jwt", "api_key"]
    value: str


def not_authenticated() -> ApiError:
    return ApiError(401, "not_authenticated", "Authentication credentials were not provided.")


def token_revoked() -> ApiError:
    return ApiError(401, "token_revoked", "This session has ended; log in again.")


def user_inactive() -> ApiError:
    return ApiError(401, "user_inactive", "This account is inactive.")


def insufficient_scope(scope: str | None) -> ApiError:
    if scope is None:
        return ApiError(403, "insufficient_scope", "This endpoint does not accept API keys.")
    return ApiError(403, "insufficient_scope", f"This API key lacks the '{scope}' scope.")


def _read_credentials(authorization: str | None, api_key: str | None) -> _Credentials | None:
    authorization = (authorization or "").strip()
    api_key = (api_key or "").strip()
    if authorization and api_key:
        raise ApiError(
            400, "ambiguous_credentials", "Send either a Bearer token or an API key, not both."
        )
    if api_key:
        return _Credentials("api_key", api_key)
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise ApiError(
            401,
            "not_authenticated",
            "Use 'Authorization: Bearer <access token>' or an 'X-API-Key' header.",
        )
    return _Credentials("jwt", token.strip())


# --------------------------------------------------------------------------
# The rules, shared by the sync and async paths (no I/O here)
# --------------------------------------------------------------------------


def _session_id_of(payload: dict[str, Any]) -> uuid.UUID | None:
    """The access token's session id; None for a token minted without one."""
    if "fam" not in payload:
        return None
    try:
        return uuid.UUID(str(payload["fam"]))
    except ValueError:
        raise tokens.token_invalid() from None


@dataclass(frozen=True)
class _Session:
    """What the per-request query returns about a token's session."""

    revoked: bool
    password_fingerprint: str
    password_hash: str

    def check(self) -> None:
        if self.revoked or not hmac.compare_digest(
            self.password_fingerprint, password_fingerprint(self.password_hash)
        ):
            raise token_revoked()


def _jwt_principal(
    user: User | None, payload: dict[str, Any], session: _Session | None = None
) -> Principal:
    if user is None:
        raise tokens.token_invalid("User not found.")
    session_id = _session_id_of(payload)
    if session_id is not None:
        if session is None:
            raise tokens.token_invalid("Unknown session.")
        session.check()  # before is_active: deactivation ends the sessions too
    if not user.is_active:
        raise user_inactive()
    return Principal(
        user=user,
        api_key=None,
        scopes=None,
        token_expires_at=tokens.expiry_of(payload),
        session_id=session_id,
    )


def _key_principal(key: ApiKey | None, plaintext: str, now: datetime) -> Principal:
    if key is None or not hmac.compare_digest(key.digest, apikeys.digest(plaintext)):
        raise apikeys.api_key_invalid()
    if key.revoked_at is not None:
        raise apikeys.api_key_invalid("This API key has been revoked.")
    if key.is_expired(now):
        raise apikeys.api_key_invalid("This API key has expired.")
    if not key.user.is_active:
        raise user_inactive()
    return Principal(user=key.user, api_key=key, scopes=frozenset(key.scopes))


def _require_scope(principal: Principal, scope: str | None) -> None:
    if scope is not None and not principal.has_scope(scope):
        raise insufficient_scope(scope)


def _stale_use_filter(key: ApiKey | None, now: datetime) -> Q | None:
    """The ``UPDATE`` condition for ``last_used_at``, or None when it is fresh enough
    (or there is no key). The condition repeats the check in SQL, so many workers
    write at most once."""
    if key is None:
        return None
    interval = timedelta(seconds=settings.API_KEY_LAST_USED_INTERVAL)
    if key.last_used_at is not None and key.last_used_at > now - interval:
        return None
    return Q(pk=key.pk) & (Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval))


def _user(user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()


# The session join as SQL, per database vendor (see ``_session_user``).
_SESSION_USER_SQL: dict[str, str] = {}


def _session_user_sql(connection: Any) -> str:
    sql = _SESSION_USER_SQL.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        users, families = quote(User._meta.db_table), quote(TokenFamily._meta.db_table)

        def column(model: Any, name: str) -> str:
            return quote(model._meta.get_field(name).column)

        user_columns = ", ".join(
            f"{users}.{quote(field.column)}" for field in User._meta.concrete_fields
        )
        # Identifiers from the models, quoted by the backend; the ids are parameters.
        sql = (
            f"SELECT {user_columns}, {families}.{column(TokenFamily, 'revoked_at')} "  # noqa: S608
            f"AS session_revoked_at, {families}.{column(TokenFamily, 'password_fingerprint')} "
            f"AS session_password_fingerprint FROM {families} INNER JOIN {users} "
            f"ON {users}.{quote(User._meta.pk.column)} = {families}.{column(TokenFamily, 'user')} "
            f"WHERE {families}.{quote(TokenFamily._meta.pk.column)} = %s "
            f"AND {families}.{column(TokenFamily, 'user')} = %s"
        )
        _SESSION_USER_SQL[connection.vendor] = sql
    return sql


def _session_user(user_id: int, session_id: uuid.UUID) -> tuple[User | None, _Session | None]:
    """The token's session and its user's whole row, in one query (a join), for
    DRF and async views alike (a deferred field read from async code would fail).

    Every request pays this, and building the joined query through the ORM costs
    several times what the database needs to answer it: the statement is built
    once per database vendor from the models instead, and ``raw()`` turns
    the row into a ``User`` (the backend's converters applied) with the session's
    two columns beside it (docs/performance.md, "The per-request session join").
    ``tests/accounts/test_revocation.py`` checks it agrees with the ORM's join.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    session_key = TokenFamily._meta.pk.get_db_prep_value(session_id, connection)
    rows = list(User.objects.raw(_session_user_sql(connection), [session_key, user_id]))
    if not rows:
        return None, None
    user = rows[0]
    # raw() sets the session's two columns as attributes of the user: take them off.
    revoked_at = user.__dict__.pop("session_revoked_at")
    fingerprint = user.__dict__.pop("session_password_fingerprint")
    session = _Session(
        revoked=revoked_at is not None,
        password_fingerprint=fingerprint,
        password_hash=user.password,
    )
    return user, session


def _jwt_authenticate(payload: dict[str, Any]) -> Principal:
    """Sync: the JWT rules with their one query."""
    user_id, session_id = tokens.user_id_of(payload), _session_id_of(payload)
    if session_id is None:
        return _jwt_principal(_user(user_id), payload)
    user, session = _session_user(user_id, session_id)
    return _jwt_principal(user, payload, session)


def _key_authenticate(plaintext: str, now: datetime) -> Principal:
    """Sync: the API key rules with their one query."""
    key = ApiKey.objects.select_related("user").filter(prefix=apikeys.prefix_of(plaintext)).first()
    return _key_principal(key, plaintext, now)


def _mark_used(condition: Q, now: datetime) -> None:
    ApiKey.objects.filter(condition).update(last_used_at=now)


def authenticate_credentials(credentials: _Credentials) -> Principal:
    """Sync path (DRF views, which run in a thread)."""
    now = timezone.now()
    if credentials.kind == "jwt":
        return _jwt_authenticate(tokens.decode(credentials.value, kind="access"))
    principal = _key_authenticate(credentials.value, now)
    stale = _stale_use_filter(principal.api_key, now)
    if stale is not None:
        _mark_used(stale, now)
    return principal


# Background last_used_at writes: strong references, so tasks are not collected.
_background: set[asyncio.Task] = set()


async def _touch(condition: Q, now: datetime) -> None:
    try:
        await db.run(_mark_used, condition, now)
    except Exception:  # never fail a request over a usage timestamp
        logger.exception("could not record API key use")


def _job(authenticate: Callable[..., Principal], then: Then | None, *args: Any) -> Principal:
    principal = authenticate(*args)
    return principal if then is None else replace(principal, prefetched=then(principal))


async def aauthenticate_credentials(
    credentials: _Credentials, *, then: Then | None = None
) -> Principal:
    """Async path: signature checks on the loop, the lookup and its rules in one job on
    ``chatproject.db``'s threads. ``then(principal)``, if given, runs in that same job
    once the credentials are valid (a read the caller needs next, without a second
    hand-over to the threads); its result is ``principal.prefetched``."""
    now = timezone.now()
    if credentials.kind == "jwt":
        payload = tokens.decode(credentials.value, kind="access")
        return await db.run(_job, _jwt_authenticate, then, payload)
    principal = await db.run(_job, _key_authenticate, then, credentials.value, now)
    stale = _stale_use_filter(principal.api_key, now)
    if stale is not None:
        task = asyncio.get_running_loop().create_task(_touch(stale, now))
        _background.add(task)
        task.add_done_callback(_background.discard)
    return principal


async def authenticate_request(
    request: HttpRequest, *, scope: str | None = None, then: Then | None = None
) -> Principal:
    """Authenticate a plain (async) Django request; raise ``ApiError`` otherwise.

    ``scope`` is what an API key must carry for this endpoint (JWT users have all);
    ``then``: see ``aauthenticate_credentials`` (it runs before the scope check, so
    it must only read).
    """
    credentials = _read_credentials(
        request.headers.get("Authorization"), request.headers.get("X-API-Key")
    )
    if credentials is None:
        raise not_authenticated()
    principal = await aauthenticate_credentials(credentials, then=then)
    _require_scope(principal, scope)
    await verification.chat_allowed_check(user=principal.user, scope=scope)
    # As DRF does for its views: the request log line names the user.
    request.user = principal.user
    return principal


def _scope_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    headers: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return {name: ", ".join(values) for name, values in headers.items()}


def websocket_bearer_token(protocols: str | None) -> str | None:
    """The token in ``Sec-WebSocket-Protocol: bearer, <access>``, if that is how it came."""
    items = [item.strip() for item in (protocols or "").split(",")]
    if len(items) >= 2 and items[0].lower() == "bearer":
        return items[1]
    return None


async def authenticate_scope(
    scope: Mapping[str, Any], *, required_scope: str | None = None
) -> Principal:
    """Authenticate a Channels WebSocket scope. The browser sends its access token as
    ``Sec-WebSocket-Protocol: bearer, <access>`` (never in the query string, which
    access logs keep); scripts may send ``Authorization`` or ``X-API-Key``."""
    headers = _scope_headers(scope)
    authorization = headers.get("authorization")
    token = websocket_bearer_token(headers.get("sec-websocket-protocol"))
    if token is not None:
        if authorization:
            raise ApiError(400, "ambiguous_credentials", "Send the token once, not in two headers.")
        authorization = f"Bearer {token}"
    credentials = _read_credentials(authorization, headers.get("x-api-key"))
    if credentials is None:
        raise not_authenticated()
    principal = await aauthenticate_credentials(credentials)
    _require_scope(principal, required_scope)
    await verification.chat_allowed_check(user=principal.user, scope=required_scope)
    return principal
