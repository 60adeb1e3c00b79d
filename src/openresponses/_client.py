"""``AsyncClient``: configuration, request building, and the middleware pipeline.

The client is thin on purpose: it validates the call into a typed ``Request``, runs it through
``compose(middleware, AttemptBoundary(transport))`` and shapes the reply for the caller. Retry,
failover, tracing and caching are middleware, never welded in here.

Split by concept: ``client.responses`` (the call surface and its checks) is in ``_responses``, the
default-middleware hook in ``_default_middleware``, ``connect()``'s WebSocket wiring in ``_connect``.
Every name stays importable from here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._built_body import plain_body
from ._default_middleware import _DEFAULT_MIDDLEWARE as _DEFAULT_MIDDLEWARE
from ._default_middleware import _default_generation as _default_generation
from ._default_middleware import register_default_middleware as register_default_middleware
from ._errors import ConfigError, OpenResponsesError
from ._failed import RaiseOnFailed
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
from ._responses import CALL_OPTIONS as CALL_OPTIONS
from ._responses import COMPACT_KEYWORDS as COMPACT_KEYWORDS
from ._responses import CREATE_KEYWORDS as CREATE_KEYWORDS
from ._responses import AsyncResponses, CompactParams, CreateParams, _check_json, _validate
from ._responses import AsyncStreamManager as AsyncStreamManager
from ._responses import _as_response as _as_response
from ._responses import _as_stream as _as_stream
from ._responses import _check_call as _check_call
from ._responses import _once as _once
from ._validate import check_extra_body, check_headers, check_idempotency_key, check_stream, check_timeout
from .types import CreateResponseBody

if TYPE_CHECKING:
    import httpx

    from ._connection import AsyncConnection
    from ._pipeline import Transport
    from .transports.websocket import WebSocketTransport

__all__ = ["AsyncClient", "AsyncResponses", "ClientClosedError", "CompactParams", "CreateParams"]

ENV_BASE_URL = "OPENRESPONSES_BASE_URL"
ENV_API_KEY = "OPENRESPONSES_API_KEY"


class ClientClosedError(OpenResponsesError, RuntimeError):
    """The client was closed: a call made after ``close()`` / ``aclose()``, or a call or stream
    still running in another thread when the sync ``Client`` was closed. Not retryable."""

    def __init__(self, message: str = "The client was closed.") -> None:
        super().__init__(message)


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
        body = plain_body(data)  # the commonest body, built as validation builds it
        if body is None:
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
        from ._connect import open_connection

        return open_connection(self, base_url=base_url, transport=transport, params=params)

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
