"""``client.responses``: the call surface of ``AsyncClient`` and the checks its calls go through.

:class:`AsyncResponses` turns ``create()`` / ``stream()`` / ``compact()`` / ``connect()`` calls
into typed ``Request`` objects (every argument checked before anything is sent) and shapes the
pipeline's reply for the caller (:class:`AsyncStreamManager`, ``AsyncResponseStream`` or a
``Response``). The body parameters (:class:`CreateParams`, :class:`CompactParams`) live here too.
``openresponses._client`` re-exports every name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack, overload

from pydantic import ValidationError

from ._errors import ProtocolError, RequestValidationError
from ._failed import raise_if_failed
from ._pipeline import CallContext, CallOptions, Reply, Request
from ._streaming import AsyncResponseStream, EventStream, _stamp
from ._validate import (
    check_extra_body,
    check_headers,
    check_keywords,
    check_no_null,
    check_timeout,
    free_form_json,
)
from .types import CompactResponse, CompactResponseBody, Response
from .types.enums import IncludeValue, ServiceTier, Truncation

if TYPE_CHECKING:
    from ._client import AsyncClient
    from ._connection import AsyncConnection
    from .transports.websocket import WebSocketTransport

__all__ = ["AsyncResponses", "AsyncStreamManager", "CompactParams", "CreateParams"]


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
