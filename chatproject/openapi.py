"""The parts of the OpenAPI schema drf-spectacular cannot see.

drf-spectacular documents DRF views. The streaming endpoints (``/api/chat``,
``/api/runs``), ``/api/config`` and the probes are plain async Django views
(DRF has no async views), so this postprocessing hook adds them, with the
stream's event types as schemas: a client generator gets the request body,
the error shape and every event it may read from the stream. The request
body is generated from the serializer the views validate with
(``chat.inputs.ChatInputSerializer``), so its limits are the settings'.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry
from rest_framework.views import APIView

JSON = "application/json"
SSE = "text/event-stream"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, **extra}


def _event(type_: str, properties: dict[str, Any], description: str) -> dict[str, Any]:
    return _object(
        {"type": {"type": "string", "enum": [type_]}, **properties},
        ["type", *properties],
        description=description,
    )


STRING = {"type": "string"}
INTEGER = {"type": "integer"}


def chat_request_schema(request: Any = None) -> dict[str, Any]:
    """``ChatInputSerializer`` as drf-spectacular maps a DRF view's request body."""
    from chat.inputs import ChatInputSerializer

    mapper = AutoSchema()
    mapper.registry = ComponentRegistry()
    mapper.method = "POST"
    mapper.view = APIView(request=request)
    return mapper.resolve_serializer(ChatInputSerializer, "request").schema


SCHEMAS: dict[str, Any] = {
    "ApiErrorBody": _object(
        {
            "detail": STRING,
            "code": STRING,
            "errors": {"type": "object", "additionalProperties": True},
        },
        ["detail", "code"],
    ),
    "ConversationEvent": _event(
        "conversation",
        {"id": {"type": "string", "format": "uuid"}, "title": STRING},
        "First event of every stream: the conversation the reply belongs to.",
    ),
    "TextDeltaEvent": _event("text_delta", {"delta": STRING}, "A piece of the reply text."),
    "ReasoningEvent": _event("reasoning", {"text": STRING}, "Reasoning summary text."),
    "ToolCallEvent": _event(
        "tool_call",
        {"tool_name": STRING, "argument": STRING, "call_id": STRING},
        "The agent calls a tool; `argument` is a JSON string.",
    ),
    "ToolResultEvent": _event(
        "tool_result", {"call_id": STRING, "output": STRING}, "A tool's output."
    ),
    "UsageEvent": _event(
        "usage",
        {"input_tokens": INTEGER, "output_tokens": INTEGER},
        "Token usage, at the end of a completed turn.",
    ),
    "ErrorEvent": _event(
        "error",
        {"code": STRING, "message": STRING, "retryable": {"type": "boolean"}},
        "A failure after the stream began; `[DONE]` follows.",
    ),
    "ModelInfo": _object(
        {"name": STRING, "api": STRING, "offline_demo": {"type": "boolean"}},
        ["name", "offline_demo"],
    ),
    "AppConfig": _object(
        {"signup_enabled": {"type": "boolean"}, "model": _ref("ModelInfo")},
        ["signup_enabled", "model"],
    ),
    "RunCreated": _object(
        {"runId": STRING, "conversation_id": {"type": "string", "format": "uuid"}},
        ["runId", "conversation_id"],
    ),
    "RunCancelled": _object({"status": STRING}, ["status"]),
    "Health": _object({"status": STRING}, ["status"], additionalProperties=True),
}
EVENT_NAMES = [
    "ConversationEvent",
    "TextDeltaEvent",
    "ReasoningEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "UsageEvent",
    "ErrorEvent",
]
SCHEMAS["StreamEvent"] = {
    "oneOf": [_ref(name) for name in EVENT_NAMES],
    "discriminator": {"propertyName": "type"},
    "description": "The JSON carried by each `data:` line of the stream.",
}

