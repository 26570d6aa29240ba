"""``GET /api/usage``: the caller's own use today and the limits that apply to them."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.drf import HasScope, drf_principal
from accounts.models import Scope
from usage import selectors


class UsageTokens(serializers.Serializer):
    used = serializers.IntegerField(help_text="Input + output tokens today (UTC).")
    limit = serializers.IntegerField(allow_null=True, help_text="Null: unlimited.")
    resets_at = serializers.DateTimeField(help_text="The next midnight UTC.")


class UsageTurns(serializers.Serializer):
    last_minute = serializers.IntegerField(help_text="Turns started in the last 60 seconds.")
    per_minute_limit = serializers.IntegerField()


class UsageConcurrentTurns(serializers.Serializer):
    active = serializers.IntegerField(help_text="Replies being generated now.")
    limit = serializers.IntegerField()


class UsageKey(serializers.Serializer):
    id = serializers.IntegerField()
    used = serializers.IntegerField(help_text="This key's tokens today (UTC).")
    limit = serializers.IntegerField(allow_null=True, help_text="Null: no limit of its own.")


class UsageOutput(serializers.Serializer):
    tokens = UsageTokens()
    turns = UsageTurns()
    concurrent_turns = UsageConcurrentTurns()
    key = UsageKey(required=False, help_text="Only when the request uses an API key.")


class UsageApi(APIView):
    """Bearer, or an API key with the ``chat`` scope. Counted per user: a key sees its
    user's totals (which every key and the browser share) and its own."""

    permission_classes = [IsAuthenticated, HasScope]
    required_scope = Scope.CHAT

    @extend_schema(operation_id="usage_retrieve", responses=UsageOutput)
    def get(self, request: Request) -> Response:
        principal = drf_principal(request)
        body = selectors.usage_summary(
            user_id=principal.user.pk,
            api_key_id=principal.api_key.pk if principal.api_key is not None else None,
            now=timezone.now(),
        )
        return Response(body, headers={"Cache-Control": "no-store"})
