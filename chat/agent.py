"""The agent's identity, the model it talks to, and the agent built from them.

Identity (name, instructions, model name, enabled tools) has one source: the
settings (``CHAT_ASSISTANT_NAME``, ``CHAT_INSTRUCTIONS``, ``OPENAI_MODEL``,
``CHAT_TOOLS``), replaced by the admin's ``AssistantProfile`` row when one
exists. A staff user's edit applies to the next message in every process:

- Saving or deleting the profile in the admin stores a fresh random version
  number in Django's cache (Redis when ``REDIS_URL`` is set) once the
  transaction commits (``profile_changed``).
- A turn reads that number through the cache API, at most once per
  ``PROFILE_VERSION_TTL_SECONDS`` per process (a cache read is a thread hop:
  Django's cache has no async client; one kept client, on ``chatproject.db``'s
  threads), and compares it with the one seen when
  this process last read the row. Only a change (or a cache that lost the key,
  or a snapshot older than ``PROFILE_RECHECK_SECONDS``) costs a database
  query; the row is not read per turn. So an edit reaches the process that
  saved it at once, and the others within that TTL.
- The snapshot is keyed by the number read *before* the row, so a save that
  races a read is seen on the following turn at the latest.

Without Redis the cache is per process: an admin edit reaches the process that
served it at once and others within ``PROFILE_RECHECK_SECONDS`` (several
processes should run with ``REDIS_URL`` anyway, ``scripts/serve``). The recheck
also picks up a row changed outside the admin (shell, SQL).

Model selection (README, "Configuration"):

- ``OPENAI_API_KEY`` set -> OpenAI, Responses API, the identity's model;
- ``OPENAI_BASE_URL`` set -> that OpenAI-compatible server, Chat Completions
  with ``include_usage`` (without it usage is 0 on non-OpenAI servers);
- ``CHAT_MODEL_API`` overrides the wire API;
- neither -> the offline demo model (``chat.demo_model``).

The ``AsyncOpenAI`` client (and its connection pool) and the ``Agent`` are built
once per configuration, identity and event loop, not per request: a warm
keep-alive connection to the upstream is most of a fast first token. The
client is ``chat.openai_client.StreamingOpenAI`` (the library's, without its
per-request parameter transform and its per-event generic builder) unless
``OPENAI_FAST_CLIENT=0`` or the installed ``openai`` no longer matches it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import openai
from agents import (
    Agent,
    Model,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Tool,
    set_tracing_disabled,
)
from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from openai import AsyncOpenAI, DefaultAsyncHttpxClient, Timeout

from chat import hold, openai_client
from chat.demo_model import DEMO_MODEL_NAME, DemoModel
from chat.tool_pool import start_workers as start_tool_workers
from chat.tools import registered_tools, registry_generation, uses_tool_pool
from chatproject import db
from chatproject.env import EnvError

logger = logging.getLogger(__name__)

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


def model_config(identity: Identity | None = None) -> ModelConfig:
    """The model for ``identity`` (default: the last one this process loaded)."""
    if not settings.OPENAI_API_KEY and not settings.OPENAI_BASE_URL:
        return ModelConfig(DEMO_MODEL_NAME, "offline_demo", None, None, 0, 0)
    if identity is None:
        identity = known_identity()
    return ModelConfig(
        name=identity.model,
        api=settings.CHAT_MODEL_API,
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        timeout_seconds=settings.CHAT_UPSTREAM_TIMEOUT_SECONDS,
        max_retries=settings.CHAT_UPSTREAM_MAX_RETRIES,
    )


@lru_cache(maxsize=1)
def _fast_client_usable() -> bool:
    if not openai_client.private_api_matches():
        logger.warning(
            "openai %s changed the private methods StreamingOpenAI overrides; "
            "using the stock AsyncOpenAI client",
            openai.__version__,
        )
        return False
    return True


def _client(config: ModelConfig) -> AsyncOpenAI:
    # The library's client minus two generic CPU costs (see chat.openai_client),
    # unless turned off or this openai version no longer matches it.
    client_class = (
        openai_client.StreamingOpenAI
        if settings.OPENAI_FAST_CLIENT and _fast_client_usable()
        else AsyncOpenAI
    )
    return client_class(
        api_key=config.api_key or _PLACEHOLDER_API_KEY,
        base_url=config.base_url,
        max_retries=config.max_retries,
        # The read timeout bounds the silence between two streamed chunks.
        timeout=Timeout(config.timeout_seconds, connect=min(10, config.timeout_seconds)),
        # Every request to the model waits for its turn's admission (chat.hold).
        http_client=DefaultAsyncHttpxClient(event_hooks={"request": [_held]}),
    )


async def _held(request: object) -> None:
    await hold.wait()


@lru_cache(maxsize=16)
def _build_agent(
    config: ModelConfig,
    identity: Identity,
    tools_generation: int,
    tracing: bool,
    loop: asyncio.AbstractEventLoop,
) -> Agent:
    # ``loop`` is part of the key: an httpx pool must not outlive its event loop
    # (one loop per server process; one per test under pytest-asyncio).
    # ``tools_generation`` is too: a tool registered again (tests) means a new agent.
    set_tracing_disabled(not tracing)
    model: Model
    # Every model call's output cap (Chat Completions max_tokens, Responses
    # max_output_tokens); 0 leaves it to the server.
    max_tokens = settings.CHAT_MAX_OUTPUT_TOKENS or None
    if config.offline_demo:
        model = DemoModel()
        model_settings = ModelSettings()
    elif config.api == "chat_completions":
        model = OpenAIChatCompletionsModel(model=config.name, openai_client=_client(config))
        model_settings = ModelSettings(include_usage=True, max_tokens=max_tokens)
    else:
        model = OpenAIResponsesModel(model=config.name, openai_client=_client(config))
        model_settings = ModelSettings(max_tokens=max_tokens)
    tools = _enabled_tools(identity)
    if uses_tool_pool(tools):
        start_tool_workers()  # those tools run in worker processes: start them now
    return Agent(
        name=identity.name,
        instructions=identity.instructions,
        model=model,
        model_settings=model_settings,
        tools=tools,
    )


async def get_agent() -> tuple[Agent, ModelConfig]:
    """The agent for the current identity (call from the event loop that will run it)."""
    identity = await current_identity()
    config = model_config(identity)
    agent = _build_agent(
        config,
        identity,
        registry_generation(),
        settings.CHAT_TRACING,
        asyncio.get_running_loop(),
    )
    return agent, config


def _enabled_tools(identity: Identity) -> list[Tool]:
    available = registered_tools()
    return [available[name] for name in identity.tools if name in available]


# --------------------------------------------------------------------------
# Identity: settings, or the admin's profile
# --------------------------------------------------------------------------

# Cache key of the profile's version: a random number, replaced on every change.
PROFILE_VERSION_KEY = "chat:assistant-profile-version"
# A snapshot of the row is re-read at least this often, whatever the cache says.
PROFILE_RECHECK_SECONDS = 60.0
# The cache's version number is re-read at most this often per process.
PROFILE_VERSION_TTL_SECONDS = 1.0


@dataclass(frozen=True)
class Identity:
    name: str
    instructions: str
    model: str
    tools: tuple[str, ...]
    from_profile: bool = False


@dataclass(frozen=True)
class _ProfileRow:
    name: str
    instructions: str
    model: str
    tools: tuple[str, ...]


@dataclass(frozen=True)
class _Snapshot:
    version: int | None  # the cache's version number when the row was read
    row: _ProfileRow | None  # None: no profile, the settings apply
    loaded_at: float


_snapshot: _Snapshot | None = None


def settings_tools() -> tuple[str, ...]:
    """``CHAT_TOOLS`` as names: every registered tool when it is unset (None)."""
    if settings.CHAT_TOOLS is None:
        return tuple(registered_tools())
    return tuple(settings.CHAT_TOOLS)


def check_tool_settings() -> None:
    """Stop start-up on a ``CHAT_TOOLS`` name that no module registered."""
    if settings.CHAT_TOOLS is None:
        return
    known = registered_tools()
    if any(name not in known for name in settings.CHAT_TOOLS):
        raise EnvError(
            "CHAT_TOOLS", "all, none, or a comma list of tool names from: " + ", ".join(known)
        )


def _identity(row: _ProfileRow | None) -> Identity:
    if row is None:
        return Identity(
            name=settings.CHAT_ASSISTANT_NAME,
            instructions=settings.CHAT_INSTRUCTIONS,
            model=settings.OPENAI_MODEL,
            tools=settings_tools(),
        )
    return Identity(
        name=row.name,
        instructions=row.instructions,
        model=row.model or settings.OPENAI_MODEL,
        tools=row.tools,
        from_profile=True,
    )


def known_identity() -> Identity:
    """The identity as this process last loaded it, without any I/O (``/api/config``)."""
    return _identity(_snapshot.row if _snapshot is not None else None)


async def current_identity() -> Identity:
    """The identity for a turn starting now: see the module docstring for the cost."""
    global _snapshot
    snapshot = _snapshot
    try:
        version = await _read_version()
    except Exception as error:
        # A cache outage must not stop chat: trust the snapshot until it is due anyway.
        logger.warning("assistant profile version unavailable: %s", type(error).__name__)
        version = snapshot.version if snapshot is not None else None
    if (
        snapshot is not None
        and version is not None
        and snapshot.version == version
        and time.monotonic() - snapshot.loaded_at < PROFILE_RECHECK_SECONDS
    ):
        return _identity(snapshot.row)
    snapshot = await db.run(_load_snapshot, version)
    _snapshot = snapshot
    if version is None and snapshot.version is not None:
        _remember_version(snapshot.loaded_at, snapshot.version)  # the number it published
    return _identity(snapshot.row)


def _load_snapshot(version: int | None) -> _Snapshot:
    from chat.models import AssistantProfile

    if version is None:
        # No number in the cache (first start, cache cleared): publish one, then use
        # whichever number won, so every process agrees on it from now on.
        try:
            cache = caches["default"]
            cache.add(PROFILE_VERSION_KEY, _new_version(), timeout=None)
            version = cache.get(PROFILE_VERSION_KEY)
        except Exception as error:
            logger.warning("assistant profile version unavailable: %s", type(error).__name__)
    loaded_at = time.monotonic()
    profile = (
        AssistantProfile.objects.filter(pk=AssistantProfile.SINGLETON_ID)
        .values_list("name", "instructions", "model", "tools")
        .first()
    )
    row = None
    if profile is not None:
        name, instructions, model, tools = profile
        row = _ProfileRow(name, instructions, model, tuple(_known_tool_names(tools)))
    return _Snapshot(version, row, loaded_at)


def _known_tool_names(names: Any) -> list[str]:
    known = registered_tools()
    listed = [name for name in names if isinstance(name, str)] if isinstance(names, list) else []
    unknown = [name for name in listed if name not in known]
    if unknown:
        # A tool was removed from the code after the profile enabled it.
        logger.warning("assistant profile enables unregistered tools: %s", ", ".join(unknown))
    return [name for name in listed if name in known]


def _new_version() -> int:
    return secrets.randbits(62)


def profile_changed() -> None:
    """Publish a new profile version: every process re-reads the row on its next turn.

    Call it after the change is committed (``transaction.on_commit``): a process that
    sees the new number must find the new row.
    """
    global _snapshot, _version_seen
    _snapshot = None
    _version_seen = None
    try:
        caches["default"].set(PROFILE_VERSION_KEY, _new_version(), timeout=None)
    except Exception:
        # The other processes still pick the change up within PROFILE_RECHECK_SECONDS.
        logger.exception("could not publish the assistant profile change")


# (monotonic time read, version) of the last cache read: see PROFILE_VERSION_TTL_SECONDS.
_version_seen: tuple[float, int | None] | None = None


def _remember_version(read_at: float, version: int | None) -> None:
    global _version_seen
    _version_seen = (read_at, version)


# The cache client the version reads use, kept for the process. Under ASGI
# ``caches["default"]`` is a new client in every request (and ``aget`` a new
# thread), so each read through it would open a new Redis connection first.
_version_cache: Any = None


def _read_version_now() -> int | None:
    global _version_cache
    if _version_cache is None:
        _version_cache = caches.create_connection("default")
    return _version_cache.get(PROFILE_VERSION_KEY)


@receiver(setting_changed)
def _cache_settings_changed(*, setting: str, **kwargs: Any) -> None:
    global _version_cache
    if setting == "CACHES":
        _version_cache = None


async def _read_version() -> int | None:
    seen = _version_seen
    now = time.monotonic()
    if seen is not None and now - seen[0] < PROFILE_VERSION_TTL_SECONDS:
        return seen[1]
    # On a database thread: kept threads, so the client keeps its connection.
    version = await db.run(_read_version_now)
    _remember_version(now, version)
    return version
