"""Metrics: GenAI client instruments with the conventions' buckets, and resilience counters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from openresponses import APIConnectionError, AsyncClient
from openresponses._emit import EventBuilder
from openresponses._pipeline import AttemptBoundary, Reply, Request, Target
from openresponses._streaming import EventStream
from openresponses.exporters import semconv as sc
from openresponses.middleware import Metrics
from openresponses.types import Response, StreamEvent

USAGE = {
    "input_tokens": 11,
    "output_tokens": 21,
    "input_tokens_details": {"cached_tokens": 4},
    "output_tokens_details": {"reasoning_tokens": 7},
}


class Meter:
    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def collect(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        out: dict[str, Any] = {}
        assert data is not None
        for rm in data.resource_metrics:
            for scope in rm.scope_metrics:
                for metric in scope.metrics:
                    out[metric.name] = metric
        return out


def events(pieces: list[str], *, fail: bool = False) -> list[StreamEvent]:
    b = EventBuilder(model="m-2025")
    b.created()
    b.in_progress()
    m = b.start_message()
    for piece in pieces:
        b.text(m, piece)
    if fail:
        b.fail("boom", code="server_error")
    else:
        b.end_item(m)
        b.complete(usage=USAGE)
    return b.drain()


class Local:
    def __init__(self, *outcomes: Any, name: str = "p") -> None:
        self.outcomes = list(outcomes)
        self.target = Target(name, "http://api.example:8443/v1")

    async def __call__(self, request: Request, /) -> Reply:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, Response):
            return outcome

        async def source() -> AsyncIterator[list[StreamEvent]]:
            for event in outcome:
                yield [event]

        return EventStream(source(), provider=self.target.provider)

    async def aclose(self) -> None:
        return None


def final(evts: list[StreamEvent]) -> Response:
    response = evts[-1].response  # type: ignore[union-attr]
    assert isinstance(response, Response)
    return response


async def test_stream_records_duration_ttfc_chunk_time_and_tokens() -> None:
    meter = Meter()
    client = AsyncClient(
        transport=Local(events(["a", "b", "c", "d"])), middleware=[Metrics(meter_provider=meter.provider)]
    )
    async with client.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()
    got = meter.collect()
    duration = got["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    (point,) = duration.data.data_points
    assert point.count == 1
    assert tuple(point.explicit_bounds) == sc.DURATION_BUCKETS
    assert dict(point.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "p",
        "gen_ai.request.model": "m",
        "gen_ai.response.model": "m-2025",
        "server.address": "api.example",
        "server.port": 8443,
    }
    (ttfc,) = got["gen_ai.client.operation.time_to_first_chunk"].data.data_points
    assert ttfc.count == 1 and 0 < ttfc.sum <= point.sum
    (tpoc,) = got["gen_ai.client.operation.time_per_output_chunk"].data.data_points
    assert tpoc.count == 1  # per stream by default: the mean gap between the 4 chunks
    usage = got["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    by_type = {p.attributes["gen_ai.token.type"]: p for p in usage.data.data_points}
    assert by_type["input"].sum == 11 and by_type["output"].sum == 21
    assert tuple(by_type["input"].explicit_bounds) == tuple(float(b) for b in sc.TOKEN_BUCKETS)
    (attempts,) = got["openresponses.client.attempts"].data.data_points
    assert attempts.value == 1


async def test_per_chunk_timing_records_every_gap() -> None:
    meter = Meter()
    metrics = Metrics(meter_provider=meter.provider, chunk_timing="per_chunk")
    client = AsyncClient(transport=Local(events(["a", "b", "c", "d"])), middleware=[metrics])
    async with client.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()
    (tpoc,) = meter.collect()["gen_ai.client.operation.time_per_output_chunk"].data.data_points
    assert tpoc.count == 3


async def test_non_stream_has_no_chunk_metrics_and_errors_carry_error_type() -> None:
    meter = Meter()
    transport = Local(final(events(["a"])), APIConnectionError("refused"))
    client = AsyncClient(transport=transport, middleware=[Metrics(meter_provider=meter.provider)])
    await client.responses.create(model="m", input="x")
    with pytest.raises(APIConnectionError):
        await client.responses.create(model="m", input="x")
    got = meter.collect()
    assert "gen_ai.client.operation.time_to_first_chunk" not in got
    points = got["gen_ai.client.operation.duration"].data.data_points
    errors = [p.attributes.get("error.type") for p in points]
    assert sorted(e or "" for e in errors) == ["", "APIConnectionError"]


async def test_failed_stream_records_error_type() -> None:
    meter = Meter()
    client = AsyncClient(
        transport=Local(events(["a"], fail=True)), middleware=[Metrics(meter_provider=meter.provider)]
    )
    with pytest.raises(Exception, match="boom"):
        async with client.responses.stream(model="m", input="x") as stream:
            await stream.get_final_response()
    (point,) = meter.collect()["gen_ai.client.operation.duration"].data.data_points
    assert point.attributes["error.type"] == "server_error"


async def test_resilience_and_cache_counters() -> None:
    meter = Meter()
    a, b = Local(APIConnectionError("down"), name="a"), Local(final(events(["x"])), name="b")
    boundary_a, boundary_b = AttemptBoundary(a), AttemptBoundary(b)

    async def resilient(request: Request, /) -> Reply:
        ctx = request.context
        ctx.record("cache", {"hit": False})
        try:
            return await boundary_a(request)
        except APIConnectionError:
            ctx.record(
                "retry",
                {"attempt": 2, "wait_s": 0.1, "reason": "backoff", "error.type": "APIConnectionError"},
            )
            ctx.record("breaker", {"provider": "a", "state": "open", "previous": "closed"})
            ctx.record("breaker.rejected", {"provider": "a", "reopens_in_s": 30.0})
            ctx.record("failover", {"from": "a", "to": "b", "reason": "CircuitOpenError"})
            return await boundary_b(request)

    client = AsyncClient(middleware=[Metrics(meter_provider=meter.provider)], endpoint=resilient)
    await client.responses.create(model="m", input="x")
    got = meter.collect()

    def one(name: str) -> Any:
        (point,) = got[name].data.data_points
        return point

    assert one("openresponses.client.retries").value == 1
    assert dict(one("openresponses.client.retries").attributes)["openresponses.retry.reason"] == "backoff"
    failover = one("openresponses.client.failovers")
    assert failover.value == 1
    assert dict(failover.attributes) == {
        "gen_ai.operation.name": "chat",
        "openresponses.failover.from": "a",
        "openresponses.failover.to": "b",
        "openresponses.failover.reason": "CircuitOpenError",
    }
    assert dict(one("openresponses.client.breaker.transitions").attributes) == {
        "openresponses.breaker.provider": "a",
        "openresponses.breaker.state": "open",
        "openresponses.breaker.previous": "closed",
    }
    assert one("openresponses.client.breaker.rejections").value == 1
    assert one("openresponses.client.cache.misses").value == 1
    assert "openresponses.client.cache.hits" not in got
    assert sum(p.value for p in got["openresponses.client.attempts"].data.data_points) == 2
    # The call is attributed to the provider that served it.
    (duration,) = got["gen_ai.client.operation.duration"].data.data_points
    assert duration.attributes["gen_ai.provider.name"] == "b"


async def test_latest_experimental_instruments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sc.OPT_IN_ENV, "gen_ai_latest_experimental")
    meter = Meter()
    client = AsyncClient(
        transport=Local(events(["a", "b"])), middleware=[Metrics(meter_provider=meter.provider)]
    )
    async with client.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()
    got = meter.collect()
    assert "gen_ai.client.operation.duration" not in got
    assert "gen_ai.client.token.usage" not in got
    assert got["gen_ai.client.inference.duration"].data.data_points[0].count == 1
    assert "gen_ai.client.inference.time_to_first_chunk" in got
    values = {
        name: got[name].data.data_points[0].value
        for name in (
            "gen_ai.client.inference.usage.input_tokens",
            "gen_ai.client.inference.usage.output_tokens",
            "gen_ai.client.inference.usage.cache_read.input_tokens",
            "gen_ai.client.inference.usage.reasoning.output_tokens",
        )
    }
    assert list(values.values()) == [11, 21, 4, 7]


def test_bad_chunk_timing_is_rejected() -> None:
    with pytest.raises(ValueError, match="chunk_timing"):
        Metrics(chunk_timing="sometimes")  # type: ignore[arg-type]
