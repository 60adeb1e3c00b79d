"""WebSocket mode for callers: ``client.responses.connect()`` and the connection it returns.

A connection is a chain of *turns* over one persistent socket (README §9). Each turn is a
``Request`` through the client's own middleware, ending at the connection's
:class:`~openresponses.transports.websocket.WebSocketTransport` instead of HTTP, so Tracing,
Metrics, Retry, Timeout and the rest apply per turn with no WebSocket-specific code: a turn is a
streaming call whose transport happens to keep its socket.

What the connection adds on top:

- **Order.** At most one turn in flight (R58). A ``create()`` from another task waits for the
  turn in flight to end; from the task (or, sync, the thread) that holds that turn's unread
  stream it raises :class:`ConnectionBusyError` at once instead of waiting forever.
- **Continuation.** It remembers the id of the last turn that ended ``completed`` or
  ``incomplete``; ``create(..., continue_=True)`` sends it as ``previous_response_id`` with only
  the new items (R59).
- **Defaults.** Body fields given to ``connect()`` (``model``, ``instructions``, ``tools``,
  ``store``, ...) go with every turn: the spec does not carry instructions or tools over a
  ``previous_response_id``.
- **Telemetry.** Every turn records a ``websocket.turn`` decision (connection id, turn number)
  and, under ``Tracing``, sets ``openresponses.websocket.connection_id`` and
  ``openresponses.websocket.turn`` on its call span, so the turns of one connection can be
  found together.

The turn checks and the telemetry observer are in ``_connection_turns``; the sync
:class:`Connection` is in ``_sync_connection`` (re-exported here).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

from ._connection_turns import TurnObserver as _TurnObserver
from ._connection_turns import check_turn_params as check_turn_params
from ._errors import OpenResponsesError, RequestValidationError
from ._failed import RaiseOnFailed
from ._pipeline import AttemptBoundary, Reply, Request, compose
from ._streaming import AsyncResponseStream, EventStream, StreamEnd
from ._sync_connection import Connection
from .types import CreateResponseBody, Response

if TYPE_CHECKING:
    from ._client import AsyncClient, CreateParams
    from ._pipeline import Handler
    from ._ws_failover import Chain
    from .transports.websocket import WebSocketTransport

__all__ = ["AsyncConnection", "Connection", "ConnectionBusyError", "TurnParams"]

TurnParams = dict[str, Any]


class ConnectionBusyError(OpenResponsesError, RuntimeError):
    """A turn was started while this task (or thread) still holds the previous turn's open stream.

    A connection runs one turn at a time (the spec's rule); read the previous stream to its end
    or close it first, or open another connection for parallel runs. Not retryable.
    """


class AsyncConnection:
    """One WebSocket connection to ``/v1/responses``: turns in order, continuation, reconnects.

    Returned by ``client.responses.connect(...)``; use it as an async context manager::

        async with client.responses.connect(model="m", tools=tools) as conn:
            stream = await conn.create(input="What is the weather in Paris?")
            final = await stream.get_final_response()
            stream = await conn.create(input=[tool_output], continue_=True)

    ``create()`` returns the same :class:`~openresponses.AsyncResponseStream` as HTTP streaming.
    See docs/websocket.md for the lifecycle, reconnects and what is retried. Over a client's
    ``Failover`` the connection holds one socket per member (``endpoint``, ``sockets`` and
    ``chain`` from ``_ws_failover.socket_endpoint``) and ``transport`` is the first member's.
    """

    def __init__(
        self,
        client: AsyncClient,
        transport: WebSocketTransport,
        defaults: Mapping[str, Any],
        *,
        endpoint: Handler | None = None,
        sockets: Sequence[WebSocketTransport] = (),
        chain: Chain | None = None,
    ) -> None:
        self._client = client
        self._transport = transport
        self._sockets: tuple[WebSocketTransport, ...] = tuple(sockets) or (transport,)
        for socket in self._sockets:  # one id for the connection, whichever member serves a turn
            socket.connection_id = transport.connection_id
        self._chain = chain
        self._defaults = dict(defaults)
        # The client's layers, an instrumentor's registered defaults included (as of now).
        terminal = endpoint if endpoint is not None else AttemptBoundary(RaiseOnFailed(transport))
        self._handler = compose(client._layers(), terminal)
        self._failover = endpoint is not None
        self._idle = asyncio.Event()
        self._idle.set()
        self._holder: object = None  # the task (or thread) holding the turn in flight
        self._closed = False
        #: Turns started on this connection.
        self.turns = 0
        #: The last response that ended ``completed`` or ``incomplete`` (what ``continue_`` continues).
        self.last_response: Response | None = None
        #: The provider that produced :attr:`last_response` (a Failover member's name).
        self.last_provider: str | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def transport(self) -> WebSocketTransport:
        """The transport holding the socket (reconnect counters, age, URL); the first member's
        under a Failover (see :attr:`transports`)."""
        return self._transport

    @property
    def transports(self) -> tuple[WebSocketTransport, ...]:
        """Every socket of this connection: one, or one per Failover member, in order."""
        return self._sockets

    @property
    def connection_id(self) -> str:
        """A stable id for this connection (in the turns' spans), the same across reconnects."""
        return self._transport.connection_id

    @property
    def last_response_id(self) -> str | None:
        """The id ``create(..., continue_=True)`` sends as ``previous_response_id``."""
        return self.last_response.id if self.last_response is not None else None

    @property
    def reconnects(self) -> int:
        """Times a socket was opened again (a drop, the age limit, the server's limit)."""
        return sum(socket.reconnects for socket in self._sockets)

    @property
    def busy(self) -> bool:
        """Whether a turn is in flight (its stream not yet ended)."""
        return not self._idle.is_set()

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose()`` was called."""
        return self._closed

    def __repr__(self) -> str:
        return (
            f"<AsyncConnection {self.connection_id} turns={self.turns} reconnects={self.reconnects} "
            f"{'closed' if self._closed else 'open'}>"
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncConnection:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the socket now (the first turn opens it otherwise).

        Over a Failover nothing opens here: each member's socket opens at the first turn it
        serves, so a primary that is down fails over instead of failing the block.
        """
        self._check_open()
        if not self._failover:
            await self._transport.connect()

    async def aclose(self) -> None:
        """Close the socket(s). Idempotent; a turn in flight ends with a connection error."""
        if not self._closed:
            self._closed = True
            for socket in self._sockets:
                await socket.aclose()

    # -- turns ---------------------------------------------------------------------------------

    def prepare(
        self,
        params: Mapping[str, Any],
        *,
        continue_: bool = False,
        generate: bool | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        function: str = "create",
    ) -> Request:
        """Check a turn and build its ``Request`` (nothing is sent); ``continue_`` is resolved later."""
        check_turn_params(function, params, extra_body)
        if continue_ not in (True, False):
            raise RequestValidationError(f"continue_: expected a bool, got {type(continue_).__name__}")
        if generate not in (True, False, None):
            raise RequestValidationError(f"generate: expected a bool, got {type(generate).__name__}")
        if continue_ and "previous_response_id" in params:
            raise RequestValidationError(
                "pass previous_response_id=... or continue_=True, not both (continue_ sends the "
                "connection's last response id)"
            )
        data: dict[str, Any] = {**self._defaults, **params}
        if generate is not None:
            data["generate"] = generate
        request = self._client.build_request(
            data, stream=False, extra_headers=extra_headers, extra_body=extra_body, timeout=timeout
        )
        return request.replace(stream=True)  # every turn streams; the body never says so (R55)

    async def create(
        self,
        *,
        continue_: bool = False,
        generate: bool | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        **params: Unpack[CreateParams],
    ) -> AsyncResponseStream:
        """Start a turn; its events as an :class:`~openresponses.AsyncResponseStream`.

        ``continue_=True`` continues from :attr:`last_response_id` (send only the new items);
        ``generate=False`` warms the connection up (tools, instructions) and still returns a
        response id to continue from. Other keywords are body fields, merged over the ones given
        to ``connect()``; ``stream``, ``stream_options`` and ``background`` are refused (R55).
        Raises :class:`ConnectionBusyError` when this task still holds the previous turn's
        unread stream; from another task it waits for that turn to end.
        """
        request = self.prepare(
            params,
            continue_=continue_,
            generate=generate,
            extra_headers=extra_headers,
            extra_body=extra_body,
            timeout=timeout,
        )
        return await self.send(request, continue_=continue_)

    async def send(
        self, request: Request, *, continue_: bool = False, holder: object = None
    ) -> AsyncResponseStream:
        """Run a prepared turn through the middleware (waiting for the turn in flight first)."""
        holder = holder if holder is not None else asyncio.current_task()
        await self._wait_turn(holder)
        try:
            self._check_open()
            if continue_:
                previous = self.last_response_id
                if previous is None:
                    raise RequestValidationError(
                        "continue_=True: no turn has completed on this connection yet, so there is "
                        "nothing to continue from"
                    )
                request = request.replace(
                    body=request.body.model_copy(update={"previous_response_id": previous})
                )
            self.turns += 1
            request.context.observers.append(_TurnObserver(self.connection_id, self.turns))
            reply = await self._handler(request)
            stream = _as_stream(reply)
        except BaseException:
            self._end_turn()
            raise
        stream.tap(on_end=lambda end: self._on_end(end, request))
        return AsyncResponseStream(stream)

    async def _wait_turn(self, holder: object) -> None:
        while not self._idle.is_set():
            if holder is self._holder:
                raise ConnectionBusyError(
                    "A turn is still in flight on this connection and this caller holds its stream: "
                    "read it to the end (or close it) before the next create(), or open another "
                    "connection for parallel runs."
                )
            await self._idle.wait()
        self._idle.clear()
        self._holder = holder

    def _on_end(self, end: StreamEnd, request: Request) -> None:
        response = end.response
        ok = end.error is None and not end.abandoned and response is not None
        if ok and response is not None and response.status in ("completed", "incomplete") and response.id:
            self.last_response = response
            # Failover names the member that served (a recovery the one that finished).
            self.last_provider = request.context.provider or self._transport.target.provider
            if self._chain is not None and isinstance(request.body, CreateResponseBody):
                self._chain.advance(request.body, response, self.last_provider)
        self._end_turn()

    def _end_turn(self) -> None:
        self._holder = None
        self._idle.set()

    def _check_open(self) -> None:
        if self._closed:
            from ._client import ClientClosedError

            raise ClientClosedError("The WebSocket connection was closed: open a new one with connect().")


def _as_stream(reply: Reply) -> EventStream:
    from ._client import _as_stream as shape

    return shape(reply)