STREAM_DESCRIPTION = (
    "Server-Sent Events. Each event is one line `data: <StreamEvent JSON>` and a "
    "blank line; the stream always ends with `data: [DONE]`. Lines starting with "
    "`:` are keep-alive comments. Events, in order: `conversation` first, then "
    "`text_delta` / `reasoning` / `tool_call` / `tool_result` as the agent produces "
    "them, `usage` at the end of a completed turn, `error` on a failure after the "
    "stream began."
)


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("ApiErrorBody")}}}


AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyAuth": []}]
AUTH_ERRORS = {
    "400": _error(
        "Invalid input, or both a Bearer token and an API key (`ambiguous_credentials`)."
    ),
    "401": _error("Missing, invalid or expired credentials."),
    "403": _error("The API key lacks the `chat` scope (`insufficient_scope`)."),
}


# One Server-Sent Event as a client parses it (before OpenAPI 3.2's itemSchema,
# a text/event-stream schema describes each event): its data is a StreamEvent
# as JSON, or the closing [DONE].
SSE_EVENT = _object(
    {
        "data": {
            "oneOf": [
                {"type": "string", "enum": ["[DONE]"]},
                {
                    "type": "string",
                    "contentMediaType": JSON,
                    "contentSchema": _ref("StreamEvent"),
                    "not": {"enum": ["[DONE]"]},
                },
            ]
        },
        "event": {"type": "string", "enum": ["message"]},
        "id": STRING,
    },
    ["data"],
)


def _stream_response() -> dict[str, Any]:
    return {"description": STREAM_DESCRIPTION, "content": {SSE: {"schema": SSE_EVENT}}}


RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": STRING}

SHUTTING_DOWN = "This server is shutting down (`shutting_down`, with `Retry-After`): send it again."

PATHS: dict[str, Any] = {
    "/api/chat": {
        "post": {
            "operationId": "chat_stream",
            "tags": ["chat"],
            "summary": "Send a message and stream the agent's reply",
            "security": AUTH,
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("ChatRequest")}}},
            "responses": {
                "200": _stream_response(),
                **AUTH_ERRORS,
                "404": _error("Unknown conversation, or another user's."),
                "409": _error(
                    "A reply is already being generated in this conversation "
                    "(`run_in_progress`), or `replace_last_turn` found no message to "
                    "replace (`nothing_to_replace`)."
                ),
                "413": _error("Request body over 1 MB."),
                "503": _error(SHUTTING_DOWN),
            },
        }
    },
    "/api/runs": {
        "post": {
            "operationId": "run_create",
            "tags": ["runs"],
            "summary": "Start a background run (resumable stream)",
            "security": AUTH,
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("ChatRequest")}}},
            "responses": {
                "202": {
                    "description": "The run started.",
                    "content": {JSON: {"schema": _ref("RunCreated")}},
                },
                **AUTH_ERRORS,
                "404": _error("Unknown conversation, or another user's."),
                "409": _error(
                    "A reply is already being generated in this conversation "
                    "(`run_in_progress`), or `replace_last_turn` found no message to "
                    "replace (`nothing_to_replace`)."
                ),
                "413": _error("Request body over 1 MB."),
                "503": _error(
                    SHUTTING_DOWN + " Or background runs are unavailable (`runs_unavailable`)."
                ),
            },
        }
    },
    "/api/runs/{run_id}/events": {
        "get": {
            "operationId": "run_events",
            "tags": ["runs"],
            "summary": "The run's events; resume with Last-Event-ID",
            "security": AUTH,
            "parameters": [
                RUN_ID,
                {"name": "Last-Event-ID", "in": "header", "required": False, "schema": INTEGER},
                {"name": "last_event_id", "in": "query", "required": False, "schema": INTEGER},
            ],
            "responses": {
                "200": _stream_response(),
                **AUTH_ERRORS,
                "404": _error("Unknown run, or another user's."),
            },
        }
    },
    "/api/runs/{run_id}/cancel": {
        "post": {
            "operationId": "run_cancel",
            "tags": ["runs"],
            "summary": "Cancel a run (idempotent)",
            "security": AUTH,
            "parameters": [RUN_ID],
            "responses": {
                "202": {
                    "description": "Cancelled, or already finished.",
                    "content": {JSON: {"schema": _ref("RunCancelled")}},
                },
                **AUTH_ERRORS,
                "404": _error("Unknown run, or another user's."),
            },
        }
    },
    "/api/config": {
        "get": {
            "operationId": "app_config",
            "tags": ["config"],
            "summary": "What the UI needs before login: sign-up switch, model in use",
            "security": [{}],
            "responses": {
                "200": {"description": "", "content": {JSON: {"schema": _ref("AppConfig")}}}
            },
        }
    },
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "tags": ["probes"],
            "summary": "Liveness: the process serves requests",
            "security": [{}],
            "responses": {
                "200": {"description": "", "content": {JSON: {"schema": _ref("Health")}}}
            },
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "tags": ["probes"],
            "summary": "Readiness: the database (and Redis) answer",
            "security": [{}],
            "responses": {
                "200": {"description": "Ready.", "content": {JSON: {"schema": _ref("Health")}}},
                "503": {
                    "description": "Not ready; `failed` names what did not answer.",
                    "content": {JSON: {"schema": _ref("Health")}},
                },
            },
        }
    },
}


