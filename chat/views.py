"""Chat endpoints: the SSE stream and background runs (plain async views), the
conversations API (DRF), config.

``POST /api/chat`` and the ``/api/runs`` endpoints are plain ``async def``
Django views: DRF 3.18 has no async views, and a sync view would buffer the
whole stream (DESIGN.md traps). Everything that can fail as an ordinary HTTP
error -- size, credentials, input, ownership, a run already in flight -- is
decided before the first byte.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import HasScope, authenticate_request
from chat import events, runs, selectors, services
from chat.agent import model_config
from chat.models import Conversation
from chat.streaming import ChatTurn, TurnStream
from chatproject.errors import ApiError, error_response

CHAT_SCOPE = "chat"


# --------------------------------------------------------------------------
# POST /api/chat
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatInput:
    message: str
    conversation_id: uuid.UUID | None


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", errors={field: [message]})


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


def parse_chat_input(body: bytes) -> ChatInput:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "parse_error", "The body must be JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "parse_error", "The body must be a JSON object.")

    message = data.get("message")
    if message is None:
        raise _invalid("message", "This field is required.")
    if not isinstance(message, str):
        raise _invalid("message", "Must be a string.")
    if not message.strip():
        raise _invalid("message", "May not be blank.")
    if "\x00" in message:
        raise _invalid("message", "May not contain NUL characters.")
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") is valid JSON, not text
        raise _invalid("message", "Must be valid Unicode text.") from None
    if len(message) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise _invalid(
            "message",
            f"Ensure this field has no more than {settings.CHAT_MAX_MESSAGE_CHARS} characters.",
        )

    raw_id = data.get("conversation_id")
    conversation_id = None
    if raw_id is not None:
        if not isinstance(raw_id, str):
            raise _invalid("conversation_id", "Must be a string (a conversation id) or null.")
        try:
            conversation_id = uuid.UUID(raw_id)
        except ValueError:
            raise _invalid("conversation_id", "Must be a valid UUID.") from None
    return ChatInput(message=message, conversation_id=conversation_id)


def sse_response(content: Any) -> StreamingHttpResponse:
    response = StreamingHttpResponse(content, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    # nginx and friends: do not buffer this response.
    response["X-Accel-Buffering"] = "no"
    return response


def _method_not_allowed(request: HttpRequest, allowed: str) -> JsonResponse | None:
    if request.method == allowed:
        return None
    response = JsonResponse(
        {"detail": f'Method "{request.method}" not allowed.', "code": "method_not_allowed"},
        status=405,
    )
    response["Allow"] = allowed
    return response


async def _start_turn(request: HttpRequest) -> tuple[services.TurnStart, ChatInput, object]:
    """What ``/api/chat`` and ``/api/runs`` share: size, credentials, input, the claim."""
    body = _read_body(request)
    principal = await authenticate_request(request, scope=CHAT_SCOPE)
    data = parse_chat_input(body)
    start = await services.turn_start(
        user=principal.user, message=data.message, conversation_id=data.conversation_id
    )
    return start, data, principal.user


@csrf_exempt
async def chat_stream(request: HttpRequest) -> HttpResponseBase:
    """``POST /api/chat`` ``{message, conversation_id?}`` -> ``text/event-stream``."""
    if (refused := _method_not_allowed(request, "POST")) is not None:
        return refused
    try:
        start, data, _user = await _start_turn(request)
    except ApiError as error:
        return error_response(error)
    return sse_response(TurnStream(ChatTurn(start, data.message)))


# --------------------------------------------------------------------------
# Background runs: POST /api/runs, GET /api/runs/<id>/events, POST .../cancel
# --------------------------------------------------------------------------


@csrf_exempt
async def run_create(request: HttpRequest) -> HttpResponse:
    """``POST /api/runs`` ``{message, conversation_id?}`` -> 202 ``{runId, conversation_id}``."""
    if (refused := _method_not_allowed(request, "POST")) is not None:
        return refused
    try:
        start, data, user = await _start_turn(request)
        run = await runs.run_start(user=user, start=start, message=data.message)
    except ApiError as error:
        return error_response(error)
    return JsonResponse({"runId": run.run_id, "conversation_id": run.conversation_id}, status=202)


def parse_last_event_id(request: HttpRequest) -> int:
    """``Last-Event-ID`` (what ``EventSource`` sends on reconnect) or ``?last_event_id=``."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None or not raw.strip():
        raw = request.GET.get("last_event_id")
    if raw is None or not raw.strip():
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise _invalid("last_event_id", "Must be a non-negative integer (an event id).")
    return value


