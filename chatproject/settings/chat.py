"""The chat: model, turns, limits, tools, and the usage quotas (``chat/``, ``usage/``)."""

from __future__ import annotations

from chatproject.settings.core import env

# --------------------------------------------------------------------------
# Chat model: OpenAI, any OpenAI-compatible server, or the offline demo
# https://openai.github.io/openai-agents-python/models/
# --------------------------------------------------------------------------

OPENAI_API_KEY = env.str("OPENAI_API_KEY")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4.1-mini")
_default_model_api = "chat_completions" if OPENAI_BASE_URL else "responses"
CHAT_MODEL_API = env.choice(
    "CHAT_MODEL_API", default=_default_model_api, choices=("responses", "chat_completions")
)
# chat.openai_client.StreamingOpenAI (0: the library's stock client). docs/performance.md.
OPENAI_FAST_CLIENT = env.bool("OPENAI_FAST_CLIENT", default=True)
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=32_000, min_value=1)
# The assistant's identity. A staff user can replace it (and the model and tools)
# in the admin without a deploy: the "Assistant profile" (chat.agent).
CHAT_ASSISTANT_NAME = env.str("CHAT_ASSISTANT_NAME", default="Assistant")
# Which registered tools (chat/tools.py, chat/custom_tools.py) the agent may call:
# "all" (the default), "none", or a comma list. An unknown name stops start-up.
_chat_tools = env.list("CHAT_TOOLS", default=["all"])
CHAT_TOOLS: list[str] | None = (
    None if _chat_tools == ["all"] else [] if _chat_tools == ["none"] else _chat_tools
)
CHAT_INSTRUCTIONS = env.str(
    "CHAT_INSTRUCTIONS",
    default=(
        "You are a helpful, concise assistant. Answer in Markdown. Use the tools when a "
        "question needs the current date or time or exact arithmetic."
    ),
)
# Tracing posts run traces to OpenAI; off unless asked for.
CHAT_TRACING = env.bool("CHAT_TRACING", default=False)
CHAT_MAX_TURNS = env.int("CHAT_MAX_TURNS", default=10, min_value=1)
CHAT_UPSTREAM_TIMEOUT_SECONDS = env.int("CHAT_UPSTREAM_TIMEOUT_SECONDS", default=120, min_value=1)
CHAT_UPSTREAM_MAX_RETRIES = env.int("CHAT_UPSTREAM_MAX_RETRIES", default=2, min_value=0)
# ": ping" after this much silence keeps idle proxies from closing the stream.
CHAT_PING_MS = env.int("CHAT_PING_MS", default=15_000, min_value=10)
# A run lock older than this is treated as abandoned whatever its lease says
# (a backstop: a crashed worker's turn is noticed by its lease).
CHAT_RUN_STALE_SECONDS = env.int("CHAT_RUN_STALE_SECONDS", default=900, min_value=1)
# A background run's events are kept this long after it ends (resume, replay).
RUN_EVENTS_TTL_SECONDS = env.int("RUN_EVENTS_TTL_SECONDS", default=600, min_value=1)
# Pause between the offline demo model's tokens (0 in tests).
CHAT_DEMO_TOKEN_MS = env.int("CHAT_DEMO_TOKEN_MS", default=18, min_value=0)

# --------------------------------------------------------------------------
# Crash-safe turns: checkpoints and leases (chat.checkpoints, chat.services)
# --------------------------------------------------------------------------

# A streaming reply is saved at most this often (never per token): a crash
# loses at most this much text.
CHAT_CHECKPOINT_SECONDS = env.int("CHAT_CHECKPOINT_SECONDS", default=2, min_value=1)
# A live turn's worker renews its lease about three times within this; a turn
# whose lease ran out is recorded as interrupted (its worker died) and its
# conversation is free again.
CHAT_RUN_LEASE_SECONDS = env.int("CHAT_RUN_LEASE_SECONDS", default=10, min_value=3)

# --------------------------------------------------------------------------
# Chat limits: history served, WebSocket frames (chat.apis, chat.consumers)
# --------------------------------------------------------------------------

# GET /api/conversations/<id>/items returns at most this many items (the newest).
CHAT_ITEMS_MAX = env.int("CHAT_ITEMS_MAX", default=1000, min_value=1)
# A WebSocket frame over this size closes the socket with 1009. Enforced by the
# server: scripts/serve passes it to uvicorn (--ws-max-size); Daphne gets
# --websocket-max-message-size (make run, the tests) or, under `manage.py
# runserver`, the two DAPHNE_ settings below.
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=65_536, min_value=1024)
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = WS_MAX_FRAME_BYTES
# More frames than this in any minute close the socket with 4429.
WS_MAX_FRAMES_PER_MINUTE = env.int("WS_MAX_FRAMES_PER_MINUTE", default=120, min_value=1)

# --------------------------------------------------------------------------
# Tool calls: a time limit per call; sync tools run in worker processes
# (chat/tool_pool.py, docs/customising.md#tools)
# --------------------------------------------------------------------------

CHAT_TOOL_TIMEOUT_SECONDS = env.int("CHAT_TOOL_TIMEOUT_SECONDS", default=10, min_value=1)

# Request bodies: 1 MB is plenty for a chat message.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000

# --------------------------------------------------------------------------
# Usage: quotas, limits and the ledger (usage/, docs/customising.md "Limits and quotas")
# Defaults for everyone; an admin overrides the first three per group and per
# user ("Usage limits"). Counted per user across processes when REDIS_URL is set.
# --------------------------------------------------------------------------

# Live turns of one user at once (SSE, background runs and WebSocket together).
CHAT_CONCURRENT_TURNS = env.int("CHAT_CONCURRENT_TURNS", default=3, min_value=1)
# Turns one user may start in any 60 seconds.
CHAT_TURNS_PER_MINUTE = env.int("CHAT_TURNS_PER_MINUTE", default=20, min_value=1)
# Input + output tokens per user per UTC day; 0 = unlimited.
CHAT_DAILY_TOKENS = env.int("CHAT_DAILY_TOKENS", default=1_000_000, min_value=0)
# Estimated tokens of earlier turns sent upstream with a message; 0 = the whole history.
CHAT_HISTORY_MAX_TOKENS = env.int("CHAT_HISTORY_MAX_TOKENS", default=16_000, min_value=0)
# Output cap passed to the model on every call; 0 = send none (the server's default).
CHAT_MAX_OUTPUT_TOKENS = env.int("CHAT_MAX_OUTPUT_TOKENS", default=4096, min_value=0)
# A live turn's slot lapses this long after its last renewal (a worker that died).
CHAT_TURN_LEASE_SECONDS = env.int("CHAT_TURN_LEASE_SECONDS", default=60, min_value=1)
