"""The served proxy: a thin Starlette shell around the client pipeline.

``POST /v1/responses`` parses and validates the body into a typed ``Request`` (the client's own
validation, so errors name the field), sends it through the pipeline (``Upstream.client``) and
writes the reply: the whole ``ResponseResource`` as JSON, or each event as SSE then ``[DONE]``.
``POST /v1/responses/compact`` likewise; ``GET /v1/models`` is passed through to the upstream;
``GET /health`` answers ``{"status": "ok"}``. Everything else is in the pipeline (retry, timeouts,
state, tracing) or in ``_relay`` (stream failure semantics) and ``_errors`` (error mapping).

A stream is *committed* before the reply headers go out: the pipeline's first content event is
buffered (``EventStream.prime``), so a failure before it is an HTTP error with the upstream's
status, and a failure after it is an ``error`` + ``response.failed`` tail, never a ``completed``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send

from .._built import message_json
from .._errors import RequestValidationError
from .._pipeline import CallContext, Request
from .._streaming import EventStream
from ..cache._status import CacheStatus, control_headers
from ..store._base import output_to_input
from ..types import CompactResponse, CompactResponseBody, CreateResponseBody
from ..types import Response as ResponseModel
from ._errors import ErrorReply, describe, type_for_status, upstream_unauthorized
from ._http import (
    BadBody,
    ClientDisconnect,
    ClientGone,
    EventStreamResponse,
    ReplyThen,
    authorized,
    error_response,
    header_map,
    passed_trace_headers,
    read_json,
    trace_context,
    unless_disconnected,
)
from ._relay import relay
from ._ws import ResponsesSocket
from .settings import DEFAULT_MAX_BODY, ProxySettings
from .upstream import Upstream, build_upstream

__all__ = ["create_app", "create_app_from_env", "create_app_from_settings"]

logger = logging.getLogger("openresponses.proxy")


class _Proxy:
    """The request handlers, bound to one upstream."""

    def __init__(self, upstream: Upstream, api_key: str | None, max_body_bytes: int) -> None:
        self.upstream = upstream
        self.redactor = upstream.redactor
        self.key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes

    # -- endpoints ------------------------------------------------------------------------------

    async def health(self, request: HTTPRequest) -> Response:
        return JSONResponse({"status": "ok"})

    async def models(self, request: HTTPRequest) -> Response:
        if (denied := self._deny(header_map(request.scope))) is not None:
            return denied
        if self.upstream.models is None:
            return error_response(
                ErrorReply(404, "not_found", "No upstream to list models from.", "not_found")
            )
        try:
            reply = await self.upstream.models.get("/models")
        except Exception as exc:
            return self._failure(exc)
        if reply.truncated:
            return error_response(
                ErrorReply(
                    502, "server_error", "The upstream's model list is too large.", "upstream_protocol_error"
                )
            )
        if reply.status == 401:  # the proxy's own upstream key, not the caller's (see _errors)
            return error_response(upstream_unauthorized("its model list answered HTTP 401."))
        status = reply.status if 200 <= reply.status <= 599 else 502
        return Response(self.redactor.bytes(reply.body), status_code=status, media_type=reply.content_type)

    async def create(self, request: HTTPRequest) -> Response:
        headers = header_map(request.scope)
        if (denied := self._deny(headers)) is not None:
            return denied
        data: dict[str, Any] = {}
        try:
            data = await read_json(request, self.max_body_bytes, headers)
            stream = data.pop("stream", None)
            if stream is not None and not isinstance(stream, bool):
                raise BadBody(
                    ErrorReply(
                        400, "invalid_request_error", "stream must be a boolean.", "invalid_request", "stream"
                    )
                )
            _output_items_as_input(data)
            low = _low_token_limit(data) if self.upstream.translated else None
            call = self.upstream.client.build_request(
                data,
                stream=bool(stream),
                idempotency_key=headers.get("idempotency-key"),
                extra_headers=self._passed_headers(headers),
            )
            if low is not None and isinstance(call.body, CreateResponseBody):
                call = call.replace(body=call.body.model_copy(update={"max_output_tokens": low}))
            if not call.stream:
                call.context.after_reply = []  # the store's write, once the reply is out (ReplyThen)
        except BadBody as exc:
            return error_response(exc.reply, self.redactor)
        except RequestValidationError as exc:
            return error_response(describe(exc, data), self.redactor)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening
        return await self._send(request, headers, call)

    async def compact(self, request: HTTPRequest) -> Response:
        headers = header_map(request.scope)
        if (denied := self._deny(headers)) is not None:
            return denied
        data: dict[str, Any] = {}
        try:
            data = await read_json(request, self.max_body_bytes, headers)
            try:
                body = CompactResponseBody.model_validate(data)
            except ValidationError as exc:
                raise RequestValidationError.from_validation_error("CompactResponseBody", exc) from None
        except BadBody as exc:
            return error_response(exc.reply, self.redactor)
        except RequestValidationError as exc:
            return error_response(describe(exc, data), self.redactor)
        except ClientDisconnect:
            return Response(status_code=400)
        return await self._send(
            request, headers, Request(body=body, operation="compact", context=CallContext())
        )

    # -- the call -------------------------------------------------------------------------------

    async def _send(self, http: HTTPRequest, headers: Mapping[str, str], call: Request) -> Response:
        cache = CacheStatus.watch(call)  # X-Cache-Status, when a SemanticCache is in the pipeline

        async def upstream() -> Any:
            reply: Any = None
            try:
                with trace_context(headers):
                    reply = await self.upstream.client.send(call)
                    if call.stream and isinstance(reply, ResponseModel):
                        # A middleware answered with a whole response: stream it as events.
                        from .._emit import emit_response

                        reply = EventStream(_once(emit_response(reply)), provider=reply.provider)
                    if isinstance(reply, EventStream):
                        await reply.prime()  # the commit point: failures until here get a status
                return reply
            except BaseException:
                if isinstance(reply, EventStream):
                    with anyio.CancelScope(shield=True):
                        await reply.aclose()
                raise

        try:
            reply = await unless_disconnected(http.receive, upstream)
        except ClientGone:
            logger.info("the client went away before its reply was ready; upstream call cancelled")
            return Response(status_code=499)  # nginx's "client closed request": for the access log
        except Exception as exc:
            return self._failure(exc)
        if isinstance(reply, EventStream):
            body = call.body if isinstance(call.body, CreateResponseBody) else None
            chunks = relay(reply, redactor=self.redactor, body=body, on_error=self._log_stream_failure)
            return cache.mark(EventStreamResponse(reply, chunks))
        if isinstance(reply, ResponseModel | CompactResponse):
            plain = message_json(reply) if type(reply) is ResponseModel else None
            if plain is None:
                plain = reply.model_dump_json(by_alias=True, exclude_unset=True).encode()
            content = self.redactor.bytes(plain)
            after = call.context.after_reply
            if after:
                return cache.mark(ReplyThen(content, after, media_type="application/json"))
            return cache.mark(Response(content, media_type="application/json"))
        return self._failure(TypeError(f"unexpected reply {type(reply).__name__}"))

    # -- helpers --------------------------------------------------------------------------------

    def _passed_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """What of the caller's headers goes on: a SemanticCache's bypass / refresh, and, unless
        the proxy traces (then its own spans carry the context on), the W3C trace context."""
        passed = control_headers(headers)
        if not self.upstream.traced:
            passed.update(passed_trace_headers(headers))
        return passed

    def _deny(self, headers: Mapping[str, str]) -> Response | None:
        if self.key is None or authorized(headers, self.key):
            return None
        return error_response(
            ErrorReply(
                401,
                "authentication_error",
                "Missing or invalid API key for this proxy: send Authorization: Bearer <key>.",
                "invalid_api_key",
            )
        )

    def _failure(self, exc: BaseException) -> Response:
        reply = self.redactor.reply(describe(exc))
        if reply.status >= 500:
            if reply.code == "internal_error":
                logger.error("proxy error: %s", self.redactor.text(repr(exc)), exc_info=exc)
            else:
                logger.warning("upstream failure (%d %s): %s", reply.status, reply.code, reply.message)
        return error_response(reply)

    def _log_stream_failure(self, exc: BaseException) -> None:
        reply = self.redactor.reply(describe(exc))
        logger.warning("stream failed after it started (%s): %s", reply.code, reply.message)


def _output_items_as_input(data: dict[str, Any]) -> None:
    """Reasoning output items sent back as input (``input += response["output"]``, as clients
    of OpenAI's API do) made valid input: their raw ``content``, which input may only have as
    null (RULES R17), is left out, as this library's own round trip does
    (``store.output_to_input``); ``summary`` and ``encrypted_content`` go on unchanged."""
    items = data.get("input")
    if not isinstance(items, list):
        return
    for index, item in enumerate(items):
        if (
            isinstance(item, dict)
            and item.get("type") == "reasoning"
            and isinstance(item.get("content"), list)
        ):
            items[index] = output_to_input(item)


def _low_token_limit(data: dict[str, Any]) -> int | None:
    """A ``max_output_tokens`` of 1 to 15, taken out of ``data`` before validation, or ``None``.

    Why: the spec's minimum is 16, but Codex-style clients probe a server with empty input and
    ``max_output_tokens=1``, and a Chat Completions (or Anthropic, Gemini, Bedrock) upstream
    takes any limit from 1. Only for such upstreams (``Upstream.translated``); anything else
    (0, a bool, a string) stays in the body and is refused by validation as before.
    """
    value = data.get("max_output_tokens")
    if type(value) is int and 1 <= value < 16:
        del data["max_output_tokens"]
        return value
    return None


async def _once(events: Sequence[Any]) -> AsyncIterator[Sequence[Any]]:
    yield events


class _ProxyApp(Starlette):
    """The proxy's Starlette app, with ``POST /v1/responses`` dispatched straight to its handler.

    Why: the request would otherwise pass two exception middlewares, two exception wrappers and
    the router's matching before reaching the handler, about 30 µs of a non-streamed request
    (docs/performance.md, change 19) spent on nothing the handler does not do itself (it turns
    every failure into a reply). Anything else (other routes, WebSocket, lifespan, a root path),
    and every request once middleware or an exception handler has been added to the app, takes
    Starlette's own path; an exception that escapes the handler is answered and re-raised as
    Starlette would.
    """

    def __init__(self, create: Callable[[HTTPRequest], Awaitable[Response]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._create = create
        self._own_handlers = dict(self.exception_handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/v1/responses"
            or scope["method"] != "POST"
            or scope.get("root_path")
            or self.user_middleware
            or self.exception_handlers != self._own_handlers
        ):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = HTTPRequest(scope, receive, send)
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            response = await self._create(request)
            await response(scope, receive, sending)
        except Exception as exc:
            if not started:  # as Starlette's ServerErrorMiddleware: answer, then re-raise
                await (await _http_error(request, exc))(scope, receive, send)
            raise


async def _http_error(request: HTTPRequest, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal error."
    if status == 404:
        detail = f"No route for {request.method} {request.url.path}."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return error_response(ErrorReply(status, type_for_status(status), str(detail), None))


def create_app(
    upstream: Upstream,
    *,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    on_shutdown: Sequence[Callable[[], Any]] = (),
) -> Starlette:
    """The ASGI app serving ``upstream``. ``api_key``: the key clients must send (``None``: open).

    The app owns ``upstream`` and closes it on shutdown (then calls ``on_shutdown``).
    """
    proxy = _Proxy(upstream, api_key, max_body_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        logger.info("serving Open Responses for %s", upstream.label)
        try:
            yield
        finally:
            try:
                await upstream.aclose()
            finally:
                for callback in on_shutdown:
                    callback()

    routes = [
        Route("/health", proxy.health, methods=["GET"]),
        Route("/v1/models", proxy.models, methods=["GET"]),
        Route("/v1/responses", proxy.create, methods=["POST"]),
        Route("/v1/responses/compact", proxy.compact, methods=["POST"]),
        # WebSocket mode on the same resource (README §9): each turn through the same pipeline.
        WebSocketRoute("/v1/responses", ResponsesSocket(upstream, api_key=api_key).handle),
    ]
    return _ProxyApp(
        proxy.create,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _http_error},
    )


def create_app_from_settings(settings: ProxySettings) -> Starlette:
    """Build the upstream pipeline and the app for ``settings`` (``ConfigError`` if unusable)."""
    from .._errors import ConfigError

    settings.validate()
    inbound_key: str | None = None
    if settings.api_key_env is not None:
        inbound_key = os.environ.get(settings.api_key_env)
        if not inbound_key:
            raise ConfigError(
                f"environment variable {settings.api_key_env} is not set (it should hold the key clients "
                "must send)",
                key="--api-key-env",
            )
    on_shutdown: list[Callable[[], Any]] = []
    if settings.trace:
        try:
            from ..exporters import otel
        except ImportError as exc:
            raise ConfigError(
                f"--trace needs OpenTelemetry: pip install 'openresponses-python[otel]' ({exc})",
                key="--trace",
            ) from None
        telemetry = otel.setup(service_name=os.environ.get("OTEL_SERVICE_NAME") or "openresponses-proxy")
        on_shutdown.append(telemetry.shutdown)
    upstream = build_upstream(settings, inbound_key=inbound_key)
    return create_app(
        upstream, api_key=inbound_key, max_body_bytes=settings.max_body_bytes, on_shutdown=on_shutdown
    )


def create_app_from_env() -> Starlette:
    """The proxy app built from ``OPENRESPONSES_PROXY_SETTINGS`` (set by ``openresponses proxy``): what
    each ``--workers`` process serves (through ``openresponses.cli.proxy:worker_app``, which adds
    the access log), or an app factory for your own ASGI server."""
    return create_app_from_settings(ProxySettings.from_env())
