"""``ScriptedWebSocketServer``: the scripted loopback server, speaking WebSocket mode too (README §9).

One server, one port, one queue of scenarios: ``POST /v1/responses`` is answered over HTTP
exactly as by :class:`~openresponses.testing.ScriptedServer`, and a WebSocket on
``/v1/responses`` gets each ``response.create`` answered with the next scenario's events, one
JSON message each. So a test (or a benchmark) can run the same script over both transports.

What it does per connection, as the spec asks a server to: turns in order (R58); the latest
response kept in connection memory, so ``previous_response_id`` continues it with
``store: false`` too (R60); an id it does not hold fails with ``previous_response_not_found``
unless it was stored (``store`` not false, R61/R62); a failed continuation evicts that id
(R63); ``generate: false`` warms up and still returns a response id (R64); past ``max_age``
seconds the next turn gets ``websocket_connection_limit_reached`` and the connection closes
(R67); ``stream`` / ``stream_options`` / ``background`` in a turn are refused (R55); a message
that is not a ``response.create`` gets an ``invalid_request`` envelope. Every message received
is recorded in :attr:`messages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..types import CreateResponseBody
from ._loopback import Connection
from ._script import Scenario, ScenarioQueue, text
from ._server import ScriptedServer
from ._transport import RecordedRequest
from ._ws_frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameReader,
    close_frame,
    encode_frame,
    handshake_reply,
    is_upgrade,
)
from ._ws_script import (
    LIMIT_REACHED,
    Close,
    Drop,
    Send,
    Turn,
    WebSocketTurn,
    as_turn,
    compacting,
    drop_after_first_event,
    drop_before_first_event,
    envelope,
    lanes,
    limit_reached,
    plan_turn,
    ws_error,
)

__all__ = [
    "RecordedMessage",
    "ScriptedWebSocketServer",
    "WebSocketTurn",
    "compacting",
    "drop_after_first_event",
    "drop_before_first_event",
    "lanes",
    "limit_reached",
    "ws_error",
]

_FORBIDDEN = ("stream", "stream_options", "background")
_POLL = 0.005


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One client message as the server received it: ``connection`` numbers sockets from 1."""

    connection: int
    data: Any
    """The parsed JSON (``None`` if it was not JSON)."""
    raw: str
    received_at: float = field(default_factory=time.monotonic)

    @property
    def body(self) -> dict[str, Any]:
        """The create body (the message without ``type``)."""
        return (
            {k: v for k, v in (self.data or {}).items() if k != "type"} if isinstance(self.data, dict) else {}
        )


