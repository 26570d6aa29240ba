"""The offline demo model: what a fresh clone talks to before a real model is set up.

It implements the Agents SDK ``Model`` interface (the same boundary as
``agents.testing.ScriptedModel``), so the whole path -- runner, tools, session,
SSE -- is the real one. Each user message gets two model calls: the first
asks for the ``current_time`` tool, the second streams a Markdown reply that
uses the tool's result and explains how to connect a real model. It never
touches the network and is never used when ``OPENAI_API_KEY`` or
``OPENAI_BASE_URL`` is set (``chat.agent.model_config``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agents import ModelResponse, Usage
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from django.conf import settings
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseTextDeltaEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from chat import hold

if TYPE_CHECKING:
    from agents import AgentOutputSchemaBase, Handoff, ModelSettings, Tool, TResponseInputItem
    from agents.models.interface import ModelTracing
    from openai.types.responses.response_prompt_param import ResponsePromptParam

DEMO_MODEL_NAME = "offline-demo"
_CALL_PREFIX = "demo_call_"
TOOL_PARAGRAPH = """\
To show a tool call end to end, I asked the `current_time` tool for the time. \
It answered: **{tool_result}**."""
NO_TOOL_PARAGRAPH = (
    "The `current_time` tool is not enabled (`CHAT_TOOLS` or the assistant profile), "
    "so this reply shows no tool call."
)
_TOKEN_RE = re.compile(r"\s*\S+\s*|\s+")
_ids = itertools.count(1)

REPLY_TEMPLATE = """\
**This is the offline demo model.** No AI model is connected yet, so this reply \
is scripted -- but everything around it is real: the agent runner, the tool call, \
the streaming and the saved history.

{tool_paragraph}

You wrote:

> {quote}

### Connect a real model

1. **OpenAI:** set `OPENAI_API_KEY=sk-...` (and optionally `OPENAI_MODEL`), then restart.
2. **Any OpenAI-compatible server** (Ollama, vLLM, LM Studio): set `OPENAI_BASE_URL`, \
e.g. `http://localhost:11434/v1`, and `OPENAI_MODEL` to a model it serves.

Export them in the shell that runs `make run` (docker compose reads them from `.env`); \
the demo model switches off by itself.
"""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _last_user_text(items: list[Any]) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") == "user":
            return _text_of(item.get("content"))
    return ""


def _pending_tool_result(items: list[Any]) -> str | None:
    """The output of our own tool call, when it is the newest input item."""
    if not items:
        return None
    last = items[-1]
    if (
        isinstance(last, dict)
        and last.get("type") == "function_call_output"
        and str(last.get("call_id", "")).startswith(_CALL_PREFIX)
    ):
        output = last.get("output")
        return output if isinstance(output, str) else json.dumps(output)
    return None


def _quote(text: str, limit: int = 280) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    # Keep the user's text inside the blockquote and out of Markdown syntax.
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text) or "(an empty message)"


def _usage(input_items: list[Any], output_tokens: int) -> Usage:
    input_tokens = max(1, sum(len(json.dumps(item, default=str)) for item in input_items) // 4)
    return Usage(
        requests=1,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


def _response(response_id: str, output: list[Any], usage: Usage | None) -> Response:
    return Response(
        id=response_id,
        created_at=0,
        model=DEMO_MODEL_NAME,
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        top_p=None,
        parallel_tool_calls=False,
        status="completed" if usage is not None else "in_progress",
        usage=(
            ResponseUsage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                total_tokens=usage.total_tokens,
                input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
                output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
            )
            if usage is not None
            else None
        ),
    )


class DemoModel(Model):
    """A scripted but useful model: one tool call, then an explanatory Markdown reply."""

    def _plan(self, input: str | list[Any], tools: list[Any]) -> tuple[list[Any], list[str], Usage]:
        """The output items of this call, the text tokens to stream, and the usage."""
        items = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        tool_result = _pending_tool_result(items)
        n = next(_ids)
        # Only call the tool when the agent has it: CHAT_TOOLS can leave it out.
        can_ask_time = any(getattr(tool, "name", None) == "current_time" for tool in tools)
        if tool_result is None and can_ask_time:
            call = function_call(
                "current_time", {"timezone": "UTC"}, call_id=f"{_CALL_PREFIX}{n:06d}"
            )
            return [call], [], _usage(items, 12)
        paragraph = (
            NO_TOOL_PARAGRAPH
            if tool_result is None
            else TOOL_PARAGRAPH.format(tool_result=tool_result)
        )
        reply = REPLY_TEMPLATE.format(
            tool_paragraph=paragraph, quote=_quote(_last_user_text(items))
        )
        tokens = _TOKEN_RE.findall(reply)
        message = assistant_message(reply, item_id=f"demo_msg_{n:06d}")
        return [message], tokens, _usage(items, len(tokens))

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> ModelResponse:
        await hold.wait()  # as a request to a real model would (chat.hold)
        output, _tokens, usage = self._plan(input, tools)
        return ModelResponse(output=output, usage=usage, response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> AsyncIterator[Any]:
        await hold.wait()  # as a request to a real model would (chat.hold)
        output, tokens, usage = self._plan(input, tools)
        response_id = f"demo_resp_{next(_ids):06d}"
        delay = settings.CHAT_DEMO_TOKEN_MS / 1000
        seq = itertools.count()
        yield ResponseCreatedEvent(
            type="response.created",
            response=_response(response_id, [], None),
            sequence_number=next(seq),
        )
        for index, item in enumerate(output):
            if isinstance(item, ResponseOutputMessage):
                started = item.model_copy(update={"content": [], "status": "in_progress"})
                yield ResponseOutputItemAddedEvent(
                    type="response.output_item.added",
                    item=started,
                    output_index=index,
                    sequence_number=next(seq),
                )
                for token in tokens:
                    if delay:
                        await asyncio.sleep(delay)
                    yield ResponseTextDeltaEvent(
                        type="response.output_text.delta",
                        item_id=item.id,
                        output_index=index,
                        content_index=0,
                        delta=token,
                        logprobs=[],
                        sequence_number=next(seq),
                    )
            else:
                if delay:
                    await asyncio.sleep(delay * 5)
                yield ResponseOutputItemAddedEvent(
                    type="response.output_item.added",
                    item=item,
                    output_index=index,
                    sequence_number=next(seq),
                )
            yield ResponseOutputItemDoneEvent(
                type="response.output_item.done",
                item=item,
                output_index=index,
                sequence_number=next(seq),
            )
        yield ResponseCompletedEvent(
            type="response.completed",
            response=_response(response_id, output, usage),
            sequence_number=next(seq),
        )
