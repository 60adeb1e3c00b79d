"""``Tracing``: OpenTelemetry spans for every call, attempt and streamed output item.

Why a middleware and not a patch: it sees the typed request, every attempt (through the
pipeline's :class:`~openresponses.AttemptBoundary` hooks) and the very stream the caller reads,
so it can end spans exactly once however the stream ends, and show what retries, failovers,
breakers and caches decided (they report through ``request.context.record``; Tracing does not
know them).

The span tree of one streamed call::

    chat gpt-4o                      CLIENT, child of the caller's current span
    ├── attempt 1 primary            failed: error.type=429
    └── attempt 2 primary            wait_s=0.5 wait_reason=retry-after; the httpx span nests here
        ├── reasoning                from output_item.added to output_item.done
        ├── message
        └── function_call get_weather

Usage::

    from openresponses import AsyncClient, exporters
    from openresponses.middleware import Tracing

    exporters.setup(service_name="my-service")          # OTLP to localhost:4318 (Jaeger)
    client = AsyncClient(base_url=..., middleware=[Tracing()])

Content (prompts, outputs, tool arguments) is recorded only with ``capture_content=True`` or
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``, after ``redact``. Credentials are
never read: the transport owns them and request headers are not recorded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .._extras import requires

# Imported as the module's first package import, so that without the extra importing this module
# (not only ``openresponses.middleware.Tracing``) says which extra to install, in one line.
with requires("Tracing", "otel"):
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, TracerProvider

from .._decisions import (
    BreakerChanged,
    CacheLookup,
    Decision,
    FailedOver,
    HedgeStarted,
    Recovered,
    Retried,
)
from .._pipeline import AttrValue, Handler, Reply, Request
from .._streaming import EventStream, StreamEnd
from .._version import __version__
from ..exporters import semconv as sc
from ..types import CompactResponse, Response
from ._otel_attempt import AttemptTrace, record_error
from ._otel_attrs import (
    error_type,
    operation_name,
    request_attributes,
    response_attributes,
    server_attributes,
)
from ._otel_content import Content, Redactor
from ._otel_stream import LEVELS, StreamEventsLevel, StreamTrace

__all__ = ["Tracing"]

logger = logging.getLogger("openresponses.telemetry")

_SCOPE = "openresponses"


class Tracing:
    """Trace each call as a GenAI ``chat`` span with child spans per attempt and output item.

    ``tracer_provider`` defaults to the global one (pass your own to isolate tests or tenants).
    ``stream_events`` sets per-stream detail: ``"items"`` (default), ``"deltas"``, ``"spans"``
    or ``"none"``. ``capture_content`` (default: the ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
    environment variable) records prompts and outputs after ``redact(field, text)``.
    ``provider_name`` sets ``gen_ai.provider.name`` on the call span up front (e.g. ``"openai"``);
    otherwise it is the name of the provider that served the call.

    Telemetry never raises into the call: failures are logged to ``openresponses.telemetry``.
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        stream_events: StreamEventsLevel = "items",
        capture_content: bool | None = None,
        redact: Redactor | None = None,
        provider_name: str | None = None,
    ) -> None:
        if stream_events not in LEVELS:
            raise ValueError(f"stream_events must be one of {sorted(LEVELS)}, got {stream_events!r}")
        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
        self._level = LEVELS[stream_events]
        self.stream_events = stream_events
        self.conventions = sc.conventions()
        capture = sc.capture_content_from_env() if capture_content is None else capture_content
        self._content = Content(capture, redact)
        self.provider_name = provider_name

    @property
    def capture_content(self) -> bool:
        """Whether prompts and outputs are recorded (after redaction)."""
        return self._content.enabled

    def __repr__(self) -> str:
        return f"Tracing(stream_events={self.stream_events!r}, capture_content={self._content.enabled})"

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        try:
            call = _CallTrace(self, request)
            request.context.observers.append(call)
        except Exception:
            logger.exception("Tracing failed to start the call span; the call goes on untraced")
            return await call_next(request)
        try:
            # Current while the layers below run (their own spans nest), detached before the
            # stream is returned: no context crosses a yield.
            with trace.use_span(
                call.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            ):
                reply = await call_next(request)
        except BaseException as exc:
            call.finish(None, exc, {})
            raise
        return call.on_reply(reply)


