"""The OpenAI client the agent talks through: the library's, minus two generic costs.

Why it exists: a streamed turn pays the ``openai`` library twice on the CPU
(docs/performance.md, "The `openai` library's generic machinery"), and these
two are most of the difference to the FastAPI peer under load:

- **Before the request**, ``chat.completions.create`` and ``responses.create``
  run the parameters through the library's ``transform``: a walk of the
  parameter ``TypedDict`` annotations that tries every member of every union
  on every message and tool. It exists to rename aliased keys, format dates
  and encode file objects; the chat and Responses parameters have no aliases
  or formats, so for a body of plain JSON values it returns the body
  unchanged, on the path to the first token. ``StreamingOpenAI`` posts such a
  body as it is, through the library's own ``post`` with the same options
  (headers, retries, timeouts, errors and streaming are the library's). Any
  other call (not streamed, a pydantic object or a tuple in a value, ``omit``
  inside a value, an unknown parameter) takes the library's ``create``.
- **Per streamed event** (a chunk per token), ``_process_response_data``
  builds the typed object with the generic ``construct_type``, pure Python
  that walks the annotations of every field. ``StreamingOpenAI`` builds
  ``ChatCompletionChunk`` and the ``ResponseStreamEvent`` members (picked by
  the event's ``type``, as the library's discriminator does) with pydantic's
  compiled validator instead: the same class, values and dumps, extra fields
  kept. Validation is stricter than construction, so an event it refuses (an
  OpenAI-compatible server's odd shape, an event type this library version
  does not know) takes the library's lenient path.

It fails safe. Both rely on private parts of ``openai``
(``_process_response_data``, ``make_request_options``); pyproject.toml bounds
``openai`` to the minor version it is tested with, ``private_api_matches()``
checks at start-up that those parts still have the signatures used here (else
``chat.agent`` uses the stock ``AsyncOpenAI`` and logs why), and
``OPENAI_FAST_CLIENT=0`` turns it off. ``tests/chat/test_openai_client.py``
fails if an upgrade changes what is sent or stops routing stream events
through here: it compares our requests and events with the library's own,
over real HTTP.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from functools import cached_property
from typing import Any

import pydantic
from openai import AsyncOpenAI, AsyncStream
from openai._base_client import make_request_options
from openai._types import not_given
from openai._utils import is_given
from openai.resources.chat import AsyncChat, AsyncCompletions
from openai.resources.responses import AsyncResponses
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent


def private_api_matches() -> bool:
    """Do the library's private parts still look the way this module uses them?"""
    try:
        process = inspect.signature(AsyncOpenAI._process_response_data).parameters
        post = inspect.signature(AsyncOpenAI.post).parameters
        options = inspect.signature(make_request_options).parameters
    except (AttributeError, TypeError, ValueError):
        return False
    return (
        {"data", "cast_to", "response"} <= set(process)
        and {"path", "cast_to", "body", "options", "stream", "stream_cls"} <= set(post)
        and {"extra_headers", "extra_query", "extra_body", "timeout", "security"} <= set(options)
    )


# ``create``'s per-request options, which are not part of the body.
_REQUEST_OPTIONS = ("extra_headers", "extra_query", "extra_body", "timeout")
_JSON_SCALARS = (str, int, float, bool, type(None))


def _body_parameters(create: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(create).parameters) - {"self", *_REQUEST_OPTIONS}


_CHAT_PARAMETERS = _body_parameters(AsyncCompletions.create)
_RESPONSES_PARAMETERS = _body_parameters(AsyncResponses.create)


def _is_json(value: object) -> bool:
    """Is ``value`` made of JSON's own types only (what ``transform`` leaves alone)?"""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return True
    if kind is list:
        return all(_is_json(item) for item in value)  # type: ignore[attr-defined]
    if kind is dict:
        return all(
            type(key) is str and _is_json(item)
            for key, item in value.items()  # type: ignore[attr-defined]
        )
    return False


def body_as_is(params: dict[str, Any], known: frozenset[str]) -> dict[str, Any] | None:
    """The request body for a streamed ``create(**params)``, when the library's
    transform would return it unchanged; None when the library must build it."""
    if params.get("stream") is not True:
        return None
    body: dict[str, Any] = {}
    for key, value in params.items():
        if key in _REQUEST_OPTIONS:
            continue
        if key not in known:
            return None  # the library raises the TypeError
        if is_given(value):  # omitted parameters are left out, as the transform does
            if not _is_json(value):
                return None
            body[key] = value
    return body


def _response_event_models() -> dict[str, type[pydantic.BaseModel]]:
    """``type`` value -> model class, for the members of ``ResponseStreamEvent``."""
    union = typing.get_args(ResponseStreamEvent)[0]  # Annotated[Union[...], discriminator]
    models: dict[str, type[pydantic.BaseModel]] = {}
    for member in typing.get_args(union):
        for value in typing.get_args(member.model_fields["type"].annotation):
            models[value] = member
    return models


_RESPONSE_EVENT_MODELS = _response_event_models()


def fast_model(cast_to: Any, data: object) -> type[pydantic.BaseModel] | None:
    """The model ``data`` can be validated as directly, or None (the library decides)."""
    if not isinstance(data, dict):
        return None
    if cast_to is ChatCompletionChunk:
        return ChatCompletionChunk
    if cast_to is ResponseStreamEvent:
        return _RESPONSE_EVENT_MODELS.get(data.get("type"))  # type: ignore[arg-type]
    return None


class _PlainBodyStreams:
    """A resource's ``create``, posting a plain streamed body as it is (``body_as_is``);
    everything else goes to the library's ``create``."""

    _path: str
    _parameters: frozenset[str]
    _cast_to: type[Any]
    _stream_cls: type[Any]

    async def create(self, **params: Any) -> Any:
        body = body_as_is(params, self._parameters)
        if body is None:
            return await super().create(**params)  # type: ignore[misc]
        # What the library's create() does with its transformed body.
        return await self._post(  # type: ignore[attr-defined]
            self._path,
            body=body,
            options=make_request_options(
                extra_headers=params.get("extra_headers"),
                extra_query=params.get("extra_query"),
                extra_body=params.get("extra_body"),
                timeout=params.get("timeout", not_given),
                security={"bearer_auth": True},
            ),
            cast_to=self._cast_to,
            stream=True,
            stream_cls=self._stream_cls,
        )


class _Completions(_PlainBodyStreams, AsyncCompletions):
    _path = "/chat/completions"
    _parameters = _CHAT_PARAMETERS
    _cast_to = ChatCompletion
    _stream_cls = AsyncStream[ChatCompletionChunk]


class _Chat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return _Completions(self._client)


class _Responses(_PlainBodyStreams, AsyncResponses):
    _path = "/responses"
    _parameters = _RESPONSES_PARAMETERS
    _cast_to = Response
    _stream_cls = AsyncStream[ResponseStreamEvent]


class StreamingOpenAI(AsyncOpenAI):
    """``AsyncOpenAI`` that posts plain streamed bodies as they are and builds stream
    events with pydantic's validator (see the module docstring)."""

    @cached_property
    def chat(self) -> AsyncChat:
        return _Chat(self)

    @cached_property
    def responses(self) -> AsyncResponses:
        return _Responses(self)

    def _process_response_data(self, *, data: object, cast_to: Any, response: Any) -> Any:
        model = fast_model(cast_to, data)
        if model is not None and not self._strict_response_validation:
            try:
                return model.model_validate(data)
            except pydantic.ValidationError:
                pass  # an unusual shape: the library's lenient construction below
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)
