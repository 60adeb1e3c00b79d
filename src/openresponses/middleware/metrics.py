"""``Metrics``: the GenAI client metrics plus counters for what resilience and caching decided.

Instruments (released v1.41 names; ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``
switches to the newest ``gen_ai.client.inference.*`` names, see :mod:`openresponses.exporters.semconv`):

- ``gen_ai.client.operation.duration`` (s): the whole logical call, retries included, until the
  stream ended;
- ``gen_ai.client.token.usage`` ({token}, ``gen_ai.token.type`` = ``input`` / ``output``);
- ``gen_ai.client.operation.time_to_first_chunk`` (s): call start to the arrival of the first
  output delta;
- ``gen_ai.client.operation.time_per_output_chunk`` (s): see ``chunk_timing`` below;
- counters ``openresponses.client.retries``, ``.failovers``, ``.breaker.transitions``,
  ``.breaker.rejections``, ``.cache.hits``, ``.cache.misses``, ``.attempts``.

Attributes are the conventions' low-cardinality ones (operation, provider, request and response
model, server address and port, ``error.type``) plus, on our counters, provider names, states and
reasons: never ids, prompts or user data.

``chunk_timing``: ``"per_stream"`` (default) records one value per stream, the mean time per
output chunk after the first (first chunk to end of stream, over the gaps), the way
``gen_ai.server.time_per_output_token`` is per request; it costs nothing per chunk: the stream's
accumulator counts the output deltas and notes when the first one arrived, read once at the end;
``"per_chunk"`` records every gap, as the client convention's text describes, at about 7 µs of
CPU per chunk with the OpenTelemetry SDK (a 2,000-delta stream pays ~14 ms).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from .._extras import requires

with requires("Metrics", "otel"):
    from opentelemetry import metrics as otel_metrics
    from opentelemetry.metrics import MeterProvider

from .._accumulate import Accumulator
from .._decisions import (
    BreakerChanged,
    BreakerRejected,
    CacheLookup,
    Decision,
    FailedOver,
    Recorded,
    Retried,
)
from .._pipeline import AttrValue, Handler, Reply, Request, Target
from .._streaming import EventStream, StreamEnd
from .._version import __version__
from ..exporters import semconv as sc
from ..types import CompactResponse, Response, StreamEvent
from ._otel_attrs import DELTA_TYPES, error_type, operation_name, server_attributes

__all__ = ["Metrics"]

logger = logging.getLogger("openresponses.telemetry")

ChunkTiming = Literal["per_stream", "per_chunk"]


class Metrics:
    """Record GenAI client metrics for each call, and count retries, failovers, breakers and cache.

    ``meter_provider`` defaults to the global one. ``provider_name`` labels calls whose serving
    provider is unknown (e.g. a cache hit); otherwise the serving provider's name is used.
    Telemetry never raises into the call.
    """

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        chunk_timing: ChunkTiming = "per_stream",
        provider_name: str | None = None,
    ) -> None:
        if chunk_timing not in ("per_stream", "per_chunk"):
            raise ValueError(f"chunk_timing must be 'per_stream' or 'per_chunk', got {chunk_timing!r}")
        self.chunk_timing = chunk_timing
        self.provider_name = provider_name
        self.conventions = conv = sc.conventions()
        meter = otel_metrics.get_meter("openresponses", __version__, meter_provider=meter_provider)
        seconds = list(sc.DURATION_BUCKETS)
        self._duration = meter.create_histogram(
            conv.metric_duration, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=seconds,
        )  # fmt: skip
        self._ttfc = meter.create_histogram(
            conv.metric_time_to_first_chunk, unit="s",
            description="Time to receive the first chunk, from when the client issues the request.",
            explicit_bucket_boundaries_advisory=seconds,
        )  # fmt: skip
        self._tpoc = meter.create_histogram(
            conv.metric_time_per_output_chunk, unit="s",
            description="Time per output chunk after the first one.",
            explicit_bucket_boundaries_advisory=seconds,
        )  # fmt: skip
        self._token_usage = None
        self._token_counters: dict[str, Any] = {}
        if conv.metric_token_usage is not None:
            self._token_usage = meter.create_histogram(
                conv.metric_token_usage, unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=list(sc.TOKEN_BUCKETS),
            )  # fmt: skip
        else:
            for key, name in (
                ("input", conv.metric_input_tokens),
                ("output", conv.metric_output_tokens),
                ("cache_read", conv.metric_cache_read_tokens),
                ("reasoning", conv.metric_reasoning_tokens),
            ):
                if name is not None:
                    self._token_counters[key] = meter.create_counter(name, unit="{token}")
        self._retries = meter.create_counter(
            sc.METRIC_RETRIES, unit="{retry}", description="Retries started."
        )
        self._failovers = meter.create_counter(
            sc.METRIC_FAILOVERS, unit="{failover}", description="Moves from one provider to the next."
        )
        self._breaker = meter.create_counter(
            sc.METRIC_BREAKER_TRANSITIONS, unit="{transition}", description="Circuit breaker state changes."
        )
        self._rejections = meter.create_counter(
            sc.METRIC_BREAKER_REJECTIONS, unit="{call}", description="Calls refused by an open breaker."
        )
        self._cache_hits = meter.create_counter(
            sc.METRIC_CACHE_HITS, unit="{call}", description="Cache hits."
        )
        self._cache_misses = meter.create_counter(
            sc.METRIC_CACHE_MISSES, unit="{call}", description="Cache misses."
        )
        self._attempts = meter.create_counter(
            sc.METRIC_ATTEMPTS, unit="{attempt}", description="Calls to upstream providers."
        )
        self._ws_turns = meter.create_counter(
            sc.METRIC_WEBSOCKET_TURNS, unit="{turn}", description="Turns sent over WebSocket connections."
        )
        self._ws_reconnects = meter.create_counter(
            sc.METRIC_WEBSOCKET_RECONNECTS, unit="{reconnect}",
            description="WebSocket connections reopened (by reason: age limit, server limit, drop).",
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"Metrics(chunk_timing={self.chunk_timing!r})"

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        try:
            call = _CallMetrics(self, request)
            request.context.observers.append(call)
        except Exception:
            logger.exception("Metrics failed to start; the call goes on unmeasured")
            return await call_next(request)
        try:
            reply = await call_next(request)
        except BaseException as exc:
            call.finish(None, exc)
            raise
        return call.on_reply(reply)


class _CallMetrics:
    """The per-call :class:`~openresponses.CallObserver` and stream tap of :class:`Metrics`."""

    __slots__ = (
        "_owner",
        "accumulator",
        "chunks",
        "done",
        "first",
        "last",
        "per_chunk",
        "request",
        "started",
        "target",
    )

    def __init__(self, owner: Metrics, request: Request) -> None:
        self._owner = owner
        self.request = request
        self.started = time.perf_counter()
        self.target: Target | None = request.target
        self.first: float | None = None
        self.last = 0.0
        self.chunks = 0
        self.per_chunk = owner.chunk_timing == "per_chunk"
        self.accumulator: Accumulator | None = None  # per-stream timing reads its counters at the end
        self.done = False

    # -- attributes -----------------------------------------------------------------------------

    def _base(self) -> dict[str, AttrValue]:
        request = self.request
        attrs: dict[str, AttrValue] = {sc.GEN_AI_OPERATION_NAME: operation_name(request)}
        provider = request.context.provider or (self.target.provider if self.target else None)
        provider = provider or self._owner.provider_name
        if provider:
            attrs[sc.GEN_AI_PROVIDER_NAME] = provider
        if request.model:
            attrs[sc.GEN_AI_REQUEST_MODEL] = request.model
        attrs.update(server_attributes(self.target))
        return attrs

    # -- CallObserver ---------------------------------------------------------------------------

    def on_record(self, decision: Decision) -> None:
        owner = self._owner
        base: dict[str, AttrValue] = {sc.GEN_AI_OPERATION_NAME: operation_name(self.request)}
        if isinstance(decision, Retried):
            attrs = dict(base)
            attrs["openresponses.retry.reason"] = decision.reason
            attrs[sc.ERROR_TYPE] = decision.error_type
            if self.target is not None:
                attrs[sc.GEN_AI_PROVIDER_NAME] = self.target.provider
            owner._retries.add(1, attrs)
        elif isinstance(decision, FailedOver):
            attrs = dict(base)
            attrs["openresponses.failover.from"] = decision.source
            attrs["openresponses.failover.to"] = decision.target
            attrs["openresponses.failover.reason"] = decision.reason
            owner._failovers.add(1, attrs)
        elif isinstance(decision, BreakerChanged):
            owner._breaker.add(
                1,
                {
                    "openresponses.breaker.provider": decision.provider,
                    "openresponses.breaker.state": decision.state,
                    "openresponses.breaker.previous": decision.previous,
                },
            )
        elif isinstance(decision, BreakerRejected):
            owner._rejections.add(1, {"openresponses.breaker.provider": decision.provider})
        elif isinstance(decision, Recorded) and decision.name == "websocket.turn":
            owner._ws_turns.add(1, dict(base))
        elif isinstance(decision, Recorded) and decision.name == "websocket.reconnect":
            reason = decision.values.get("reason")
            owner._ws_reconnects.add(1, {"openresponses.websocket.reason": str(reason or "unknown")})
        elif isinstance(decision, CacheLookup):
            attrs = dict(base)
            if self.request.model:
                attrs[sc.GEN_AI_REQUEST_MODEL] = self.request.model
            (owner._cache_hits if decision.hit else owner._cache_misses).add(1, attrs)

    def on_attempt(self, request: Request, number: int) -> None:
        # No per-attempt hooks (Tracing's attempt span must be the one that parents HTTP spans).
        self.target = request.target
        attrs: dict[str, AttrValue] = {sc.GEN_AI_OPERATION_NAME: operation_name(request)}
        if request.target is not None:
            attrs[sc.GEN_AI_PROVIDER_NAME] = request.target.provider
        self._owner._attempts.add(1, attrs)
        return None

    # -- reply ----------------------------------------------------------------------------------

    def on_reply(self, reply: Reply) -> Reply:
        try:
            if isinstance(reply, EventStream):
                if self.per_chunk:
                    reply.tap(self.on_chunk_timed, self.on_end)
                else:
                    self.accumulator = reply.accumulator
                    reply.tap(on_end=self.on_end)
            elif isinstance(reply, Response | CompactResponse):
                self.finish(reply, None)
            else:
                self.finish(None, None)
        except Exception:
            logger.exception("Metrics failed to observe the reply")
        return reply

    def on_chunk_timed(self, event: StreamEvent) -> None:
        """Per-chunk timing: record every gap between deltas (costs a histogram record each)."""
        if event.type in DELTA_TYPES:
            now = time.perf_counter()
            if self.first is None:
                self.first = now
            else:
                self._owner._tpoc.record(now - self.last, self._base())
            self.last = now
            self.chunks += 1

    def on_end(self, end: StreamEnd) -> None:
        acc = self.accumulator
        if acc is not None:  # per-stream timing: the accumulator counted the deltas
            self.chunks = acc.deltas
            self.first = acc.first_delta_at
        self.finish(end.response, end.error)

    def finish(self, response: Response | CompactResponse | None, error: BaseException | None) -> None:
        """Record duration, tokens and chunk timings once."""
        if self.done:
            return
        self.done = True
        try:
            owner = self._owner
            attrs = self._base()
            model = getattr(response, "model", None)
            if model:
                attrs[sc.GEN_AI_RESPONSE_MODEL] = model
            timing = dict(attrs)
            if error is not None:
                attrs[sc.ERROR_TYPE] = error_type(error)
            now = time.perf_counter()
            owner._duration.record(now - self.started, attrs)
            if self.first is not None:
                owner._ttfc.record(self.first - self.started, timing)
                if not self.per_chunk and self.chunks > 1:
                    # From the first chunk to the end of the stream, over the gaps between chunks.
                    owner._tpoc.record((now - self.first) / (self.chunks - 1), timing)
            self._tokens(response, timing)
        except Exception:
            logger.exception("Metrics failed to record the call")

    def _tokens(self, response: Response | CompactResponse | None, attrs: dict[str, AttrValue]) -> None:
        usage = getattr(response, "usage", None)
        if usage is None:
            return
        owner = self._owner
        if owner._token_usage is not None:
            owner._token_usage.record(
                usage.input_tokens, {**attrs, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_INPUT}
            )
            owner._token_usage.record(
                usage.output_tokens, {**attrs, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_OUTPUT}
            )
            return
        counters = owner._token_counters
        values = {
            "input": usage.input_tokens,
            "output": usage.output_tokens,
            "cache_read": getattr(usage.input_tokens_details, "cached_tokens", None),
            "reasoning": getattr(usage.output_tokens_details, "reasoning_tokens", None),
        }
        for key, value in values.items():
            if value is not None and key in counters:
                counters[key].add(int(value), attrs)
