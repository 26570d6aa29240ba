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
- The token is only checked at connect, so the socket is closed with ``4401``
  when it expires; the client reconnects with a fresh token and resumes.
- Frames in: ``{message, conversation_id?}`` starts a run,
  ``{runId, lastEventId}`` resumes one, ``{type: "stop"}`` cancels the
  current one. Frames out: the run's events (each with ``runId`` and
  ``eventId``, the id to resume after), then ``{type: "done", runId}``;
  ``{type: "error", code, message}`` when a frame is refused.
- Closing the socket does not stop the run: it goes on, and can be resumed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from accounts.authentication import Principal, authenticate_scope
from chat import events, runs, services
from chat.views import CHAT_SCOPE, parse_chat_input
from chatproject.errors import ApiError

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
# Without pings (the socket has its own), how often a waiting relay checks that
# its run still exists.
_IDLE_SECONDS = 15.0


def _close_code(error: ApiError) -> int:
    return 4000 + error.status if 400 <= error.status < 500 else 4500


class ChatConsumer(AsyncWebsocketConsumer):
    principal: Principal | None = None
    run_id: str | None = None
    _relay: asyncio.Task[None] | None = None
    _expiry: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        offered = [protocol.lower() for protocol in self.scope.get("subprotocols") or []]
        subprotocol = "bearer" if offered[:1] == ["bearer"] else None
        try:
            principal = await authenticate_scope(self.scope, required_scope=CHAT_SCOPE)
        except ApiError as error:
            await self.accept(subprotocol)
            await self.close(code=_close_code(error), reason=error.code)
            return
        self.principal = principal
        await self.accept(subprotocol)
        if principal.token_expires_at is not None:
            self._expiry = asyncio.create_task(self._close_at_expiry(principal.token_expires_at))

    async def _close_at_expiry(self, expires_at: datetime) -> None:
        await asyncio.sleep(max(0.0, (expires_at - timezone.now()).total_seconds()))
        self.principal = None
        await self.close(code=CLOSE_UNAUTHORIZED, reason="token_expired")

    async def disconnect(self, code: int) -> None:
        # The run goes on without us; only this socket's tasks stop.
        for task in (self._relay, self._expiry):
            if task is not None and not task.done():
                task.cancel()

    # -- frames in ---------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        principal = self.principal
        if principal is None:
            return  # closing
        try:
            try:
                data = json.loads(text_data if text_data is not None else bytes_data or b"")
            except (UnicodeDecodeError, ValueError):
                raise ApiError(400, "parse_error", "A frame must be a JSON object.") from None
            if not isinstance(data, dict):
                raise ApiError(400, "parse_error", "A frame must be a JSON object.")
            if data.get("type") == "stop":
                await self._stop(principal)
            elif "message" in data:
                await self._start(data, principal)
            elif "runId" in data:
                await self._resume(data, principal)
            else:
                raise ApiError(
                    400, "invalid", "Send {message}, {runId, lastEventId} or {type: 'stop'}."
                )
        except ApiError as error:
            await self._send_error(error.code, error.detail)

    def _relaying(self) -> bool:
        return self._relay is not None and not self._relay.done()

    def _refuse_if_busy(self) -> None:
        if self._relaying():
            raise ApiError(
                409, "run_in_progress", "A reply is streaming on this socket; stop it first."
            )

    async def _start(self, data: dict[str, Any], principal: Principal) -> None:
        self._refuse_if_busy()
        chat_input = parse_chat_input(json.dumps(data).encode())
        start = await services.turn_start(
            user=principal.user,
            message=chat_input.message,
            conversation_id=chat_input.conversation_id,
        )
        run = await runs.run_start(user=principal.user, start=start, message=chat_input.message)
        self._follow(run.run_id, 0)

    async def _resume(self, data: dict[str, Any], principal: Principal) -> None:
        self._refuse_if_busy()
        run_id, last = data.get("runId"), data.get("lastEventId")
        if last is None:
            last = 0
        if not isinstance(last, int) or isinstance(last, bool) or last < 0:
            if isinstance(last, str) and last.isdigit():
                last = int(last)
            else:
                raise ApiError(400, "invalid", "lastEventId must be a non-negative integer.")
        # A runId that is not a string is unknown (404), as run_get answers for "".
        run = await runs.run_get(
            user=principal.user, run_id=run_id if isinstance(run_id, str) else ""
        )
        self._follow(run.run_id, last)

    async def _stop(self, principal: Principal) -> None:
        if self.run_id is None:
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
                for event_id, item in result.entries:
                    await self.send(text_data=events.ws_frame(item, run_id, event_id))
                if result.end == runs.GONE:
                    await self._send_error(
                        "run_expired", "This run's events are no longer available.", run_id
                    )
            await self.send(text_data=json.dumps({"type": "done", "runId": run_id}))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("could not relay run %s", run_id)
            await self._send_error("internal_error", "Something went wrong on the server.", run_id)

    async def _send_error(self, code: str, message: str, run_id: str | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if run_id is not None:
            frame["runId"] = run_id
        await self.send(text_data=json.dumps(frame))