class _CallTrace:
    """The call span and the :class:`~openresponses.CallObserver` Tracing leaves in the context."""

    __slots__ = (
        "_owner",
        "breakers",
        "cache_hit",
        "cache_similarity",
        "ended",
        "failovers",
        "last_target",
        "pending",
        "request",
        "retries",
        "span",
        "started",
        "streams",
    )

    def __init__(self, owner: Tracing, request: Request) -> None:
        self._owner = owner
        self.request = request
        attrs = request_attributes(request, owner.conventions)
        provider = owner.provider_name or (request.target.provider if request.target else None)
        if provider:
            attrs[sc.GEN_AI_PROVIDER_NAME] = provider
        content = owner._content
        if content.enabled:
            for key, value in (
                (sc.GEN_AI_INPUT_MESSAGES, content.input_messages(request)),
                (sc.GEN_AI_SYSTEM_INSTRUCTIONS, content.instructions(request)),
            ):
                if value is not None:
                    attrs[key] = value
        model = request.model
        name = f"{operation_name(request)} {model}" if model else operation_name(request)
        self.span: Span = owner._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
        # After the span has its start time: time to first chunk is then never longer than the
        # span (starting a span costs tens of µs, which a sub-millisecond call would notice).
        self.started = time.perf_counter()
        self.pending: dict[str, AttrValue] = {}
        self.breakers: dict[str, str] = {}
        self.retries = 0
        self.failovers = 0
        self.cache_hit: bool | None = None
        self.cache_similarity: float | None = None
        self.last_target: Any = None
        self.streams: dict[int, StreamTrace] = {}
        self.ended = False

    # -- CallObserver -------------------------------------------------------------------------

    def on_record(self, decision: Decision) -> None:
        """A middleware decision: a span event on the call span, and state for the next attempt."""
        kind = decision.kind
        event: dict[str, AttrValue] = {}
        for key, value in decision.attributes().items():
            event[key if key == sc.ERROR_TYPE else f"openresponses.{kind}.{key}"] = value
        self.span.add_event(kind, event)
        pending = self.pending
        if isinstance(decision, Retried):
            self.retries += 1
            pending[sc.OR_ATTEMPT_REASON] = "retry"
            pending[sc.OR_ATTEMPT_WAIT] = float(decision.wait_s)
            pending[sc.OR_ATTEMPT_WAIT_REASON] = decision.reason
        elif isinstance(decision, FailedOver):
            self.failovers += 1
            pending[sc.OR_ATTEMPT_REASON] = "failover"
            if decision.source:
                pending[sc.OR_ATTEMPT_FROM] = decision.source
        elif isinstance(decision, HedgeStarted):
            pending[sc.OR_ATTEMPT_REASON] = "hedge"
            pending[sc.OR_ATTEMPT_WAIT] = float(decision.after_s)
        elif isinstance(decision, Recovered):
            pending[sc.OR_ATTEMPT_REASON] = decision.mode
        elif isinstance(decision, BreakerChanged) and decision.provider:
            self.breakers[decision.provider] = decision.state
        elif isinstance(decision, CacheLookup):
            self.cache_hit = decision.hit
            if decision.similarity is not None:
                self.cache_similarity = float(decision.similarity)

    def on_attempt(self, request: Request, number: int) -> AttemptTrace:
        return AttemptTrace(self, request, number)

    # -- the call's reply ---------------------------------------------------------------------

    def on_reply(self, reply: Reply) -> Reply:
        try:
            if isinstance(reply, Response | CompactResponse):
                self.finish(reply, None, {})
            elif isinstance(reply, EventStream):
                traced = self.streams.get(id(reply))
                if traced is not None:
                    # The attempt already traces this very stream: only the end matters here.
                    reply.tap(on_end=lambda end: self._stream_end(end, traced, own=False))
                else:
                    owner = self._owner
                    # Nothing traced it yet (a cache hit, or a stream rebuilt by a middleware):
                    # with no attempt at all, items go under the call span; otherwise only counts.
                    level = owner._level if self.request.context.attempts == 0 else 0
                    stream = StreamTrace(
                        owner._tracer, self.span, level, owner._content, self.started, reply.accumulator
                    )
                    reply.tap(
                        stream.on_event,
                        lambda end: self._stream_end(end, stream, own=True),
                        deltas=stream.per_delta,
                    )
            else:
                self.finish(None, None, {})
        except Exception:
            logger.exception("Tracing failed to observe the reply")
        return reply

    def _stream_end(self, end: StreamEnd, stream: StreamTrace, *, own: bool) -> None:
        if own:
            stream.finish(end)
        attrs = stream.summary(end)
        if stream.first_delta is not None:
            attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = stream.first_delta - self.started
        if end.abandoned:
            attrs[sc.OR_STREAM_ABANDONED] = True
        self.finish(end.response, end.error, attrs, abandoned=end.abandoned)

    def finish(
        self,
        response: Response | CompactResponse | None,
        error: BaseException | None,
        extra: dict[str, AttrValue],
        *,
        abandoned: bool = False,
    ) -> None:
        """Set the outcome attributes and end the call span, once."""
        if self.ended:
            return
        self.ended = True
        span = self.span
        try:
            attrs = response_attributes(response, error, abandoned)
            attrs.update(extra)
            context = self.request.context
            attrs[sc.OR_ATTEMPTS] = context.attempts
            provider = context.provider or (self.last_target.provider if self.last_target else None)
            if provider:
                attrs[sc.OR_PROVIDER] = provider
                if not self._owner.provider_name:
                    system = self.last_target.system if self.last_target else None
                    attrs[sc.GEN_AI_PROVIDER_NAME] = system or provider
            if self.last_target is not None:
                attrs.update(server_attributes(self.last_target))
            if self.retries:
                attrs[sc.OR_RETRIES] = self.retries
            if self.failovers:
                attrs[sc.OR_FAILOVERS] = self.failovers
            if self.cache_hit is not None:
                attrs[sc.OR_CACHE_HIT] = self.cache_hit
            if self.cache_similarity is not None:
                attrs[sc.OR_CACHE_SIMILARITY] = self.cache_similarity
            content = self._owner._content
            if content.enabled and isinstance(response, Response):
                reasons = attrs.get(sc.GEN_AI_RESPONSE_FINISH_REASONS)
                output = content.output_messages(
                    response, list(reasons) if isinstance(reasons, list | tuple) else []
                )
                if output is not None:
                    attrs[sc.GEN_AI_OUTPUT_MESSAGES] = output
            if error is not None:
                attrs[sc.ERROR_TYPE] = error_type(error)
                record_error(span, error)
            span.set_attributes(attrs)
        except Exception:
            logger.exception("Tracing failed to record the call outcome")
        finally:
            span.end()