async def _run_events(run_id: str, after: int) -> AsyncIterator[bytes]:
    expired = events.StreamError(
        "run_expired", "This run's events are no longer available.", False
    ).event()
    async for result in runs.follow(run_id, after, settings.CHAT_PING_MS / 1000):
        if result.entries:
            yield b"".join([events.sse_with_id(n, item) for n, item in result.entries])
        elif result.end is None:
            yield events.PING
        if result.end == runs.GONE:
            yield events.sse(expired)
    yield events.DONE


@csrf_exempt
async def run_events(request: HttpRequest, run_id: str) -> HttpResponseBase:
    """``GET /api/runs/<runId>/events``: replay after ``Last-Event-ID``, then live."""
    if (refused := _method_not_allowed(request, "GET")) is not None:
        return refused
    try:
        principal = await authenticate_request(request, scope=CHAT_SCOPE)
        run = await runs.run_get(user=principal.user, run_id=run_id)
        after = parse_last_event_id(request)
    except ApiError as error:
        return error_response(error)
    return sse_response(_run_events(run.run_id, after))


@csrf_exempt
async def run_cancel(request: HttpRequest, run_id: str) -> HttpResponse:
    """``POST /api/runs/<runId>/cancel`` -> 202 ``{status}``; idempotent."""
    if (refused := _method_not_allowed(request, "POST")) is not None:
        return refused
    try:
        principal = await authenticate_request(request, scope=CHAT_SCOPE)
        run = await runs.run_get(user=principal.user, run_id=run_id)
    except ApiError as error:
        return error_response(error)
    status = await runs.run_cancel(run=run)
    return JsonResponse({"runId": run.run_id, "status": status}, status=202)


# --------------------------------------------------------------------------
# GET /api/config
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------


class ConversationPagination(CursorPagination):
    ordering = ("-updated_at", "-id")
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"


class ConversationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ConversationPageOutput(serializers.Serializer):
    results = ConversationOutput(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class ConversationDetailOutput(ConversationOutput):
    messages = serializers.ListField(
        child=serializers.DictField(), help_text="DESIGN.md ``Message`` objects, oldest first."
    )


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of coercing them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ConversationRenameInput(serializers.Serializer):
    title = StrictCharField(max_length=services.TITLE_MAX_CHARS, trim_whitespace=True)


class _ConversationApi(APIView):
    permission_classes = [IsAuthenticated, HasScope]
    required_scope = CHAT_SCOPE


class ConversationListApi(_ConversationApi):
    @extend_schema(
        operation_id="conversations_list",
        parameters=[
            OpenApiParameter("cursor", str, description="From `next` or `previous`."),
            OpenApiParameter("page_size", int, description="1-100, default 20."),
        ],
        responses=ConversationPageOutput,
    )
    def get(self, request: Request) -> Response:
        paginator = ConversationPagination()
        page = paginator.paginate_queryset(
            selectors.conversation_list(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(ConversationOutput(page, many=True).data)


class ConversationDetailApi(_ConversationApi):
    def _detail(self, conversation: Conversation) -> dict[str, Any]:
        return {
            **ConversationOutput(conversation).data,
            "messages": selectors.conversation_messages(conversation=conversation),
        }

    @extend_schema(operation_id="conversations_retrieve", responses=ConversationDetailOutput)
    def get(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get(
            user=request.user, conversation_id=conversation_id
        )
        return Response(self._detail(conversation))

    @extend_schema(request=ConversationRenameInput, responses=ConversationDetailOutput)
    def patch(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get(
            user=request.user, conversation_id=conversation_id
        )
        data = ConversationRenameInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_rename(
            conversation=conversation, title=data.validated_data["title"]
        )
        return Response(self._detail(conversation))

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get(
            user=request.user, conversation_id=conversation_id
        )
        services.conversation_delete(conversation=conversation)
        return Response(status=status.HTTP_204_NO_CONTENT)