class ScriptedWebSocketServer(ScriptedServer):
    """The scripted loopback server, with WebSocket mode on ``/v1/responses``::

        async with ScriptedWebSocketServer([text("Hi"), function_call("f", {})]) as server:
            async with AsyncClient(base_url=server.base_url) as client:
                async with client.responses.connect(model="m") as conn:
                    first = await (await conn.create(input="Hello")).get_final_response()

    ``turns`` and ``default`` are scenarios (:func:`~openresponses.testing.text`, ...) or
    :class:`~openresponses.testing.WebSocketTurn` values, shared with HTTP requests in order.
    ``max_age`` (seconds) is the connection lifetime after which a turn gets
    ``websocket_connection_limit_reached`` (the spec's 60 minutes; ``None``: no limit).
    """

    _thread_name = "scripted-ws-server"

    def __init__(
        self,
        turns: Iterable[Turn] = (),
        *,
        default: Turn | None = None,
        prefix: str = "/v1",
        api_key: str | None = None,
        max_age: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(prefix=prefix, api_key=api_key, host=host, port=port)
        self._queue = self._turns = _TurnQueue(turns, default)
        self.max_age = max_age
        #: Every WebSocket message received, in order.
        self.messages: list[RecordedMessage] = []
        #: WebSocket connections accepted so far, and those that have ended.
        self.sockets_opened = 0
        self.sockets_closed = 0
        self._sockets: set[asyncio.StreamWriter] = set()

    # -- scripting ------------------------------------------------------------------------------

    def push(self, *turns: Turn) -> None:
        """Queue turns (scenarios or :class:`WebSocketTurn`), consumed one per request in order."""
        self._turns.push_turns(*turns)

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1/responses``."""
        return f"ws://{self.host}:{self.port}{self.prefix}/responses"

    @property
    def open_sockets(self) -> int:
        """WebSocket connections open now."""
        return self.sockets_opened - self.sockets_closed

    def drop_sockets(self) -> None:
        """Abort every open WebSocket connection (a server restart, a network cut)."""
        for writer in list(self._sockets):
            writer.transport.abort()

    # -- HTTP or WebSocket ----------------------------------------------------------------------

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        if not is_upgrade(request.method, request.headers):
            return await super()._respond(request, connection)
        if request.path != self.prefix + "/responses":
            return await self._send_error(
                connection, 404, f"No WebSocket route for {request.path}.", "not_found"
            )
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return await self._send_error(
                connection, 401, "Missing or invalid API key.", "authentication_error", "invalid_api_key"
            )
        try:
            reply = handshake_reply(request.headers)
        except FrameError as exc:
            return await self._send_error(connection, 400, str(exc))
        connection.writer.write(reply)
        await connection.writer.drain()
        self.sockets_opened += 1
        self._sockets.add(connection.writer)
        try:
            await _Session(self, connection, self.sockets_opened).run()
        finally:
            self._sockets.discard(connection.writer)
            self.sockets_closed += 1
        return False


class _TurnQueue(ScenarioQueue):
    """The scenario queue, keeping each entry's WebSocket extras: HTTP requests take the
    scenario, WebSocket turns the whole :class:`WebSocketTurn` (one order for both)."""

    def __init__(self, turns: Iterable[Turn], default: Turn | None) -> None:
        given = [as_turn(turn) for turn in turns]
        self._default_turn = as_turn(default) if default is not None else WebSocketTurn(text("Hello"))
        super().__init__([turn.scenario for turn in given], self._default_turn.scenario)
        self._turns: deque[WebSocketTurn] = deque(given)

    def push(self, *scenarios: Scenario) -> None:
        self.push_turns(*scenarios)

    def push_turns(self, *turns: Turn) -> None:
        given = [as_turn(turn) for turn in turns]
        super().push(*(turn.scenario for turn in given))
        with self._lock:
            self._turns.extend(given)

    def next(self) -> Scenario:
        return self.next_turn().scenario

    def next_turn(self) -> WebSocketTurn:
        with self._lock:
            turn = self._turns.popleft() if self._turns else self._default_turn
            if self._queue:
                self._queue.popleft()
        return dataclasses.replace(turn, scenario=turn.scenario.with_(ledger=self.ledger))


class _Session:
    """One WebSocket connection: read messages, play turns in order, keep the latest response."""

    def __init__(self, server: ScriptedWebSocketServer, connection: Connection, number: int) -> None:
        self.server = server
        self.reader = connection.reader
        self.writer = connection.writer
        self.number = number
        self.frames = FrameReader()
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.opened = time.monotonic()
        self.latest: str | None = None  # the connection-local latest response id (R60)
        self.closed = False

    async def run(self) -> None:
        reading = asyncio.create_task(self._read())
        try:
            while not self.closed:
                message = await self.inbox.get()
                if message is None:
                    break
                await self._turn(message)
        except (ConnectionError, OSError):
            pass
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for message in self.frames.feed(data):
                    if message.opcode in (OP_TEXT, OP_BINARY):
                        await self.inbox.put(message.text)
                    elif message.opcode == OP_PING:
                        self._write(encode_frame(OP_PONG, message.data))
                    elif message.opcode == OP_CLOSE:
                        self._write(close_frame(1000))
                        self.closed = True
                        break
                if self.closed:
                    break
        except FrameError as exc:
            self._write(close_frame(exc.code, str(exc)))
        except (ConnectionError, OSError):
            pass
        finally:
            await self.inbox.put(None)

    def _write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    async def _send(self, text: str) -> None:
        self._write(encode_frame(OP_TEXT, text.encode()))
        await self.writer.drain()

    async def _error(self, status: int, code: str, message: str, error_type: str = "invalid_request") -> None:
        await self._send(envelope(status, {"type": error_type, "code": code, "message": message}))

    async def _turn(self, raw: str) -> None:
        server = self.server
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = None
        server.messages.append(RecordedMessage(self.number, data, raw))
        if not isinstance(data, dict) or data.get("type") != "response.create":
            kind = data.get("type") if isinstance(data, dict) else None
            await self._error(
                400, "invalid_request", f"Unsupported message type {kind!r}: send response.create."
            )
            return
        forbidden = [name for name in _FORBIDDEN if name in data]
        if forbidden:
            await self._error(
                400, "invalid_request", f"{', '.join(forbidden)} must not be sent over WebSocket."
            )
            return
        if server.max_age is not None and time.monotonic() - self.opened >= server.max_age:
            await self._error(400, LIMIT_REACHED, "The WebSocket connection reached its lifetime limit.")
            self._write(close_frame(1000, "connection limit reached"))
            self.closed = True
            return
        fields = {k: v for k, v in data.items() if k != "type"}
        generate = fields.pop("generate", True) is not False
        try:
            body = CreateResponseBody.model_validate(fields)
        except ValidationError as exc:
            await self._error(
                400, "invalid_request", f"Invalid response.create: {exc.error_count()} problem(s)."
            )
            return
        previous = body.previous_response_id
        ledger = server._queue.ledger
        if previous is not None and previous != self.latest and previous not in ledger:
            await self._error(
                400,
                "previous_response_not_found",
                f"Previous response with id {previous!r} not found.",
            )
            return
        turn = server._turns.next_turn()
        plan = plan_turn(turn, body, generate=generate)
        if plan.failed and previous is not None and previous == self.latest:
            self.latest = None  # R63: a failed continuation evicts the id it continued
        await self._play(plan.steps)
        if plan.continuable and plan.response_id:
            self.latest = plan.response_id
            if body.store is not False:
                ledger.add(plan.response_id)

    async def _play(self, steps: tuple[Send | Drop | Close, ...]) -> None:
        for step in steps:
            if isinstance(step, Send):
                if not await self._pause(step.pause):
                    raise ConnectionResetError
                if step.data:
                    await self._send(step.data)
            elif isinstance(step, Drop):
                self.writer.transport.abort()
                self.closed = True
                raise ConnectionResetError
            else:
                assert isinstance(step, Close)
                self._write(close_frame(step.code, step.reason))
                await self.writer.drain()
                self.closed = True
                return

    async def _pause(self, seconds: float | None) -> bool:
        if seconds is not None and seconds <= 0:
            return not self.writer.is_closing()
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self.writer.is_closing() and not self.closed:
            remaining = _POLL if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return True
            await asyncio.sleep(min(remaining, _POLL))
        return False
