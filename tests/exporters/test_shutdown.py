"""``Telemetry.shutdown()`` with no collector: bounded, quiet, one warning line."""

from __future__ import annotations

import logging
import time

import pytest

from openresponses import exporters

from ..conftest import unused_port


def _closed_port() -> int:
    return unused_port()  # free, and no other worker's server can be handed it meanwhile


@pytest.mark.parametrize(("protocol", "budget"), [("http/protobuf", None), ("grpc", 1.0)])
def test_shutdown_without_a_collector_is_bounded_and_quiet(
    protocol: exporters.otel.Protocol, budget: float | None, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    telemetry = exporters.setup(
        "shutdown-test", endpoint=endpoint, protocol=protocol, set_global=False, instrument_httpx=False
    )
    with telemetry.tracer_provider.get_tracer("t").start_as_current_span("pending"):
        pass
    assert telemetry.meter_provider is not None
    telemetry.meter_provider.get_meter("t").create_counter("c").add(1)

    caplog.clear()
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    assert (telemetry.shutdown() if budget is None else telemetry.shutdown(timeout=budget)) is False
    elapsed = time.monotonic() - started

    # Without the bound the SDK retries for ~15 s; the budget is 3 s (generous margin for slow CI).
    assert elapsed < 8.0
    noisy = [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING]
    assert noisy == []
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["openresponses.telemetry"]
    assert warnings[0].getMessage() == (
        f"telemetry: the collector at {endpoint} did not take the last export within {budget or 3.0:.1f} s; "
        "unsent spans and metrics were dropped"
    )
    assert telemetry.shutdown() is True  # idempotent, and silent the second time
    # The exporter loggers are not left silenced for the application (once the interrupted
    # export has ended: it may outlive shutdown() by a moment).
    deadline = time.monotonic() + 10
    while logging.getLogger("opentelemetry.exporter").level != logging.NOTSET and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logging.getLogger("opentelemetry.exporter").level == logging.NOTSET


def test_shutdown_with_nothing_pending_is_quick_and_silent(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = exporters.setup(
        endpoint=f"http://127.0.0.1:{_closed_port()}", set_global=False, instrument_httpx=False, metrics=False
    )
    assert telemetry.shutdown() is True
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
