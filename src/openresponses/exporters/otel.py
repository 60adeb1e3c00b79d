"""Build OpenTelemetry tracer and meter providers: OTLP (Jaeger, collectors), console, in memory.

:func:`setup` is the production path (OTLP over HTTP/protobuf or gRPC, honouring the standard
``OTEL_*`` environment variables); :func:`memory` is for tests, yours and ours. Both return a
handle that owns the providers; ``shutdown()`` flushes and stops them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._extras import requires

with requires("openresponses.exporters", "otel"):
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        InMemoryMetricReader,
        MetricReader,
        MetricsData,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["SHUTDOWN_TIMEOUT_S", "MemoryTelemetry", "Protocol", "Telemetry", "memory", "setup"]

logger = logging.getLogger("openresponses.telemetry")

Protocol = Literal["http/protobuf", "grpc"]


SHUTDOWN_TIMEOUT_S = 3.0
"""How long :meth:`Telemetry.shutdown` waits for the last export before giving up (seconds)."""

_INTERRUPT_GRACE_S = 0.5  # after interrupting the exporters, how long their threads get to notice
_EXPORTER_LOGGERS = ("opentelemetry.exporter", "opentelemetry.sdk")


@dataclass
class Telemetry:
    """Providers configured by :func:`setup`. ``shutdown()`` flushes pending spans and metrics."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider | None
    endpoint: str | None
    protocol: Protocol
    _instrumented_httpx: bool = field(default=False, repr=False)
    _closed: bool = field(default=False, repr=False)
    _exporters: tuple[Any, ...] = field(default=(), repr=False)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything pending now; ``True`` when all exports succeeded in time."""
        ok = self.tracer_provider.force_flush(timeout_millis)
        if self.meter_provider is not None:
            ok = self.meter_provider.force_flush(timeout_millis) and ok
        return ok

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Flush and stop the providers (idempotent); undo the httpx instrumentation we did.

        Bounded: the last export gets ``timeout`` seconds in all. When the collector does not
        answer in time (not running, unreachable), the exporters are interrupted, what was not
        sent is dropped, one warning is logged on ``openresponses.telemetry`` and ``False`` is
        returned; the exporters' own retry messages are silenced meanwhile. ``True`` when the
        providers stopped within the budget (an export the collector rejected outright is logged
        by the SDK, not here).
        """
        if self._closed:
            return True
        self._closed = True
        if self._instrumented_httpx:
            try:
                from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

                HTTPXClientInstrumentor().uninstrument()
            except Exception:  # pragma: no cover - best effort
                logger.debug("uninstrumenting httpx failed", exc_info=True)
        # The SDK's own shutdown retries an unreachable collector for ~15 s with a log line per
        # retry; run it in a daemon thread we can stop waiting for, and interrupt the exporters
        # (their shutdown() ends the retry loop) when the budget is spent.
        budget = max(timeout, 0.0)
        quiet = _Quiet(_EXPORTER_LOGGERS)
        worker = threading.Thread(
            target=self._stop_providers, args=(quiet,), name="openresponses-telemetry-shutdown", daemon=True
        )
        worker.start()
        worker.join(max(budget - _INTERRUPT_GRACE_S, 0.0))
        if not worker.is_alive():
            quiet.release()
            return True
        for exporter in self._exporters:
            _interrupt(exporter)
        worker.join(min(_INTERRUPT_GRACE_S, budget))
        quiet.release()  # or, if the worker is still exporting, when it ends
        logger.warning(
            "telemetry: the collector at %s did not take the last export within %.1f s; "
            "unsent spans and metrics were dropped",
            self.endpoint or "the OTLP endpoint",
            budget,
        )
        return False

    def _stop_providers(self, quiet: _Quiet) -> None:
        try:
            self.tracer_provider.shutdown()
            if self.meter_provider is not None:
                self.meter_provider.shutdown()
        except Exception:  # pragma: no cover - the SDK logs its own failures
            logger.debug("telemetry shutdown failed", exc_info=True)
        finally:
            quiet.release()

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()


def _interrupt(exporter: Any) -> None:
    """Ask an exporter to stop retrying, without waiting for it (gRPC's shutdown waits on a lock)."""

    def stop() -> None:
        try:
            exporter.shutdown()
        except Exception:  # pragma: no cover - best effort
            logger.debug("interrupting %r failed", exporter, exc_info=True)

    threading.Thread(target=stop, name="openresponses-telemetry-interrupt", daemon=True).start()


