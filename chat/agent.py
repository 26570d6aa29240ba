"""Which model the agent talks to, and the one agent per process that uses it.

Selection (DESIGN.md, "Environment variables"):

- ``OPENAI_API_KEY`` set -> OpenAI, Responses API, ``OPENAI_MODEL``;
- ``OPENAI_BASE_URL`` set -> that OpenAI-compatible server, Chat Completions
  with ``include_usage`` (without it usage is 0 on non-OpenAI servers);
- ``CHAT_MODEL_API`` overrides the wire API;
- neither -> the offline demo model (``chat.demo_model``).

The ``AsyncOpenAI`` client (and its connection pool) and the ``Agent`` are built
once per configuration and event loop, not per request: a warm keep-alive
connection to the upstream is most of a fast first token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache

from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    set_tracing_disabled,
)
from django.conf import settings
from openai import AsyncOpenAI, Timeout

from chat.demo_model import DEMO_MODEL_NAME, DemoModel
from chat.tools import TOOLS

# Local OpenAI-compatible servers (Ollama, vLLM) ignore the key, but the client needs one.
_PLACEHOLDER_API_KEY = "not-needed"


@dataclass(frozen=True)
class ModelConfig:
    name: str
    api: str  # "responses" | "chat_completions" | "offline_demo"
    api_key: str | None
    base_url: str | None
    timeout_seconds: int
    max_retries: int

    @property
    def offline_demo(self) -> bool:
        return self.api == "offline_demo"


def model_config() -> ModelConfig:
    if not settings.OPENAI_API_KEY and not settings.OPENAI_BASE_URL:
        return ModelConfig(DEMO_MODEL_NAME, "offline_demo", None, None, 0, 0)
    return ModelConfig(
        name=settings.OPENAI_MODEL,
        api=settings.CHAT_MODEL_API,
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        timeout_seconds=settings.CHAT_UPSTREAM_TIMEOUT_SECONDS,
        max_retries=settings.CHAT_UPSTREAM_MAX_RETRIES,
    )


def _client(config: ModelConfig) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=config.api_key or _PLACEHOLDER_API_KEY,
        base_url=config.base_url,
        max_retries=config.max_retries,
        # The read timeout bounds the silence between two streamed chunks.
        timeout=Timeout(config.timeout_seconds, connect=min(10, config.timeout_seconds)),
    )


@lru_cache(maxsize=8)
def _build_agent(
    config: ModelConfig,
    instructions: str,
    tracing: bool,
    loop: asyncio.AbstractEventLoop,
) -> Agent:
    # ``loop`` is part of the key: an httpx pool must not outlive its event loop
    # (one loop per server process; one per test under pytest-asyncio).
    set_tracing_disabled(not tracing)
    if config.offline_demo:
        model = DemoModel()
        model_settings = ModelSettings()
    elif config.api == "chat_completions":
        model = OpenAIChatCompletionsModel(model=config.name, openai_client=_client(config))
        model_settings = ModelSettings(include_usage=True)
    else:
        model = OpenAIResponsesModel(model=config.name, openai_client=_client(config))
        model_settings = ModelSettings()
    return Agent(
        name="Assistant",
        instructions=instructions,
        model=model,
        model_settings=model_settings,
        tools=list(TOOLS),
    )


def get_agent() -> tuple[Agent, ModelConfig]:
    """The agent for the current settings (call from the event loop that will run it)."""
    config = model_config()
    agent = _build_agent(
        config, settings.CHAT_INSTRUCTIONS, settings.CHAT_TRACING, asyncio.get_running_loop()
    )
    return agent, config
