"""The comparison peer: a minimal FastAPI + uvicorn relay of the same agent.

What a user would otherwise write from the usual recipe: one ``POST /api/chat``
that checks a Bearer JWT with PyJWT (the same key, algorithm, issuer and
audience as SimpleJWT's access tokens, ``token_type == "access"``), runs the
same Agents SDK agent (same model class and settings, the same three tools
our agent offers by default, same instructions) with ``Runner.run_streamed``
and relays it in the same SSE format: ``conversation``, ``text_delta``...,
``usage``, ``data: [DONE]``. No
database, no persistence, no middleware: the floor of a Python relay.

Run: ``uvicorn tests.bench.peer_fastapi:app`` with ``BENCH_JWT_KEY``,
``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` (and optionally ``OPENAI_MODEL``,
``JWT_ISSUER``, ``JWT_AUDIENCE``) in the environment.
"""

from __future__ import annotations

import importlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache

import jwt
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    Runner,
    set_tracing_disabled,
)
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent

from chat.tools import registered_tools

# Registers word_count, as the app's start-up does (ChatConfig.ready).
importlib.import_module("chat.custom_tools")

INSTRUCTIONS = os.environ.get(
    "CHAT_INSTRUCTIONS",
    "You are a helpful, concise assistant. Answer in Markdown. Use the tools when a "
    "question needs the current date or time or exact arithmetic.",
)
JWT_KEY = os.environ.get("BENCH_JWT_KEY", "")
JWT_ISSUER = os.environ.get("JWT_ISSUER", "chatproject")
JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE", "chatproject-api")

app = FastAPI()


@lru_cache(maxsize=1)
def agent() -> Agent:
    set_tracing_disabled(True)
    client = AsyncOpenAI(
        base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ.get("OPENAI_API_KEY", "x")
    )
    return Agent(
        name="Assistant",
        instructions=INSTRUCTIONS,
        model=OpenAIChatCompletionsModel(
            model=os.environ.get("OPENAI_MODEL", "gpt-4.1-mini"), openai_client=client
        ),
        model_settings=ModelSettings(include_usage=True),
        # Every registered tool: what our agent offers by default (CHAT_TOOLS=all).
        tools=list(registered_tools().values()),
    )


def authenticate(authorization: str | None) -> int:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "not_authenticated", {"WWW-Authenticate": 'Bearer realm="api"'})
    try:
        claims = jwt.decode(
            authorization[7:],
            JWT_KEY,
            algorithms=["HS256"],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
        )
    except jwt.PyJWTError:
        raise HTTPException(
            401, "token_not_valid", {"WWW-Authenticate": 'Bearer realm="api"'}
        ) from None
    if claims.get("token_type") != "access":
        raise HTTPException(401, "token_not_valid", {"WWW-Authenticate": 'Bearer realm="api"'})
    return claims["user_id"]


def sse(event: dict) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@app.post("/api/chat")
async def chat(request: Request, authorization: str | None = Header(None)):
    authenticate(authorization)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"detail": "bad JSON", "code": "parse_error"}, status_code=400)
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return JSONResponse({"detail": "message required", "code": "invalid"}, status_code=400)

    async def events() -> AsyncIterator[bytes]:
        yield sse({"type": "conversation", "id": str(uuid.uuid4()), "title": message[:60]})
        result = Runner.run_streamed(agent(), message)
        try:
            async for ev in result.stream_events():
                if ev.type == "raw_response_event" and isinstance(ev.data, ResponseTextDeltaEvent):
                    yield sse({"type": "text_delta", "delta": ev.data.delta})
            usage = result.context_wrapper.usage
            yield sse(
                {
                    "type": "usage",
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                }
            )
        except Exception:
            yield sse(
                {
                    "type": "error",
                    "code": "upstream_error",
                    "message": "The model failed.",
                    "retryable": True,
                }
            )
        finally:
            if not result.is_complete:
                result.cancel()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