class _Quiet:
    """Silences loggers (and their children) until released twice: by the caller and the worker.

    Whichever of the two finishes last restores the levels, so an export still retrying in the
    background after ``shutdown()`` returned stays quiet until it ends.
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        self._loggers = [logging.getLogger(name) for name in names]
        self._levels = [log.level for log in self._loggers]
        self._holders = 2
        self._lock = threading.Lock()
        for log in self._loggers:
            log.setLevel(logging.CRITICAL + 1)

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders != 0:
                return
        for log, level in zip(self._loggers, self._levels, strict=True):
            log.setLevel(level)


def _protocol(protocol: Protocol | None) -> Protocol:
    value = protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    if value not in ("http/protobuf", "grpc"):
        raise ValueError(f"protocol must be 'http/protobuf' or 'grpc', got {value!r}")
    return value  # type: ignore[return-value]


def _exporters(
    endpoint: str | None, protocol: Protocol, headers: Mapping[str, str] | None
) -> tuple[Any, Any]:
    """OTLP span and metric exporters. ``endpoint=None`` leaves it to ``OTEL_EXPORTER_OTLP_*``."""
    kwargs: dict[str, Any] = {}
    if headers:
        kwargs["headers"] = dict(headers)
    if protocol == "grpc":
        with requires("exporters.setup(protocol='grpc')", "otel"):
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetrics,
            )
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

        if endpoint is not None:
            kwargs["endpoint"] = endpoint
            kwargs["insecure"] = endpoint.startswith("http://")
        return GrpcSpans(**kwargs), GrpcMetrics(**kwargs)
    with requires("exporters.setup", "otel"):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

    if endpoint is None:
        return HttpSpans(**kwargs), HttpMetrics(**kwargs)
    base = endpoint.rstrip("/")
    return HttpSpans(endpoint=f"{base}/v1/traces", **kwargs), HttpMetrics(
        endpoint=f"{base}/v1/metrics", **kwargs
    )


def setup(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    protocol: Protocol | None = None,
    console: bool = False,
    metrics: bool = True,
    headers: Mapping[str, str] | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    metric_export_interval_s: float | None = None,
    instrument_httpx: bool = True,
    set_global: bool = True,
) -> Telemetry:
    """Configure tracer and meter providers that export OTLP (Jaeger ingests it on 4318/4317).

    ``endpoint`` is the collector's base URL (``http://localhost:4318`` for HTTP/protobuf,
    ``http://localhost:4317`` for gRPC); without it the standard variables apply
    (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``..._HEADERS``,
    ``OTEL_EXPORTER_OTLP_PROTOCOL``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_BSP_*``), then the OTLP default of localhost.
    ``console`` also prints spans (and metrics) to stdout. ``instrument_httpx`` turns on the
    httpx instrumentation so HTTP client spans nest under attempt spans. ``set_global`` installs
    the providers as the global ones (``Tracing()`` and ``Metrics()`` then need no arguments).
    """
    proto = _protocol(protocol)
    attrs: dict[str, Any] = dict(resource_attributes or {})
    if service_name:
        attrs[SERVICE_NAME] = service_name
    resource = Resource.create(attrs)
    span_exporter, metric_exporter = _exporters(endpoint, proto, headers)

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    if console:
        tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))

    meter_provider: MeterProvider | None = None
    if metrics:
        interval_ms: float | None = None
        if metric_export_interval_s is not None:
            interval_ms = metric_export_interval_s * 1000.0
        readers: list[MetricReader] = [
            PeriodicExportingMetricReader(metric_exporter, export_interval_millis=interval_ms)
        ]
        if console:
            readers.append(
                PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=interval_ms)
            )
        meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    else:
        metric_exporter.shutdown()

    exporters = (span_exporter, metric_exporter) if meter_provider is not None else (span_exporter,)
    handle = Telemetry(tracer_provider, meter_provider, endpoint, proto, _exporters=exporters)
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        if meter_provider is not None:
            otel_metrics.set_meter_provider(meter_provider)
    if instrument_httpx:
        handle._instrumented_httpx = _instrument_httpx(tracer_provider, meter_provider)
    return handle


def _instrument_httpx(tracer_provider: TracerProvider, meter_provider: MeterProvider | None) -> bool:
    try:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    except ImportError:
        logger.info("opentelemetry-instrumentation-httpx is not installed: no HTTP client spans")
        return False
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return False  # someone else did it; leave it to them
    kwargs: dict[str, Any] = {"tracer_provider": tracer_provider}
    if meter_provider is not None:
        kwargs["meter_provider"] = meter_provider
    instrumentor.instrument(**kwargs)
    return True


@dataclass
class MemoryTelemetry:
    """In-memory providers for tests: finished spans and collected metrics, never global."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    span_exporter: InMemorySpanExporter
    metric_reader: InMemoryMetricReader

    def spans(self) -> tuple[ReadableSpan, ...]:
        """Every finished span so far, in end order."""
        return self.span_exporter.get_finished_spans()

    def metrics(self) -> MetricsData | None:
        """Collect the metrics now."""
        return self.metric_reader.get_metrics_data()

    def metric_points(self) -> dict[str, list[Any]]:
        """Collected data points by metric name (all scopes), for quick assertions."""
        data = self.metrics()
        out: dict[str, list[Any]] = {}
        if data is None:
            return out
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out

    def last_trace(self) -> list[ReadableSpan]:
        """The spans of the trace whose root span ended last."""
        spans = self.spans()
        ids = {s.context.span_id for s in spans if s.context is not None}
        roots = [s for s in spans if s.parent is None or s.parent.span_id not in ids]
        if not roots:
            return []
        trace_id = roots[-1].context.trace_id if roots[-1].context is not None else None
        return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]

    def render_last_trace(self, **kwargs: Any) -> str:
        """The last trace as a terminal tree (see :func:`openresponses.exporters.tree.render_trace`)."""
        from .tree import render_trace

        return render_trace(self.last_trace(), **kwargs)

    def clear(self) -> None:
        """Forget the finished spans."""
        self.span_exporter.clear()

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def memory(*, resource_attributes: Mapping[str, Any] | None = None) -> MemoryTelemetry:
    """Fresh in-memory tracer and meter providers (spans exported synchronously, on end)."""
    resource = Resource.create(dict(resource_attributes or {}))
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    return MemoryTelemetry(tracer_provider, meter_provider, exporter, reader)
