"""``WS /ws/chat``: the WebSocket transport, over the same background runs as
``/api/runs``.

- Auth: ``Sec-WebSocket-Protocol: bearer, <access>`` (browsers cannot set
  headers on a WebSocket, and a token in the query string ends up in access
  logs). The socket is accepted with the subprotocol ``bearer`` -- a browser
  that offered subprotocols fails a handshake that picks none -- and a bad
  credential is accepted, then closed with ``4401`` (``4403`` for an API key
  without the ``chat`` scope): closing before accepting reaches the client as
  a bare HTTP 403, without the code. Origin is checked by
  ``AllowedHostsOriginValidator`` in ``chatproject.asgi``.
- The credential is checked again (one query) before each frame that starts or
  resumes a run, so a revoked key or a deactivated user cannot go on through
  an open socket; and the socket is closed with ``4401`` when the access token
  or the API key expires. The client reconnects with a fresh token and resumes.
- Limits: a frame over ``WS_MAX_FRAME_BYTES`` is refused by the server itself
  (close ``1009``: ``scripts/serve`` passes uvicorn ``--ws-max-size``, Daphne
  gets ``--websocket-max-message-size``); more than
  ``WS_MAX_FRAMES_PER_MINUTE`` frames in a minute close the socket with ``4429``.
- Frames in: ``{message, conversation_id?, replace_last_turn?}`` starts a run
  (``chat.inputs``, as ``POST /api/runs``), ``{runId, lastEventId?}`` resumes
  one, ``{type: "stop"}`` cancels the current one. Frames out: the run's events
  (each with ``runId`` and ``eventId``, the id to resume after), then
  ``{type: "done", runId}``; ``{type: "error", code, message}`` when a frame is
  refused (with ``retryAfter``, in seconds, when a usage limit refused it) --
  the socket stays usable.
- Closing the socket does not stop the run: it goes on, and can be resumed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from datetime import datetime
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from accounts.authentication import Principal, authenticate_scope
from chat import events, runs
from chat.inputs import chat_input, event_id, invalid, json_object
from chat.sse import END_ERRORS
from chat.turn import turn_begin
from chat.views import CHAT_SCOPE
from chatproject.errors import ApiError

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_MANY_FRAMES = 4429
# Without pings (the socket has its own), how often a waiting relay checks that
# its run still exists.
_IDLE_SECONDS = 15.0


def _close_code(error: ApiError) -> int:
    return 4000 + error.status if 400 <= error.status < 500 else 4500


def _expiry(principal: Principal) -> datetime | None:
    """When the credential stops being valid: the token's ``exp`` or the key's expiry."""
    if principal.api_key is not None:
        return principal.api_key.expires_at
    return principal.token_expires_at


class ChatConsumer(AsyncWebsocketConsumer):
    principal: Principal | None = None
    run_id: str | None = None
    _relay: asyncio.Task[None] | None = None
    _expiry: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        offered = [protocol.lower() for protocol in self.scope.get("subprotocols") or []]
        subprotocol = "bearer" if offered[:1] == ["bearer"] else None
        self._frames: deque[float] = deque()
        try:
            principal = await authenticate_scope(self.scope, required_scope=CHAT_SCOPE)
        except ApiError as error:
            await self.accept(subprotocol)
            await self.close(code=_close_code(error), reason=error.code)
            return
        self.principal = principal
        await self.accept(subprotocol)
        expires_at = _expiry(principal)
        if expires_at is not None:
            self._expiry = asyncio.create_task(self._close_at(expires_at))

    async def _close_at(self, expires_at: datetime) -> None:
        await asyncio.sleep(max(0.0, (expires_at - timezone.now()).total_seconds()))
        await self._close(CLOSE_UNAUTHORIZED, "token_expired")

    async def _close(self, code: int, reason: str) -> None:
        self.principal = None  # no frame is handled from now on
        await self.close(code=code, reason=reason)

    async def disconnect(self, code: int) -> None:
        # The run goes on without us; only this socket's tasks stop.
        for task in (self._relay, self._expiry):
            if task is not None and not task.done():
                task.cancel()

    # -- frames in ---------------------------------------------------------------

    def _over_rate(self) -> bool:
        now = time.monotonic()
        frames = self._frames
        frames.append(now)
        while frames and frames[0] <= now - 60:
            frames.popleft()
        return len(frames) > settings.WS_MAX_FRAMES_PER_MINUTE

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.principal is None:
            return  # closing
        if self._over_rate():
            await self._close(CLOSE_TOO_MANY_FRAMES, "too_many_frames")
            return
        try:
            data = json_object(text_data if text_data is not None else bytes_data or b"")
            kind = data.get("type")
            if kind == "stop":
                await self._stop()
                return
            if kind is not None:
                raise invalid("type", "Must be 'stop' or absent.")
            if "message" not in data and "runId" not in data:
                raise ApiError(
                    400, "invalid", "Send {message}, {runId, lastEventId} or {type: 'stop'}."
                )
            self._refuse_if_busy()
            principal = await self._recheck()
            if principal is None:
                return
            if "message" in data:
                await self._start(data, principal)
            else:
                await self._resume(data, principal)
        except ApiError as error:
            retry_after = error.headers.get("Retry-After")
            await self._send_error(
                error.code,
                error.detail,
                errors=error.errors,
                retry_after=int(retry_after) if retry_after else None,
            )

    async def _recheck(self) -> Principal | None:
        """The socket's credential, checked again (revoked, expired, deactivated?)."""
        try:
            principal = await authenticate_scope(self.scope, required_scope=CHAT_SCOPE)
        except ApiError as error:
            await self._close(_close_code(error), error.code)
            return None
        self.principal = principal
        return principal

    def _refuse_if_busy(self) -> None:
        if self._relay is not None and not self._relay.done():
            raise ApiError(
                409, "run_in_progress", "A reply is streaming on this socket; stop it first."
            )

    async def _start(self, data: dict[str, Any], principal: Principal) -> None:
        turn = await turn_begin(
            user=principal.user, data=chat_input(data), api_key=principal.api_key
        )
        run = await runs.run_start(user=principal.user, turn=turn)
        self._follow(run.run_id, 0)

    async def _resume(self, data: dict[str, Any], principal: Principal) -> None:
        run_id = data["runId"]
        if not isinstance(run_id, str):
            raise invalid("runId", "Must be a string (a run id).")
        after = event_id(data.get("lastEventId"), field="lastEventId")
        run = await runs.run_get(user=principal.user, run_id=run_id)
        self._follow(run.run_id, after)

    async def _stop(self) -> None:
        principal = self.principal
        if self.run_id is None or principal is None:
            return
        try:
            run = await runs.run_get(user=principal.user, run_id=self.run_id)
        except ApiError:
            return  # expired: nothing to stop
        # Not waiting for the end: the relay reports it, then ``done``.
        await runs.run_cancel(run=run, wait_seconds=0)

    # -- frames out --------------------------------------------------------------

    def _follow(self, run_id: str, after: int) -> None:
        self.run_id = run_id
        self._relay = asyncio.create_task(self._relay_run(run_id, after))

    async def _relay_run(self, run_id: str, after: int) -> None:
        try:
            async for result in runs.follow(run_id, after, _IDLE_SECONDS):
                for n, item in result.entries:
                    await self.send(text_data=events.ws_frame(item, run_id, n))
                error = END_ERRORS.get(result.end or "")
                if error is not None:
                    await self._send_error(
                        error.code, error.message, run_id, retryable=error.retryable
                    )
            await self.send(text_data=json.dumps({"type": "done", "runId": run_id}))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not relay run %s", run_id)
            await self._send_error("internal_error", "Something went wrong on the server.", run_id)

    async def _send_error(
        self,
        code: str,
        message: str,
        run_id: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        retryable: bool | None = None,
        retry_after: int | None = None,
    ) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if retryable is not None:
            frame["retryable"] = retryable
        if run_id is not None:
            frame["runId"] = run_id
        if errors:
            frame["errors"] = errors
        if retry_after is not None:  # a 429's Retry-After, in seconds
            frame["retryAfter"] = retry_after
        await self.send(text_data=json.dumps(frame))
