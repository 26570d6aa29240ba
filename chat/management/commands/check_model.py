"""``manage.py check_model``: send one tiny request to the configured model and
say what happened, in plain words.

The model is chosen exactly as the chat does (``chat.agent``): the admin's
assistant profile or the settings for the model name, ``OPENAI_API_KEY`` /
``OPENAI_BASE_URL`` / ``CHAT_MODEL_API`` for where and how. One request, no
retries, no streaming: a short "say OK" prompt, answered or refused.

Exit status: 0 when the model answered (or the offline demo model is in use,
which needs no check), 1 when it did not.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import openai
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from chat.agent import ModelConfig, _client, current_identity, known_identity, model_config

PROMPT = "Reply with the single word OK."
SNIPPET_CHARS = 80
OPENAI_HOST = "api.openai.com"
CONNECT_HINT = (
    "To connect a real model, set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (an "
    "OpenAI-compatible server: Ollama http://localhost:11434/v1, vLLM "
    "http://localhost:8000/v1, LM Studio http://localhost:1234/v1), and OPENAI_MODEL; "
    "then run this command again."
)


class CheckFailed(Exception):
    """What went wrong, in words a person can act on."""


class Command(BaseCommand):
    help = "Send one tiny request to the configured chat model and report what happened."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="seconds to wait for the answer (default: CHAT_UPSTREAM_TIMEOUT_SECONDS, at most 30)",
        )

    def handle(self, *args: Any, timeout: float | None, **options: Any) -> None:
        # One event loop for the whole check: the profile lookup and the request.
        if not asyncio.run(self._check(timeout)):
            raise SystemExit(1)

    async def _check(self, timeout: float | None) -> bool:  # noqa: ASYNC109
        config, note = await _configured_model()
        if config.offline_demo:
            self.stdout.write(
                "Offline demo model: neither OPENAI_API_KEY nor OPENAI_BASE_URL is set, so the "
                "chat answers with canned replies from chat/demo_model.py (no network).\n"
                + CONNECT_HINT
            )
            return True
        self.stdout.write(f"Model: {config.name} ({_api_name(config.api)}) at {_where(config)}")
        if note:
            self.stdout.write(note)
        if timeout is None:
            timeout = float(min(config.timeout_seconds, 30))
        try:
            latency_ms, reply = await _ask(config, timeout)
        except CheckFailed as failure:
            self.stdout.write(self.style.ERROR(f"FAILED: {failure}"))
            return False
        snippet = " ".join(reply.split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[: SNIPPET_CHARS - 1] + "…"
        self.stdout.write(
            self.style.SUCCESS(f"OK: {config.name} answered in {latency_ms:.0f} ms")
            + f': "{snippet}"'
        )
        return True


async def _configured_model() -> tuple[ModelConfig, str]:
    """The model the next chat message would use (the admin profile may name it)."""
    try:
        identity = await current_identity()
    except DatabaseError as error:
        note = (
            "(The admin's assistant profile could not be read, so the settings name the model: "
            f"{type(error).__name__}. Has `manage.py migrate` run?)"
        )
        return model_config(known_identity()), note
    note = "(Model name from the admin's assistant profile.)" if identity.from_profile else ""
    return model_config(identity), note


def _api_name(api: str) -> str:
    return {"responses": "Responses API", "chat_completions": "Chat Completions API"}.get(api, api)


def _where(config: ModelConfig) -> str:
    return config.base_url or f"OpenAI (https://{OPENAI_HOST}/v1)"


def _is_openai(config: ModelConfig) -> bool:
    host = urlsplit(config.base_url).hostname if config.base_url else OPENAI_HOST
    return host == OPENAI_HOST


async def _ask(config: ModelConfig, timeout: float) -> tuple[float, str]:  # noqa: ASYNC109
    if _is_openai(config) and not config.api_key:
        raise CheckFailed(
            "OPENAI_API_KEY is missing: OpenAI needs a key (https://platform.openai.com/api-keys)."
        )
    client = _client(config).with_options(max_retries=0, timeout=timeout)
    started = time.perf_counter()
    try:
        if config.api == "chat_completions":
            completion = await client.chat.completions.create(
                model=config.name, messages=[{"role": "user", "content": PROMPT}]
            )
            reply = completion.choices[0].message.content if completion.choices else ""
        else:
            response = await client.responses.create(model=config.name, input=PROMPT)
            reply = response.output_text
        return (time.perf_counter() - started) * 1000, reply or ""
    except openai.APITimeoutError:
        raise CheckFailed(
            f"no answer from {_where(config)} within {timeout:g} s. The server is reachable but "
            "slow (a local model still loading?); try --timeout 120."
        ) from None
    except openai.APIConnectionError as error:
        raise CheckFailed(
            f"cannot reach {_where(config)} ({_cause(error)}). Is the server running, and is "
            "OPENAI_BASE_URL right (scheme, host, port, and the /v1 path)?"
        ) from None
    except openai.APIStatusError as error:
        raise CheckFailed(await _explain_status(client, config, error)) from None
    finally:
        await client.close()


def _cause(error: Exception) -> str:
    cause = error.__cause__ or error.__context__
    return str(cause) if cause and str(cause) else type(error).__name__


def _error_code(error: openai.APIStatusError) -> str:
    return str(getattr(error, "code", None) or "")


def _upstream_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error", {})
        if isinstance(message, dict):
            message = message.get("message")
        if message:
            return f' The server said: "{str(message)[:200]}"'
    return ""


async def _explain_status(
    client: openai.AsyncOpenAI, config: ModelConfig, error: openai.APIStatusError
) -> str:
    status, code = error.status_code, _error_code(error)
    said = _upstream_message(error)
    if status in (401, 403):
        if not config.api_key:
            return (
                f"{_where(config)} refused the request ({status}): it wants an API key. "
                f"Set OPENAI_API_KEY.{said}"
            )
        return (
            f"authentication refused ({status}): the server does not accept OPENAI_API_KEY "
            f"(wrong, revoked, or for another project or server).{said}"
        )
    if status == 404 or code == "model_not_found":
        return f"model name unknown: {config.name!r} is not served there.{said}" + (
            await _model_hint(client)
        )
    if status == 429:
        if code == "insufficient_quota":
            return f"out of quota (429 insufficient_quota): check the account's billing.{said}"
        retry_after = error.response.headers.get("retry-after")
        wait = f" (the server asks to wait {retry_after} s)" if retry_after else ""
        return f"rate limited (429){wait}: too many requests; try again shortly.{said}"
    if status >= 500:
        return f"the server failed ({status}); try again, or check its logs.{said}"
    return f"the server answered {status} {code}.{said}".replace(" .", ".")


async def _model_hint(client: openai.AsyncOpenAI) -> str:
    """The models the server lists, so the right name is one copy away."""
    try:
        page = await client.models.list()
        names = sorted(model.id for model in page.data)
    except openai.NotFoundError:
        return " The server has no /models either: is the /v1 at the end of OPENAI_BASE_URL?"
    except openai.OpenAIError:
        return " Set OPENAI_MODEL to a model the server serves."
    if not names:
        return " Set OPENAI_MODEL to a model the server serves."
    shown = ", ".join(names[:15]) + (", …" if len(names) > 15 else "")
    return f" Models it lists: {shown}. Set OPENAI_MODEL to one of them."