ERROR_DESCRIPTIONS = {
    "400": "Malformed JSON, invalid input (`errors` per field), or a Bearer token and an "
    "API key together (`ambiguous_credentials`).",
    "401": "Missing, invalid or expired credentials; `WWW-Authenticate: Bearer` is set.",
    "403": "Not allowed: an API key without the needed scope (`insufficient_scope`), a "
    "cookie request failing the origin check (`csrf_failed`), or a wrong current "
    "password (`invalid_credentials`).",
    "404": "Not found, or not yours.",
    "409": "A reply is being generated in this conversation (`run_in_progress`), or the "
    "user already has `API_KEY_MAX_PER_USER` live API keys (`api_key_limit`).",
    "413": "Request body over 1 MB.",
    "429": "Throttled; `Retry-After` says when to try again.",
}
COOKIE_PATHS = {"/api/auth/token/refresh", "/api/auth/logout"}
# Deleting a conversation while a reply is being written is refused.
CONFLICTS = {("/api/conversations/{conversation_id}", "delete"), ("/api/keys", "post")}
# The chat paths answer 429 for usage limits (usage.turns.turn_admit).
THROTTLED_PATHS = {
    "/api/auth/token",
    "/api/auth/register",
    "/api/auth/token/refresh",
    "/api/chat",
    "/api/runs",
}
# Operations that check the current password, counted by the login limits.
THROTTLED_OPERATIONS = {("/api/keys", "post"), ("/api/auth/password", "post")}


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """Which error answers an operation can give, by the rules every endpoint follows."""
    if path in ("/healthz", "/readyz", "/api/config"):
        return []
    statuses = ["400"]  # malformed input, and ambiguous credentials on every API path
    authenticated = operation.get("security") not in (None, [{}], [])
    if authenticated or path in COOKIE_PATHS or path == "/api/auth/token":
        statuses.append("401")
    if authenticated or path in COOKIE_PATHS or path == "/api/auth/register":
        statuses.append("403")
    cursor = any(p.get("name") == "cursor" for p in operation.get("parameters", []))
    if "{" in path or cursor:  # DRF answers an unreadable cursor with 404
        statuses.append("404")
    if (path, method) in CONFLICTS:
        statuses.append("409")
    if method in ("post", "put", "patch"):
        statuses.append("413")
    if path in THROTTLED_PATHS or (path, method) in THROTTLED_OPERATIONS:
        statuses.append("429")
    return statuses


def add_plain_django_views(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS`` entry: merge the hand-written paths and schemas, and
    document the error answers every operation can give, in the one error shape."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(SCHEMAS)
    schemas["ChatRequest"] = chat_request_schema(request)
    for path, operations in PATHS.items():
        result["paths"].setdefault(path, {}).update(operations)
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, method, operation):
                responses.setdefault(status, _error(ERROR_DESCRIPTIONS[status]))
    return result
