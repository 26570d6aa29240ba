"""The conversations API (DRF): list, read, rename, delete, and the stored items."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.drf import HasScope
from chat import selectors, services
from chat.models import Conversation
from chat.views import CHAT_SCOPE
from chatproject.fields import StrictCharField

TRUNCATED_HEADER = "X-Items-Truncated"


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
        child=serializers.DictField(),
        help_text="`Message` objects (docs/api.md), oldest first.",
    )


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


class ConversationItemsApi(_ConversationApi):
    @extend_schema(
        operation_id="conversations_items",
        description=(
            "The conversation's stored Agents SDK input items (the `to_input_list()` "
            "form), oldest first. At most `CHAT_ITEMS_MAX`: a longer history gives the "
            "most recent ones, starting at a user message, with `X-Items-Truncated: 1`."
        ),
        parameters=[
            OpenApiParameter(
                TRUNCATED_HEADER,
                str,
                location=OpenApiParameter.HEADER,
                response=[200],
                enum=["1"],
                description="Present (`1`) when older items were left out.",
            )
        ],
        responses={
            200: OpenApiResponse(
                response={
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": True},
                },
                description="Input items, oldest first.",
            )
        },
    )
    def get(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get(
            user=request.user, conversation_id=conversation_id
        )
        items, truncated = selectors.conversation_items(
            conversation=conversation, limit=settings.CHAT_ITEMS_MAX
        )
        response = Response(items)
        if truncated:
            response[TRUNCATED_HEADER] = "1"
        return response
