"""The WebSocket transport: one persistent connection to ``/v1/responses`` (README §9).

Needs the ``websocket`` extra (``websockets`` itself is imported in ``_ws_lib`` only). A
:class:`WebSocketTransport` *is* one connection: a :class:`~openresponses.Transport` that
middleware end at, like ``HTTPTransport``, so Retry, Timeout, Failover, Tracing and Metrics
treat a turn as they treat an HTTP stream: one call is one turn, one attempt one
``response.create`` sent.

- **Lazy and self-healing.** The socket opens at the first turn (or :meth:`connect`) and is
  opened again before a turn when it is gone (the server closed it, a turn broke it) or older
  than ``max_age`` (the spec's 60-minute limit, R67, taken early so it is not met mid-turn).
  Nothing that was sent is ever sent again by this reopening: it happens before the send.
- **One turn at a time** (R58): a lock is held from the send until the turn's terminal event.
  A turn whose stream is closed early is drained in the background (bounded by
  ``drain_timeout``) so the connection and its in-memory chain survive; a turn that broke
  (timeout, malformed message, dropped socket) closes the socket instead.
- **Errors where they are born.** A failed handshake is the ``APIStatusError`` of its status;
  a dropped or refused socket an ``APIConnectionError`` (retryable: a drop before the first
  content event is retried by ``Retry`` on a fresh socket); an error envelope before any event
  the ``APIStatusError`` of its status; ``websocket_connection_limit_reached`` a
  :class:`WebSocketLimitReached`, after which the socket is reopened and the turn sent again
  only when the chain can continue (``store`` not false) — never replayed otherwise.
- **No secrets anywhere**: the key and authorization-like headers are redacted from every error,
  failure event and from the ``websockets`` library's own log records (which would show the
  handshake headers at DEBUG).

A turn's stream is a ``_ws_turn.Turn``; :class:`RawSocket` (``_ws_raw``), the conformance
checker's bare socket, is re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping

from .._decisions import Recorded
from .._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    OpenResponsesError,
    RequestValidationError,
)
from .._pipeline import Reply, Request, Target
from .._redact import Redactor, display_url, url_password
from .._streaming import EventStream
from .._version import __version__
from ..types import CreateResponseBody, Response, StreamEvent
from ._reply import status_error_from_body
from ._url import check_url
from ._ws_codec import LIMIT_REACHED, PREVIOUS_NOT_FOUND, TurnDecoder, WebSocketLimitReached, encode_create
from ._ws_lib import (
    ClientConnection,
    ConnectionClosed,
    InvalidStatus,
    InvalidURI,
    State,
    WebSocketException,
    ws_connect,
)
from ._ws_lib import RedactingLogger as _RedactingLogger
from ._ws_lib import closed_error as _closed_error
from ._ws_raw import RawSocket
from ._ws_turn import Turn as _Turn
from ._ws_turn import clean as _clean

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "RawSocket",
    "WebSocketLimitReached",
    "WebSocketTransport",
    "websocket_url",
]

logger = logging.getLogger("openresponses")

#: Reopen a connection older than this before a turn: the spec's 60-minute limit, one minute early.
DEFAULT_MAX_AGE = 59 * 60.0
#: The largest message accepted (a ``response.completed`` carries the whole output).
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024


def websocket_url(base_url: str) -> str:
    """``ws(s)://host/v1/responses`` for a base URL (``http(s)://`` or ``ws(s)://``, with its prefix)."""
    text = base_url.strip() if isinstance(base_url, str) else base_url
    if isinstance(text, str):
        for ws, http in (("wss://", "https://"), ("ws://", "http://")):
            if text.lower().startswith(ws):
                text = http + text[len(ws) :]
    checked = check_url(text, key="base_url of the WebSocket transport")
    scheme, rest = checked.split("://", 1)
    return ("wss://" if scheme.lower() == "https" else "ws://") + rest + "/responses"


