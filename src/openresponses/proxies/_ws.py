"""The served proxy's WebSocket mode: ``/v1/responses`` over a socket (README §9, R53-R69).

Each ``response.create`` becomes the same typed ``Request`` an HTTP ``POST /v1/responses``
becomes, sent through the same upstream pipeline (``Upstream.client``: Stateful, Timeout,
Retry, the provider's translation: Chat Completions, native adapters), and its events go back
one JSON message each, numbered and ended honestly as the SSE relay does them.

What the socket adds, per connection:

- **One turn at a time** (R58): the next message is read only once a turn has ended.
- **The latest response in memory** (R60): a continuation naming it is expanded here (its input
  and output, then the new items) whatever ``store`` says, and the answer still shows
  ``previous_response_id``. Any other id goes to the pipeline when ``store`` is not false
  (the response store, R61); with ``store: false`` it fails with ``previous_response_not_found``
  (R62). A continuation that fails evicts the id it named (R63).
- **Warm-up** (R64): ``generate: false`` answers ``response.created`` then ``response.completed``
  with no output, without calling the upstream; the id continues with the warm-up's input.
- **The 60-minute limit** (R67): past ``max_age`` the next turn (or an idle connection) gets
  ``websocket_connection_limit_reached`` and the socket closes.
- **Errors as envelopes** (R69): ``{type:"error", status, error:{type, code, message, param}}``
  with the status and code the HTTP route would give.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from .._emit import EventBuilder
from .._errors import RequestValidationError
from .._pipeline import Request
from .._streaming import EventStream
from ..store._base import StoredResponse
from ..types import CreateResponseBody, Response, StreamEvent
from ..types import Response as ResponseModel
from ..types.events import EVENT_TYPES
from ._errors import ErrorReply, describe
from ._http import authorized
from ._relay import OpenItems, failure_events
from .upstream import Upstream

__all__ = ["DEFAULT_MAX_AGE", "ResponsesSocket"]

logger = logging.getLogger("openresponses.proxy")

#: The spec's connection lifetime (R67), in seconds.
DEFAULT_MAX_AGE = 3600.0
LIMIT_REACHED = "websocket_connection_limit_reached"
_FORBIDDEN = ("stream", "stream_options", "background")
_RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.failed",
        "response.incomplete",
    }
)
_STRUCTURAL = frozenset(
    {
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
    }
)


class _Refused(Exception):
    """A turn answered with an envelope before the upstream was called."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.message)
        self.reply = reply


@dataclass(slots=True)
class _Socket:
    """One connection's state: when it opened and its latest response (R60)."""

    opened: float
    latest: StoredResponse | None = None
    turns: int = 0


