"""One attempt's span for ``Tracing``: from the request's send to its reply or stream end.

Split from ``tracing`` (the call's span and the middleware) because an attempt is its own
observer (:class:`~openresponses.AttemptObserver`): it opens its span under the call's, makes it
current while the transport sends (the httpx span nests there), hands the upstream a W3C
``traceparent``, and ends it exactly once with the attempt's outcome.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace  # imported after ``tracing``'s ``requires`` check
from opentelemetry.trace import Span, Status, StatusCode

from .._pipeline import AttrValue, Reply, Request
from .._streaming import EventStream, StreamEnd
from ..exporters import semconv as sc
from ..types import CompactResponse, Response
from ._otel_attrs import error_type, operation_name, server_attributes
from ._otel_content import scrub
from ._otel_stream import StreamTrace

if TYPE_CHECKING:
    from .tracing import _CallTrace

__all__ = ["AttemptTrace", "record_error"]

logger = logging.getLogger("openresponses.telemetry")


class AttemptTrace:
    """One attempt's span: the :class:`~openresponses.AttemptObserver` for it."""

    __slots__ = ("call", "ended", "span", "started", "stream", "target")

    def __init__(self, call: _CallTrace, request: Request, number: int) -> None:
        self.call = call
        self.target = request.target
        provider = self.target.provider if self.target is not None else None
        attrs: dict[str, AttrValue] = {
            sc.GEN_AI_OPERATION_NAME: operation_name(request),
            sc.OR_ATTEMPT_NUMBER: number,
            sc.OR_ATTEMPT_REASON: "first" if number == 1 else "retry",
        }
        if request.model:
            attrs[sc.GEN_AI_REQUEST_MODEL] = request.model
        if provider:
            system = self.target.system if self.target is not None else None
            attrs[sc.GEN_AI_PROVIDER_NAME] = system or provider  # the vendor, when known
            attrs[sc.OR_PROVIDER] = provider
            state = call.breakers.get(provider)
            if state:
                attrs[sc.OR_BREAKER_STATE] = state
        attrs.update(server_attributes(self.target))
        attrs.update(call.pending)
        call.pending = {}
        name = f"attempt {number} {provider}" if provider else f"attempt {number}"
        self.span: Span = call._owner._tracer.start_span(
            name, context=trace.set_span_in_context(call.span), attributes=attrs
        )
        self.started = time.perf_counter()  # after the span's start time, as the call's
        self.stream: StreamTrace | None = None
        self.ended = False
        call.last_target = self.target

    def activate(self) -> AbstractContextManager[Any]:
        """Makes the attempt span current while the transport sends: the httpx span nests here."""
        return trace.use_span(
            self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )

    def headers(self) -> Mapping[str, str]:
        """W3C ``traceparent`` (and whatever else the configured propagator adds) for this attempt."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(self.span))
        return carrier

    def on_reply(self, reply: Reply) -> Reply:
        request_id = reply.request_id if isinstance(reply, EventStream | Response) else None
        if request_id:
            self.span.set_attribute(sc.OR_REQUEST_ID, request_id)
        if isinstance(reply, EventStream):
            owner = self.call._owner
            stream = StreamTrace(
                owner._tracer, self.span, owner._level, owner._content, self.started, reply.accumulator
            )
            self.stream = stream
            self.call.streams[id(reply)] = stream
            reply.tap(stream.on_event, self._stream_end, deltas=stream.per_delta)
            return reply
        attrs: dict[str, AttrValue] = {sc.OR_ATTEMPT_OUTCOME: "ok"}
        if isinstance(reply, Response | CompactResponse) and reply.id:
            attrs[sc.GEN_AI_RESPONSE_ID] = reply.id
        self._end(attrs, None)
        return reply

    def on_error(self, error: BaseException) -> None:
        self._end({sc.OR_ATTEMPT_OUTCOME: "error"}, error)

    def _stream_end(self, end: StreamEnd) -> None:
        stream = self.stream
        attrs: dict[str, AttrValue] = {}
        if stream is not None:
            stream.finish(end)
            attrs.update(stream.summary(end))
            ttft = stream.ttft()
            if ttft is not None:
                attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttft
        if end.error is not None:
            attrs[sc.OR_ATTEMPT_OUTCOME] = "error"
        elif end.abandoned:
            attrs[sc.OR_ATTEMPT_OUTCOME] = "abandoned"
            attrs[sc.OR_STREAM_ABANDONED] = True
        else:
            attrs[sc.OR_ATTEMPT_OUTCOME] = "ok"
        if end.response is not None and end.response.id:
            attrs[sc.GEN_AI_RESPONSE_ID] = end.response.id
        self._end(attrs, end.error)

    def _end(self, attrs: dict[str, AttrValue], error: BaseException | None) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            if error is not None:
                attrs[sc.ERROR_TYPE] = error_type(error)
                record_error(self.span, error)
            self.span.set_attributes(attrs)
        except Exception:
            logger.exception("Tracing failed to record the attempt outcome")
        finally:
            self.span.end()


def record_error(span: Span, error: BaseException) -> None:
    """Error status plus an ``exception`` event whose message and stack are scrubbed of secrets."""
    kind = error_type(error)
    span.set_status(Status(StatusCode.ERROR, kind))
    stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    span.add_event(
        "exception",
        {
            "exception.type": f"{type(error).__module__}.{type(error).__qualname__}",
            "exception.message": scrub(str(error)),
            "exception.stacktrace": scrub(stack, limit=8000),
        },
    )
