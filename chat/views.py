"""The streaming endpoints and ``/api/config``: plain ``async def`` Django views.

``POST /api/chat`` and the ``/api/runs`` endpoints are not DRF views: DRF 3.18
has no async views, and a sync view would buffer the whole stream under ASGI.
``async_api`` (``turn_api`` for the two that start a turn) gives them what DRF
gives the others -- the method check, the body size limit, authentication and
``ApiError`` answers -- so everything that
can fail as an ordinary HTTP error (size, credentials, input, ownership, a run
already in flight) is decided before the first byte.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from accounts.authentication import Principal, authenticate_request
from accounts.tokens import bearer_access_verifies
from chat import runs, sse
from chat.agent import model_config
from chat.inputs import ChatInput, chat_input, event_id, json_object
from chat.turn import ChatTurn, turn_begin, turn_prepare
from chatproject.errors import ApiError, error_response
from usage.turns import admission_prefetch

CHAT_SCOPE = "chat"

P = ParamSpec("P")
AsyncView = Callable[Concatenate[HttpRequest, Principal, bytes, P], Awaitable[HttpResponseBase]]
TurnView = Callable[[HttpRequest, Principal, "ChatTurn"], Awaitable[HttpResponseBase]]


def _read_body(request: HttpRequest) -> bytes:
    """The body, or 413 -- by the declared length first, then by what actually came."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    too_large = ApiError(413, "request_too_large", "Request body too large.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "parse_error", "Invalid Content-Length.") from None
    if declared > limit:
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


def _method_not_allowed(request: HttpRequest, allowed: str) -> JsonResponse:
    response = JsonResponse(
        {"detail": f'Method "{request.method}" not allowed.', "code": "method_not_allowed"},
        status=405,
    )
    response["Allow"] = allowed
    return response


def _endpoint(
    method: str, handle: Callable[..., Awaitable[HttpResponseBase]]
) -> Callable[..., Coroutine[Any, Any, HttpResponseBase]]:
    """``method`` only, the body's size checked (413) before anything else, and an
    ``ApiError`` answered in the one error shape; ``handle(request, body, ...)``."""

    @csrf_exempt
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != method:
            return _method_not_allowed(request, method)
        try:
            body = _read_body(request) if method == "POST" else b""
            return await handle(request, body, *args, **kwargs)
        except ApiError as error:
            return error_response(error)

    return wrapper


def async_api(
    method: str, *, scope: str = CHAT_SCOPE
) -> Callable[[AsyncView[P]], Callable[..., Coroutine[Any, Any, HttpResponseBase]]]:
    """An async API view: ``method`` only, the body's size checked (413) before the
    credentials, the caller authenticated (an API key needs ``scope``), and an
    ``ApiError`` from the view answered in the one error shape. The view gets
    ``(request, principal, body, **url_kwargs)``."""

    def decorate(view: AsyncView[P]) -> Callable[..., Coroutine[Any, Any, HttpResponseBase]]:
        async def handle(
            request: HttpRequest, body: bytes, *args: P.args, **kwargs: P.kwargs
        ) -> HttpResponseBase:
            principal = await authenticate_request(request, scope=scope)
            return await view(request, principal, body, *args, **kwargs)

        return functools.wraps(view)(_endpoint(method, handle))

    return decorate


def turn_api(
    view: TurnView,
) -> Callable[..., Coroutine[Any, Any, HttpResponseBase]]:
    """A ``POST`` view that starts a turn: as ``async_api("POST")``, and the view gets
    ``(request, principal, turn)``, the turn begun (``_begin``)."""

    async def handle(request: HttpRequest, body: bytes) -> HttpResponseBase:
        principal, turn = await _begin(request, body)
        return await view(request, principal, turn)

    return functools.wraps(view)(_endpoint("POST", handle))


# Turns of this process between their request's arrival and ``turn_begin``'s
# return (``_begin``).
_beginning = 0


async def _begin(request: HttpRequest, body: bytes) -> tuple[Principal, ChatTurn]:
    """Authenticate (the usage limits' facts read in the same database job), read
    the input, begin the turn. Errors keep their order: credentials, then input.

    When no other turn is beginning in this process and the access token
    verifies, a new conversation's agent is set up meanwhile (``turn_prepare``;
    its requests to the model wait for ``turn_begin``'s admission); otherwise
    nothing starts before the caller is authenticated. Only when alone: in a
    burst, agents set up early delay the other turns' checks more than they
    gain (docs/performance.md, "The agent set up while the turn is admitted")."""
    global _beginning
    data: ChatInput | None = None
    prepared: ChatTurn | None = None
    if not _beginning and bearer_access_verifies(request.headers.get("Authorization")):
        try:
            data = chat_input(json_object(body))
        except ApiError:
            pass  # answered once the credentials are checked
        else:
            prepared = turn_prepare(data)
    _beginning += 1
    try:
        principal = await authenticate_request(request, scope=CHAT_SCOPE, then=admission_prefetch)
        if data is None:
            data = chat_input(json_object(body))
        turn = await turn_begin(
            user=principal.user,
            data=data,
            api_key=principal.api_key,
            facts=principal.prefetched,
            prepared=prepared,
        )
    except BaseException:
        if prepared is not None:
            prepared.discard()  # never admitted: its held request is never sent
        raise
    finally:
        _beginning -= 1
    return principal, turn


@turn_api
async def chat_stream(
    request: HttpRequest, principal: Principal, turn: ChatTurn
) -> HttpResponseBase:
    """``POST /api/chat`` ``{message, conversation_id?, replace_last_turn?}`` ->
    ``text/event-stream``."""
    return sse.response(sse.TurnStream(turn))


@turn_api
async def run_create(
    request: HttpRequest, principal: Principal, turn: ChatTurn
) -> HttpResponseBase:
    """``POST /api/runs`` (the same body) -> 202 ``{runId, conversation_id}``."""
    run = await runs.run_start(user=principal.user, turn=turn)
    return JsonResponse({"runId": run.run_id, "conversation_id": run.conversation_id}, status=202)


@async_api("GET")
async def run_events(
    request: HttpRequest, principal: Principal, body: bytes, run_id: str
) -> HttpResponseBase:
    """``GET /api/runs/<runId>/events``: replay after ``Last-Event-ID`` (what
    ``EventSource`` sends on reconnect) or ``?last_event_id=``, then live."""
    run = await runs.run_get(user=principal.user, run_id=run_id)
    raw = request.headers.get("Last-Event-ID")
    if raw is None or not raw.strip():
        raw = request.GET.get("last_event_id")
    after = event_id(raw, field="last_event_id")
    return sse.response(sse.run_stream(run.run_id, after))


@async_api("POST")
async def run_cancel(
    request: HttpRequest, principal: Principal, body: bytes, run_id: str
) -> HttpResponseBase:
    """``POST /api/runs/<runId>/cancel`` -> 202 ``{runId, status}``; idempotent."""
    run = await runs.run_get(user=principal.user, run_id=run_id)
    status = await runs.run_cancel(run=run)
    return JsonResponse({"runId": run.run_id, "status": status}, status=202)


@require_safe
async def config(request: HttpRequest) -> JsonResponse:
    """What the frontend needs before login: can it sign up, which model answers."""
    model = model_config()
    return JsonResponse(
        {
            "signup_enabled": bool(getattr(settings, "ALLOW_SIGNUP", False)),
            "model": {"name": model.name, "api": model.api, "offline_demo": model.offline_demo},
        }
    )