class ResponsesSocket:
    """The WebSocket endpoint of the proxy (``WebSocketRoute("/v1/responses", socket.handle)``).

    ``api_key`` is the key clients must send in the handshake (``Authorization: Bearer``);
    ``max_age`` the connection lifetime in seconds (the spec's 60 minutes);
    ``max_message_bytes`` bounds one client message, as ``max_body_bytes`` bounds a body.
    """

    def __init__(
        self,
        upstream: Upstream,
        *,
        api_key: str | None = None,
        max_age: float = DEFAULT_MAX_AGE,
        max_message_bytes: int = 16 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_age > 0:
            raise ValueError(f"max_age must be > 0 seconds, got {max_age!r}")
        self.upstream = upstream
        self.redactor = upstream.redactor
        self.key = api_key.encode() if api_key else None
        self.max_age = max_age
        self.max_message_bytes = max_message_bytes
        self.clock = clock

    async def handle(self, websocket: WebSocket) -> None:
        """Serve one connection until the client leaves or the lifetime ends."""
        if self.key is not None and not authorized(websocket.headers, self.key):
            await _deny(websocket)
            return
        await websocket.accept()
        state = _Socket(opened=self.clock())
        try:
            while True:
                remaining = self.max_age - (self.clock() - state.opened)
                message: Any = None
                if remaining > 0:
                    with anyio.move_on_after(remaining):
                        message = await websocket.receive()
                if message is None:  # the lifetime ended, idle or between turns
                    await self._limit(websocket)
                    return
                if message["type"] == "websocket.disconnect":
                    return
                raw = message.get("text")
                if raw is None:
                    raw = (message.get("bytes") or b"").decode("utf-8", "replace")
                if self.clock() - state.opened >= self.max_age:
                    await self._limit(websocket)
                    return
                await self._turn(websocket, state, raw)
        except (WebSocketDisconnect, OSError):
            return

    # -- a turn --------------------------------------------------------------------------------

    async def _turn(self, websocket: WebSocket, state: _Socket, raw: str) -> None:
        state.turns += 1
        try:
            data, generate = self._parse(raw)
            previous = data.get("previous_response_id")
            history, expanded = self._expand(state, data, previous)
        except _Refused as exc:
            await self._envelope(websocket, exc.reply)
            return
        if not generate:
            await self._warm_up(websocket, state, data, history, previous)
            return
        call: Request | None = None
        reply: Any = None
        try:
            call = self.upstream.client.build_request(data, stream=True)
            reply = await self.upstream.client.send(call)
            if isinstance(reply, ResponseModel):
                from .._emit import emit_response

                reply = EventStream(_once(emit_response(reply)), provider=reply.provider)
            if not isinstance(reply, EventStream):
                raise TypeError(f"unexpected reply {type(reply).__name__}")
            await reply.prime()  # the commit point: a failure until here is an envelope
        except Exception as exc:
            if isinstance(reply, EventStream):
                with anyio.CancelScope(shield=True):
                    await reply.aclose()
            if previous is not None and state.latest is not None and previous == state.latest.id:
                state.latest = None  # R63
            await self._envelope(websocket, describe(exc, data), log=exc)
            return
        body = call.body if isinstance(call.body, CreateResponseBody) else None
        try:
            final = await self._relay(websocket, reply, body, previous if expanded else None)
        finally:
            with anyio.CancelScope(shield=True):
                await reply.aclose()
        if final is not None and final.status in ("completed", "incomplete"):
            state.latest = StoredResponse.from_response(final, history)
        elif previous is not None and state.latest is not None and previous == state.latest.id:
            state.latest = None  # R63: a failed continuation evicts the id it continued

    def _parse(self, raw: str) -> tuple[dict[str, Any], bool]:
        """The create body of a message and its ``generate`` flag, or ``_Refused``."""
        if len(raw) > self.max_message_bytes:
            raise _Refused(
                ErrorReply(
                    413,
                    "invalid_request_error",
                    f"The message is larger than the proxy's limit of {self.max_message_bytes} bytes.",
                    "request_too_large",
                )
            )
        try:
            data = json.loads(raw)
        except ValueError:
            raise _Refused(
                ErrorReply(400, "invalid_request_error", "The message is not valid JSON.", "invalid_json")
            ) from None
        if not isinstance(data, dict) or data.get("type") != "response.create":
            kind = data.get("type") if isinstance(data, dict) else None
            raise _Refused(
                ErrorReply(
                    400,
                    "invalid_request_error",
                    f"Unsupported message type {kind!r}: send {{'type': 'response.create', ...}}.",
                    "invalid_request",
                    "type",
                )
            )
        data.pop("type")
        forbidden = [name for name in _FORBIDDEN if name in data]
        if forbidden:
            raise _Refused(
                ErrorReply(
                    400,
                    "invalid_request_error",
                    f"{', '.join(forbidden)} must not be sent over a WebSocket.",
                    "invalid_request",
                    forbidden[0],
                )
            )
        generate = data.pop("generate", True)
        if not isinstance(generate, bool):
            raise _Refused(
                ErrorReply(
                    400, "invalid_request_error", "generate must be a boolean.", "invalid_request", "generate"
                )
            )
        return data, generate

    def _expand(
        self, state: _Socket, data: dict[str, Any], previous: Any
    ) -> tuple[list[dict[str, Any]], bool]:
        """The turn's full input history, and whether ``previous`` was expanded here (in place)."""
        new = _items(data.get("input"))
        latest = state.latest
        if previous is not None and latest is not None and previous == latest.id:
            history = [*latest.history(), *new]
            data.pop("previous_response_id")
            data["input"] = history
            return history, True
        if previous is not None and data.get("store") is False:
            shown = str(previous)[:200]
            raise _Refused(
                ErrorReply(
                    400,
                    "invalid_request_error",
                    f"Previous response with id {shown!r} not found on this connection (store is false).",
                    "previous_response_not_found",
                    "previous_response_id",
                )
            )
        return new, False

    async def _warm_up(
        self,
        websocket: WebSocket,
        state: _Socket,
        data: dict[str, Any],
        history: list[dict[str, Any]],
        previous: Any,
    ) -> None:
        """``generate: false`` (R64): an empty completed response whose id carries the input."""
        try:
            body = self.upstream.client.build_request(data, stream=False).body
        except RequestValidationError as exc:
            await self._envelope(websocket, describe(exc, data))
            return
        assert isinstance(body, CreateResponseBody)
        builder = EventBuilder(body)
        builder.created()
        builder.complete(usage={"input_tokens": 0, "output_tokens": 0})
        events = builder.drain()
        if previous is not None:
            events = [_patched(event, previous) for event in events]
        for event in events:
            await websocket.send_text(event.model_dump_json(by_alias=True, exclude_unset=True))
        final = getattr(events[-1], "response", None)
        if isinstance(final, Response):
            state.latest = StoredResponse.from_response(final, history)

    async def _relay(
        self, websocket: WebSocket, stream: EventStream, body: CreateResponseBody | None, previous: str | None
    ) -> Response | None:
        """Send the stream's events (numbered, spec-only, patched); a failure tail if it breaks."""
        last = -1
        open_items = OpenItems()
        scrub = self.redactor.bytes
        known = EVENT_TYPES
        final: Response | None = None
        try:
            while True:
                batch = await stream.next_batch()
                if not batch:
                    break
                for event in batch:
                    etype = event.type
                    if etype not in known and ":" not in etype:
                        continue  # an unprefixed non-spec event (as the SSE relay)
                    seq = event.sequence_number
                    if seq is None or seq <= last:
                        seq = last + 1
                        event = event.model_copy(update={"sequence_number": seq})
                    last = seq
                    if etype in _STRUCTURAL:
                        open_items.feed(event)
                    if previous is not None and etype in _RESPONSE_EVENTS:
                        event = _patched(event, previous)
                    await _send(websocket, scrub(_json(event)))
            snapshot = stream.snapshot()
            final = snapshot if snapshot is not None else None
        except (WebSocketDisconnect, OSError):
            raise
        except Exception as exc:
            reply = self.redactor.reply(describe(exc))
            logger.warning("WebSocket turn failed after it started (%s): %s", reply.code, reply.message)
            tail = failure_events(
                reply, partial=stream.snapshot(), open_items=open_items, next_sequence=last + 1, body=body
            )
            for event in tail:
                await _send(websocket, scrub(_json(event)))
            return None
        if final is not None and previous is not None:
            final = final.model_copy(update={"previous_response_id": previous})
        return final

    # -- envelopes -----------------------------------------------------------------------------

    async def _envelope(
        self, websocket: WebSocket, reply: ErrorReply, *, log: BaseException | None = None
    ) -> None:
        reply = self.redactor.reply(reply)
        if log is not None and reply.status >= 500:
            logger.warning("WebSocket turn failed (%d %s): %s", reply.status, reply.code, reply.message)
        error = {
            "type": reply.type,
            "code": reply.code or reply.type,
            "message": reply.message,
            "param": reply.param,
        }
        await websocket.send_text(json.dumps({"type": "error", "status": reply.status, "error": error}))

    async def _limit(self, websocket: WebSocket) -> None:
        reply = ErrorReply(
            400,
            "invalid_request_error",
            f"The WebSocket connection reached its {self.max_age:g}-second limit: open a new one.",
            LIMIT_REACHED,
        )
        try:
            await self._envelope(websocket, reply)
            await websocket.close(code=1000, reason="connection limit reached")
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass


async def _deny(websocket: WebSocket) -> None:
    """Refuse the handshake with a 401 when the server can say so, else close with 1008."""
    message = "Missing or invalid API key for this proxy: send it as a bearer token in the handshake."
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        from starlette.responses import JSONResponse

        body = {
            "error": {
                "message": message,
                "type": "authentication_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
        await websocket.send_denial_response(
            JSONResponse(body, status_code=401, headers={"www-authenticate": "Bearer"})
        )
        return
    await websocket.close(code=1008, reason="invalid API key")


async def _send(websocket: WebSocket, data: bytes) -> None:
    if websocket.application_state is WebSocketState.DISCONNECTED:
        raise WebSocketDisconnect(1006)
    await websocket.send_text(data.decode())


def _json(event: StreamEvent) -> bytes:
    return event.__pydantic_serializer__.to_json(event, by_alias=True, exclude_unset=True)


def _patched(event: StreamEvent, previous: str) -> StreamEvent:
    response = getattr(event, "response", None)
    if not isinstance(response, Response):
        return event
    return event.model_copy(
        update={"response": response.model_copy(update={"previous_response_id": previous})}
    )


def _items(value: Any) -> list[dict[str, Any]]:
    """A turn's ``input`` as item params (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list):
        return [dict(item) for item in value if isinstance(item, dict)]
    return []


async def _once(events: list[Any]) -> Any:
    yield events
