"""The one OpenTelemetry SDK reach-in (a span's event limit): pinned so an SDK change fails here."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider

from openresponses.middleware._otel_attrs import max_span_events

_CHANGED = (
    "opentelemetry-sdk no longer keeps a span's SpanLimits in Span._limits (.max_events): "
    "update openresponses.middleware._otel_attrs.max_span_events"
)


def _span(limits: SpanLimits | None = None) -> trace.Span:
    return TracerProvider(span_limits=limits).get_tracer("t").start_span("s")


def test_the_sdk_still_keeps_a_spans_limits_where_we_read_them() -> None:
    span = _span(SpanLimits(max_events=7))
    assert isinstance(getattr(span, "_limits", None), SpanLimits), _CHANGED
    assert max_span_events(span) == 7, _CHANGED
    # ...and that value is the one the SDK enforces: the eighth event on is dropped.
    for number in range(10):
        span.add_event(f"e{number}")
    span.end()
    assert span.dropped_events == 3  # type: ignore[attr-defined]


def test_an_explicitly_unlimited_span_still_gets_a_bound() -> None:
    span = _span(SpanLimits(max_events=SpanLimits.UNSET))
    assert span._limits.max_events is None, _CHANGED  # type: ignore[attr-defined]
    assert max_span_events(span) == 1 << 16


def test_the_sdk_default_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_span_events(_span()) == 128
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "5")
    assert max_span_events(_span()) == 5


def test_a_span_without_sdk_limits_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_span_events(trace.INVALID_SPAN) == 128
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "9")
    assert max_span_events(trace.INVALID_SPAN) == 9
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "not a number")
    assert max_span_events(trace.INVALID_SPAN) == 128
