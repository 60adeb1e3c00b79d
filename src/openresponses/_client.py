"""``AsyncClient``: configuration, request building, and the middleware pipeline.

The client is thin on purpose: it validates the call into a typed ``Request``, runs it through
``compose(middleware, AttemptBoundary(transport))`` and shapes the reply for the caller. Retry,
failover, tracing and caching are middleware, never welded in here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack, overload

from pydantic import ValidationError

from ._errors import ConfigError, OpenResponsesError, ProtocolError, RequestValidationError
from ._failed import RaiseOnFailed, raise_if_failed
from ._options import check_http_client, config_api_key, config_headers, config_timeout, retry_layers
from ._pipeline import (
    AsyncCloseable,
    AttemptBoundary,
    CallContext,
    CallOptions,
    Endpoint,
    Handler,
    Middleware,
    Reply,
    Request,
    compose,
)
from ._streaming import AsyncResponseStream, EventStream, _stamp
from ._validate import (
    check_extra_body,
    check_headers,
    check_idempotency_key,
    check_keywords,
    check_no_null,
    check_stream,
    check_timeout,
    free_form_json,
)
from .types import CompactResponse, CompactResponseBody, CreateResponseBody, Response
from .types.enums import IncludeValue, ServiceTier, Truncation

if TYPE_CHECKING:
    import httpx

    from ._connection import AsyncConnection
    from ._pipeline import Transport
    from .transports.websocket import WebSocketTransport

__all__ = ["AsyncClient", "AsyncResponses", "ClientClosedError", "CompactParams", "CreateParams"]

ENV_BASE_URL = "OPENRESPONSES_BASE_URL"
ENV_API_KEY = "OPENRESPONSES_API_KEY"

#: Outer middleware added to every client (auto-instrumentation): name -> factory. A factory gets
#: the client's own middleware and returns the layers to run outermost (none to skip this client).
#: Change it only through :func:`register_default_middleware`; clients recompose on their next call.
_DEFAULT_MIDDLEWARE: dict[str, Callable[[tuple[Middleware, ...]], Sequence[Middleware]]] = {}
_default_generation = [0]


def register_default_middleware(
    name: str, factory: Callable[[tuple[Middleware, ...]], Sequence[Middleware]] | None
) -> None:
    """Add (or, with ``factory=None``, remove) outer middleware for every client, existing ones too.

    The hook ``openresponses.integrations.otel.OpenResponsesInstrumentor`` uses: no monkeypatching.
    Registered factories run in registration order, outermost first; each client calls them when
    it composes its pipeline, and again on its next call after any change here.
    """
    if factory is None:
        _DEFAULT_MIDDLEWARE.pop(name, None)
    else:
        _DEFAULT_MIDDLEWARE[name] = factory
    _default_generation[0] += 1


class CreateParams(TypedDict, total=False):
    """Body fields of ``POST /responses`` (every one optional; see ``CreateResponseBody``).

    ``None`` is sent as JSON ``null`` where the spec allows it. The fields typed without
    ``None`` here (``model``, ``include``, ``background``, ``truncation``, ``store``,
    ``service_tier``) are omitted for the default; ``None`` for them is a
    ``RequestValidationError``.
    """

    model: str
    input: str | Sequence[Any] | None
    instructions: str | None
    previous_response_id: str | None
    include: Sequence[IncludeValue]
    tools: Sequence[Any] | None
    tool_choice: Any
    metadata: Mapping[str, str] | None
    text: Any
    temperature: float | None
    top_p: float | None
    presence_penalty: float | None
    frequency_penalty: float | None
    parallel_tool_calls: bool | None
    stream_options: Any
    background: bool
    max_output_tokens: int | None
    max_tool_calls: int | None
    reasoning: Any
    safety_identifier: str | None
    prompt_cache_key: str | None
    truncation: Truncation
    store: bool
    service_tier: ServiceTier
    top_logprobs: int | None


class CompactParams(TypedDict, total=False):
    """Body fields of ``POST /responses/compact``."""

    input: str | Sequence[Any] | None
    previous_response_id: str | None
    instructions: str | None
    prompt_cache_key: str | None


#: Keywords of ``create()`` / ``stream()`` other than body fields (for "did you mean" hints).
CALL_OPTIONS = frozenset({"stream", "extra_headers", "extra_body", "timeout", "idempotency_key"})
CREATE_KEYWORDS = frozenset(CreateParams.__optional_keys__) | CALL_OPTIONS
COMPACT_KEYWORDS = frozenset(CompactParams.__optional_keys__) | {"model"} | (CALL_OPTIONS - {"stream"})


class ClientClosedError(OpenResponsesError, RuntimeError):
    """The client was closed: a call made after ``close()`` / ``aclose()``, or a call or stream
    still running in another thread when the sync ``Client`` was closed. Not retryable."""

    def __init__(self, message: str = "The client was closed.") -> None:
        super().__init__(message)


def _validate(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError.from_validation_error(model.__name__, exc) from None


def _check_json(data: Mapping[str, Any]) -> None:
    """Every body value is JSON (typed scalars are pydantic's; this catches the free-form rest)."""
    for name, value in data.items():
        free_form_json(value, name)


def _check_call(function: str, params: Mapping[str, Any], valid: frozenset[str]) -> None:
    """The Python call's own rules: known keywords only, no ``None`` where null is not allowed."""
    check_keywords(function, params, valid)
    check_no_null(params)


class AsyncResponses:
    """``client.responses``: create, stream and compact responses."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    async def create(
        self,
        *,
        stream: Literal[False] | None = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> Response: ...

    @overload
    async def create(
        self,
        *,
        stream: Literal[True],
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> AsyncResponseStream: ...

    async def create(
        self,
        *,
        stream: bool | None = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> Response | AsyncResponseStream:
        """Create a response. With ``stream=True``, an async iterator of typed events.

        ``extra_body`` adds provider-specific body fields, ``extra_headers`` per-call headers,
        ``timeout`` overrides the client's timeout for this call (seconds or ``httpx.Timeout``).
        Every argument is checked before anything is sent: an unknown keyword is an
        ``UnknownParameterError`` (a ``TypeError``), any other problem a
        ``RequestValidationError`` naming the parameter. A response that failed raises
        ``ResponseFailedError`` (``.response`` attached), streamed or not; an incomplete one
        is returned (``status == "incomplete"``).
        """
        request = self.prepare(
            "create",
            params,
            stream=stream,
            extra_headers=extra_headers,
            extra_body=extra_body,
            timeout=timeout,
            idempotency_key=idempotency_key,
        )
        return await self.deliver(request)

    def prepare(
        self,
        function: str,
        params: Mapping[str, Any],
        *,
        stream: object,
        extra_headers: object,
        extra_body: object,
        timeout: object,
        idempotency_key: object,
    ) -> Request:
        """Check a ``create()`` / ``stream()`` call and build its ``Request`` (nothing is sent).

        ``function`` names the method in error messages. Raises ``UnknownParameterError`` or
        ``RequestValidationError``; the sync client calls it in the caller's thread.
        """
        _check_call(function, params, CREATE_KEYWORDS)
        if isinstance(extra_body, Mapping):
            check_no_null({k: v for k, v in extra_body.items() if k in CREATE_KEYWORDS})
        return self._client.build_request(
            params,
            stream=stream,  # type: ignore[arg-type]  # checked there
            extra_headers=extra_headers,  # type: ignore[arg-type]
            extra_body=extra_body,  # type: ignore[arg-type]
            timeout=timeout,
            idempotency_key=idempotency_key,  # type: ignore[arg-type]
        )

    async def deliver(self, request: Request) -> Response | AsyncResponseStream:
        """Send a prepared ``create`` request; shape the reply (a response, or a stream)."""
        reply = await self._client.send(request)
        if request.stream:
            return AsyncResponseStream(_as_stream(reply))
        return _as_response(reply, request.context.provider)

    def stream(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> AsyncStreamManager:
        """Stream a response: ``async with client.responses.stream(...) as stream: ...``.

        The stream yields typed events and accumulates the final response
        (``await stream.get_final_response()``); leaving the block releases the connection.
        The arguments are checked here, at the call, as for ``create()``.
        """
        request = self.prepare(
            "stream",
            params,
            stream=True,
            extra_headers=extra_headers,
            extra_body=extra_body,
            timeout=timeout,
            idempotency_key=idempotency_key,
        )
        return AsyncStreamManager(self._client, request)

    def connect(
        self,
        *,
        base_url: str | None = None,
        transport: WebSocketTransport | None = None,
        **params: Unpack[CreateParams],
    ) -> AsyncConnection:
        """Open a WebSocket connection to ``/v1/responses`` (WebSocket mode, docs/websocket.md)::

            async with client.responses.connect(model="m", tools=tools) as conn:
                stream = await conn.create(input="Hi")
                stream = await conn.create(input=[tool_output], continue_=True)

        Each turn runs through this client's middleware and ends at the connection's socket.
        ``params`` are body fields sent with every turn (``model``, ``instructions``, ``tools``,
        ``store``, ...). The socket goes to ``base_url`` (default: the client's, with its key and
        default headers) or through ``transport`` (a ``WebSocketTransport`` you configured). On a
        client built with ``endpoint=Failover([...])`` each member ``Provider`` gets its own socket
        and a turn fails over before its first content event (docs/websocket.md, Failover).
        Needs the ``websocket`` extra. Checked here: nothing is sent until the block is entered.
        """
        return self._client.connect(base_url=base_url, transport=transport, params=params)

    async def compact(
        self,
        *,
        model: str,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        **params: Unpack[CompactParams],
    ) -> CompactResponse:
        """``POST /responses/compact``: a compacted input window to start a new chain from."""
        request = self.prepare_compact(
            model=model, extra_headers=extra_headers, extra_body=extra_body, timeout=timeout, params=params
        )
        reply = await self._client.send(request)
        if not isinstance(reply, CompactResponse):
            raise ProtocolError(f"Expected a compaction result, got {type(reply).__name__}.")
        return reply

    def prepare_compact(
        self,
        *,
        model: object,
        extra_headers: object,
        extra_body: object,
        timeout: object,
        params: Mapping[str, Any],
    ) -> Request:
        """Check a ``compact()`` call and build its ``Request`` (nothing is sent)."""
        _check_call("compact", params, COMPACT_KEYWORDS)
        check_no_null({"model": model})
        extra = check_extra_body(extra_body)
        data: dict[str, Any] = {"model": model, **params, **extra}
        _check_json(data)
        return Request(
            body=_validate(CompactResponseBody, data),
            operation="compact",
            stream=False,
            headers=check_headers(extra_headers),
            options=CallOptions(timeout=check_timeout(timeout)),
            context=CallContext(),
        )


class AsyncStreamManager:
    """Async context manager returned by ``responses.stream()``; sends on enter, closes on exit."""

    __slots__ = ("_client", "_request", "_stream")

    def __init__(self, client: AsyncClient, request: Request) -> None:
        self._client = client
        self._request = request
        self._stream: AsyncResponseStream | None = None

    async def __aenter__(self) -> AsyncResponseStream:
        reply = await self._client.send(self._request)
        self._stream = AsyncResponseStream(_as_stream(reply))
        return self._stream

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._stream is not None:
            await self._stream.close()


def _as_stream(reply: Reply) -> EventStream:
    if isinstance(reply, EventStream):
        return reply
    if isinstance(reply, Response):
        # A middleware answered a stream request with a whole response (e.g. a cache hit):
        # replay it as the spec's event sequence so the caller's loop works unchanged.
        from ._emit import emit_response

        return EventStream(_once(emit_response(reply)), provider=reply.provider)
    raise ProtocolError(f"Expected an event stream, got {type(reply).__name__}.")


async def _once(events: list[Any]) -> Any:
    yield events


def _as_response(reply: Reply, provider: str | None) -> Response:
    if isinstance(reply, Response):
        if reply.provider is None:
            _stamp(reply, provider)
        # Transports already raise (RaiseOnFailed); this covers a middleware's own answer.
        raise_if_failed(reply, provider)
        return reply
    raise ProtocolError(f"Expected a response, got {type(reply).__name__}.")


class AsyncClient:
    """Async client for any Open Responses server.

    ``base_url`` includes the version prefix (``http://localhost:8001/v1``); it and ``api_key``
    default to ``OPENRESPONSES_BASE_URL`` / ``OPENRESPONSES_API_KEY``. ``middleware`` runs
    outermost first and ends in the endpoint: ``endpoint=`` (a ``Failover``, a ``Provider``, any
    handler), else ``transport`` (by default HTTP to ``base_url``). A ``Failover`` given as the
    last middleware is taken as the endpoint, as before. ``max_retries=N`` is openai-python's
    shorthand for a ``Retry(RetryPolicy(attempts=N + 1))`` innermost in the middleware.
    Configuration is checked here: a bad value is a ``ConfigError`` naming the option::

        client = AsyncClient(base_url="http://localhost:8001/v1", middleware=[Retry()])
        response = await client.responses.create(model="m", input="Hello")
        print(response.output_text)

        client = AsyncClient(middleware=[Tracing(), Retry()], endpoint=Failover([primary, backup]))
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        middleware: Iterable[Middleware | Endpoint] = (),
        transport: Transport | None = None,
        provider: str = "default",
        endpoint: Handler | None = None,
        max_retries: int | None = None,
    ) -> None:
        self._socket_options: dict[str, Any] | None = None
        given = list(middleware)
        if endpoint is None and given and isinstance(given[-1], Endpoint):
            last = given.pop()  # the 0.1 spelling: Failover last in the middleware list
            assert isinstance(last, Endpoint)
            endpoint = last
        layers: list[Middleware] = []
        for index, layer in enumerate(given):
            if isinstance(layer, Endpoint):
                raise ValueError(
                    f"{type(layer).__name__} ends the chain: pass it as endpoint=... (or last in the "
                    f"middleware list); found at position {index} of {len(given)}."
                )
            layers.append(layer)
        if endpoint is not None and transport is not None:
            raise ValueError("pass endpoint=... or transport=..., not both")
        layers.extend(retry_layers(max_retries, layers))
        self._middleware: tuple[Middleware, ...] = tuple(layers)
        self._endpoint: Handler | None = endpoint
        self._closed = False
        self.base_url = base_url or os.environ.get(ENV_BASE_URL)
        self._transport: Transport | None = transport
        if transport is None and endpoint is None:
            if not self.base_url:
                raise ValueError(
                    f"base_url is required: pass base_url=... or set {ENV_BASE_URL} "
                    "(or pass endpoint=Failover([...]) or transport=...)."
                )
            if http_client is not None:
                check_http_client(http_client, "AsyncClient")
            from .transports.http import DEFAULT_TIMEOUT, HTTPTransport

            key = config_api_key(api_key if api_key is not None else os.environ.get(ENV_API_KEY))
            headers = config_headers(default_headers)
            # Built now, so a bad base URL or timeout fails here, not at the first call.
            self._transport = HTTPTransport(
                self.base_url,
                api_key=key,
                provider=provider,
                timeout=DEFAULT_TIMEOUT if timeout is None else config_timeout(timeout),
                headers=headers,
                http_client=http_client,
            )
            # What responses.connect() needs to open a WebSocket to the same server.
            self._socket_options = {"api_key": key, "provider": provider, "headers": headers}
        elif http_client is not None:
            raise ConfigError(
                "http_client is used by the built-in HTTP transport only; with transport= or "
                "endpoint=, configure the HTTP client there (e.g. Provider(transport=...)).",
                key="http_client",
            )
        if endpoint is None:
            assert self._transport is not None
            endpoint = AttemptBoundary(RaiseOnFailed(self._transport))
        self._terminal: Handler = endpoint
        self._handler = self._compose()
        self.responses = AsyncResponses(self)

    def _compose(self) -> Handler:
        """The pipeline: registered default middleware (outermost), then the client's own."""
        self._generation = _default_generation[0]
        return compose(self._layers(), self._terminal)

    def _layers(self) -> list[Middleware]:
        """Every layer a call goes through, outermost first: the registered defaults (an
        instrumentor's Tracing and Metrics), then the client's own (also used by ``connect()``)."""
        outer = [layer for factory in _DEFAULT_MIDDLEWARE.values() for layer in factory(self._middleware)]
        return [*outer, *self._middleware]

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str],
        *,
        chain: str | None = None,
        middleware: Sequence[Middleware] = (),
    ) -> AsyncClient:
        """Build a client from a TOML file: providers, fallback chains, middleware options.

        API keys are named by environment variable, never written inline. ``chain`` picks one
        of the file's chains (default: the file's ``default_chain``). ``middleware`` goes
        outermost, before what the file configures (e.g. ``[Tracing()]``). See docs/resilience.md.
        """
        from ._config import load_client_options

        options = load_client_options(path, chain=chain)
        options["middleware"] = [*middleware, *options["middleware"]]
        return cls(**options)

    @property
    def handler(self) -> Handler:
        """The composed pipeline (middleware then transport); callable with a ``Request``."""
        if self._generation != _default_generation[0]:
            self._handler = self._compose()
        return self._handler

    @property
    def middleware(self) -> tuple[Middleware, ...]:
        """The middleware, outermost first (the endpoint is not among them: see ``endpoint``)."""
        return self._middleware

    @property
    def endpoint(self) -> Handler | None:
        """The endpoint given (a ``Failover``, a ``Provider``, ...), or ``None`` for the transport."""
        return self._endpoint

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose()`` was called (further calls raise ``ClientClosedError``)."""
        return self._closed

    def build_request(
        self,
        params: Mapping[str, Any],
        *,
        stream: bool,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
    ) -> Request:
        """Validate a body mapping and call options into a typed ``Request`` (nothing is sent).

        ``params`` is a whole body: unknown fields are kept as extensions (the served proxy
        relays its callers' bodies this way); ``responses.create()`` is stricter and rejects
        unknown keywords. Raises ``RequestValidationError`` naming the field.
        """
        streaming = check_stream(stream)
        data: dict[str, Any] = dict(params)
        data.update(check_extra_body(extra_body))
        data.pop("stream", None)
        if streaming:
            data["stream"] = True
        _check_json(data)
        body = _validate(CreateResponseBody, data)
        return Request(
            body=body,
            operation="create",
            stream=streaming,
            headers=check_headers(extra_headers),
            options=CallOptions(
                timeout=check_timeout(timeout), idempotency_key=check_idempotency_key(idempotency_key)
            ),
            context=CallContext(),
        )

    def connect(
        self,
        *,
        base_url: str | None = None,
        transport: WebSocketTransport | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> AsyncConnection:
        """A WebSocket connection whose turns run through this client's middleware (see
        ``responses.connect``). ``ConfigError`` when there is nowhere to connect to."""
        from ._connection import AsyncConnection, check_turn_params

        defaults = dict(params or {})
        check_turn_params("connect", defaults)
        self.build_request(defaults, stream=False)  # the defaults must make a valid body
        if self._closed:
            raise ClientClosedError("The client was closed: create a new one to make more calls.")
        if transport is not None and base_url is not None:
            raise ConfigError("pass base_url=... or transport=..., not both", key="connect")
        if transport is None and base_url is None and self._endpoint is not None:
            # A Failover (or Provider) endpoint: one socket per member, failing over per turn.
            from ._ws_failover import Chain, socket_endpoint

            chain = Chain()
            endpoint, sockets = socket_endpoint(self._endpoint, chain)
            return AsyncConnection(
                self, sockets[0], defaults, endpoint=endpoint, sockets=sockets, chain=chain
            )
        if transport is None:
            from .transports.websocket import WebSocketTransport

            # The client's key and headers go only to the client's own server.
            own = self._socket_options is not None and base_url in (None, self.base_url)
            options = dict(self._socket_options or {}) if own else {}
            url = base_url or (self.base_url if own else None)
            if url is None:
                raise ConfigError(
                    "connect() needs a base URL: this client was built with transport=, so pass "
                    "connect(base_url=...) or connect(transport=WebSocketTransport(...))",
                    key="base_url",
                )
            transport = WebSocketTransport(url, **options)
        return AsyncConnection(self, transport, defaults)

    async def send(self, request: Request) -> Reply:
        """Run a request through the middleware and transport."""
        if self._closed:
            raise ClientClosedError("The client was closed: create a new one to make more calls.")
        return await self.handler(request)

    async def aclose(self) -> None:
        """Close the transport and any middleware that holds resources. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for layer in self._middleware:
            if isinstance(layer, AsyncCloseable):
                await layer.aclose()
        if isinstance(self._endpoint, AsyncCloseable):
            await self._endpoint.aclose()
        if self._transport is not None:
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        endpoint = f", endpoint={self._endpoint!r}" if self._endpoint is not None else ""
        from ._redact import display_url  # no userinfo password in a repr

        base_url = display_url(self.base_url) if self.base_url else self.base_url
        return f"AsyncClient(base_url={base_url!r}, middleware={list(self._middleware)!r}{endpoint})"