class WebSocketTransport:
    """One WebSocket connection to an Open Responses server, usable as a pipeline's transport.

    ``base_url`` is the server's base URL as for HTTP (``https://api.example.com/v1``; ``ws://``
    and ``wss://`` work too); the socket goes to ``<base>/responses``. ``api_key`` is sent as
    ``Authorization: Bearer`` in the handshake. ``open_timeout`` bounds the handshake,
    ``read_timeout`` the wait for each message of a turn (``APITimeoutError(which="read")``),
    ``max_age`` the age after which the socket is reopened between turns (``None``: only when
    the server says so), ``drain_timeout`` how long an abandoned turn may be drained before the
    socket is closed instead. ``compression`` is ``"deflate"`` (default) or ``None``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        provider: str = "default",
        headers: Mapping[str, str] | None = None,
        open_timeout: float | None = 10.0,
        read_timeout: float | None = 600.0,
        max_age: float | None = DEFAULT_MAX_AGE,
        drain_timeout: float = 10.0,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        compression: str | None = "deflate",
        ping_interval: float | None = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = websocket_url(base_url)
        for name, value in (
            ("open_timeout", open_timeout),
            ("read_timeout", read_timeout),
            ("max_age", max_age),
        ):
            if value is not None and not value > 0:
                raise ConfigError(f"must be > 0 seconds or None, got {value!r}", key=name)
        if compression not in ("deflate", None):
            raise ConfigError(f"must be 'deflate' or None, got {compression!r}", key="compression")
        if api_key is not None and (
            not isinstance(api_key, str) or not all(" " <= c <= "~" for c in api_key)
        ):
            raise ConfigError("the key must be printable ASCII without line breaks", key="api_key")
        self._api_key = api_key or None
        self._headers = {"user-agent": f"openresponses-python/{__version__}", **dict(headers or {})}
        self._target = Target(provider=provider, base_url=display_url(self._url))
        self._redactor = Redactor([self._api_key, url_password(self._url)]).with_headers(self._headers)
        self._wire_logger = _RedactingLogger(self._redactor)
        self._open_timeout = open_timeout
        self._read_timeout = read_timeout
        self._max_age = max_age
        self._drain_timeout = drain_timeout
        self._max_size = max_message_size
        self._compression = compression
        self._ping_interval = ping_interval
        self._clock = clock
        self._ws: ClientConnection | None = None
        self._opened_at = 0.0
        self._lock = asyncio.Lock()
        self._drains: set[asyncio.Task[None]] = set()
        self._closed = False
        self._local: set[str] = set()  # response ids created on the current socket
        #: A stable id for this connection across reconnects (ties the turns' spans together).
        self.connection_id = "wsc_" + secrets.token_hex(8)
        #: Sockets opened so far (the first one included).
        self.sockets_opened = 0
        self._why = "closed"  # why the next socket opens (for the reconnect decision)
        #: Turns sent (``response.create`` messages, resends included).
        self.turns = 0

    # -- the Transport protocol ----------------------------------------------------------------

    @property
    def target(self) -> Target:
        """The provider name and the socket URL (no credentials)."""
        return self._target

    @property
    def url(self) -> str:
        """The socket URL, password (if any) removed."""
        return display_url(self._url)

    @property
    def reconnects(self) -> int:
        """Sockets opened again after the first (a drop, the age limit, the server's limit)."""
        return max(0, self.sockets_opened - 1)

    @property
    def is_open(self) -> bool:
        """Whether a socket is open now (it may still be closed by the server at any time)."""
        return self._ws is not None and self._ws.state is State.OPEN

    @property
    def age(self) -> float | None:
        """Seconds since the current socket opened, ``None`` when none is open."""
        return self._clock() - self._opened_at if self.is_open else None

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"WebSocketTransport(provider={self._target.provider!r}, url={self.url!r}, {state})"

    async def connect(self) -> None:
        """Open the socket now (the first turn would open it otherwise). Idempotent."""
        async with self._lock:
            await self._ensure(None)

    async def aclose(self) -> None:
        """Close the socket and stop background drains. Idempotent; later turns raise."""
        self._closed = True
        for task in list(self._drains):
            task.cancel()
        await self._drop(graceful=True)

    async def __call__(self, request: Request, /) -> Reply:
        if request.operation != "create" or not isinstance(request.body, CreateResponseBody):
            raise RequestValidationError(
                "Only response.create runs over a WebSocket: call responses.compact() over HTTP."
            )
        message = encode_create(request.body)  # R55 is checked here, before anything is sent
        if self._closed:
            raise APIConnectionError("The WebSocket connection was closed.", provider=self._target.provider)
        await self._lock.acquire()
        try:
            decoder, first = await self._start(request, message)
        except BaseException:
            self._lock.release()
            raise
        assert self._ws is not None
        return EventStream(_Turn(self, self._ws, decoder, first), provider=self._target.provider)

    # -- a turn --------------------------------------------------------------------------------

    async def _start(self, request: Request, message: bytes) -> tuple[TurnDecoder, list[StreamEvent]]:
        """Send the turn and read its first message; resend once after the server's limit."""
        for resend in (False, True):
            await self._ensure(request)
            ws = self._ws
            assert ws is not None
            decoder = TurnDecoder(provider=self._target.provider)
            try:
                await ws.send(message, text=True)
                self.turns += 1
                first = await self._receive(ws, decoder)
            except WebSocketLimitReached as exc:
                await self._drop(graceful=True)
                body = request.body
                assert isinstance(body, CreateResponseBody)
                if resend or body.store is False:
                    exc.add_note(
                        "openresponses: the connection reached its lifetime limit; the next turn opens a "
                        "new one. Not sent again: with store=false the chain lived in the old connection's "
                        "memory only; start a new chain with the full context (continue_=False)."
                        if body.store is False
                        else "openresponses: the server refused the turn on a fresh connection too."
                    )
                    raise
                self._why = LIMIT_REACHED
                continue
            except APIStatusError as exc:
                self._note_lost_chain(exc, request)
                raise
            except BaseException:
                await self._drop(graceful=False)  # the socket's state is unknown: never reuse it
                raise
            return decoder, first
        raise AssertionError("unreachable")  # pragma: no cover

    async def _receive(self, ws: ClientConnection, decoder: TurnDecoder) -> list[StreamEvent]:
        """The next message's events (an envelope or a protocol error raises), redacted."""
        provider = self._target.provider
        while True:
            try:
                if self._read_timeout is None:
                    message = await ws.recv()
                else:
                    async with asyncio.timeout(self._read_timeout):
                        message = await ws.recv()
            except TimeoutError:
                raise APITimeoutError("read", self._read_timeout, provider=provider) from None
            except ConnectionClosed as exc:
                raise self._redactor.exception(_closed_error(exc, provider)) from None
            try:
                events = decoder.feed(message)
            except OpenResponsesError as exc:
                raise self._redactor.exception(exc) from None
            if events:
                return [_clean(event, self._redactor) for event in events]

    def _remember(self, events: list[StreamEvent]) -> None:
        for event in events:
            if event.type == "response.created" or event.type == "response.completed":
                response = getattr(event, "response", None)
                if isinstance(response, Response) and response.id:
                    self._local.add(response.id)

    def _release(self, ws: ClientConnection, *, healthy: bool) -> None:
        """End a turn: a broken socket is aborted (never reused), then the next turn may start."""
        if not healthy:
            self._abort(ws)
        self._lock.release()

    def _abort(self, ws: ClientConnection) -> None:
        if self._ws is ws:
            self._ws = None
        with contextlib.suppress(Exception):
            ws.transport.abort()

    def _drain(self, turn: _Turn) -> None:
        """Read an abandoned turn to its end in the background; its lock goes with it."""

        async def drain() -> None:
            healthy = False
            try:
                async with asyncio.timeout(self._drain_timeout):
                    while not turn.decoder.ended:
                        await self._receive(turn.ws, turn.decoder)
                healthy = True
            except Exception as exc:  # a background task: nobody to raise to
                logger.debug("draining an abandoned WebSocket turn failed: %s", type(exc).__name__)
            finally:
                self._release(turn.ws, healthy=healthy)

        try:
            task = asyncio.get_running_loop().create_task(
                drain(), name=f"openresponses-ws-drain-{self.connection_id}"
            )
        except RuntimeError:  # no running loop (interpreter shutdown): give the socket up
            self._release(turn.ws, healthy=False)
            return
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    # -- the socket ----------------------------------------------------------------------------

    async def _ensure(self, request: Request | None) -> None:
        """An open socket younger than ``max_age``: the current one, or a new one."""
        if self._closed:
            raise APIConnectionError("The WebSocket connection was closed.", provider=self._target.provider)
        ws = self._ws
        if ws is not None:
            if ws.state is not State.OPEN:
                self._why = "closed"
            elif self._max_age is not None and self._clock() - self._opened_at >= self._max_age:
                self._why = "max_age"
            else:
                return
            await self._drop(graceful=True)
        reopening = self.sockets_opened > 0
        await self._open()
        if reopening and request is not None:
            request.context.record(Recorded("websocket.reconnect", {"reason": self._why}))
        self._why = "closed"

    async def _open(self) -> None:
        headers = dict(self._headers)
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        provider = self._target.provider
        failure: OpenResponsesError | None = None
        try:
            self._ws = await ws_connect(
                self._url,
                additional_headers=headers,
                user_agent_header=None,
                open_timeout=self._open_timeout,
                max_size=self._max_size,
                compression=self._compression,
                ping_interval=self._ping_interval,
                logger=self._wire_logger,
            )
        except InvalidStatus as exc:
            response = exc.response
            failure = status_error_from_body(
                response.status_code,
                bytes(response.body or b""),
                {k: v for k, v in response.headers.raw_items()},
                provider=provider,
                reason=response.reason_phrase,
            )
        except InvalidURI as exc:
            failure = ConfigError(f"not a WebSocket URL: {exc}", key="base_url")
        except TimeoutError:
            failure = APITimeoutError("connect", self._open_timeout, provider=provider)
        except (OSError, WebSocketException) as exc:
            failure = APIConnectionError(
                f"Could not open the WebSocket: {type(exc).__name__}: {exc}", provider=provider
            )
        if failure is not None:
            raise self._redactor.exception(failure)
        self._opened_at = self._clock()
        self._local.clear()
        self.sockets_opened += 1

    async def _drop(self, *, graceful: bool) -> None:
        ws, self._ws = self._ws, None
        if ws is None:
            return
        if graceful:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout=2.0)
        else:
            ws.transport.abort()

    def _note_lost_chain(self, exc: APIStatusError, request: Request) -> None:
        """A ``previous_response_not_found`` for an id this transport saw on an older socket."""
        body = request.body
        previous = getattr(body, "previous_response_id", None)
        if (
            exc.code == PREVIOUS_NOT_FOUND
            and previous
            and self.sockets_opened > 1
            and previous not in self._local
        ):
            exc.add_note(
                "openresponses: the connection was reopened since that response was created; with "
                "store=false a chain lives only in the connection that made it. Start a new chain "
                "with the full context (continue_=False), or use store=true."
            )
