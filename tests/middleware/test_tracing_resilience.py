"""Tracing with the real Retry, Failover and CircuitBreaker: their decisions show up on the spans."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from openresponses import AsyncClient, Provider, exporters
from openresponses.exporters import semconv as sc
from openresponses.middleware import CircuitBreaker, Failover, Retry, RetryPolicy, Tracing
from openresponses.testing import FakeClock, ScriptedTransport, status, text


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


async def test_real_retry_after_429() -> None:
    mem = exporters.memory()
    transport = ScriptedTransport([status(429, retry_after=1), text("Hi")], name="primary")
    retry = Retry(RetryPolicy(attempts=3, jitter="none"), clock=FakeClock())
    client = AsyncClient(
        transport=transport, middleware=[Tracing(tracer_provider=mem.tracer_provider), retry]
    )
    async with client.responses.stream(model="m", input="x") as stream:
        assert (await stream.get_final_response()).output_text == "Hi"
    spans = mem.spans()
    (first,) = named(spans, "attempt 1 primary")
    (second,) = named(spans, "attempt 2 primary")
    assert first.status.status_code is StatusCode.ERROR
    assert (first.attributes or {})[sc.ERROR_TYPE] == "429"
    b = dict(second.attributes or {})
    assert b[sc.OR_ATTEMPT_REASON] == "retry"
    assert b[sc.OR_ATTEMPT_WAIT] == pytest.approx(1.0)
    assert b[sc.OR_ATTEMPT_WAIT_REASON] == "retry-after"
    (call,) = named(spans, "chat m")
    assert (call.attributes or {})[sc.OR_RETRIES] == 1
    assert (call.attributes or {})[sc.OR_ATTEMPTS] == 2
    assert [e.name for e in call.events] == ["retry"]


async def test_real_failover_and_breaker() -> None:
    mem = exporters.memory()
    a = ScriptedTransport([status(500), status(500)], name="a")
    b = ScriptedTransport([text("from b"), text("from b again")], name="b")
    failover = Failover(
        [
            Provider("a", transport=a, middleware=[CircuitBreaker(fail_max=1, reset_timeout=60)]),
            Provider("b", transport=b),
        ]
    )
    client = AsyncClient(middleware=[Tracing(tracer_provider=mem.tracer_provider), failover])
    first = await client.responses.create(model="m", input="x")
    assert first.output_text == "from b"
    second = await client.responses.create(model="m", input="y")
    assert second.output_text == "from b again"
    assert a.calls == 1  # the open breaker kept the second call away from a

    calls = named(mem.spans(), "chat m")
    assert len(calls) == 2
    one, two = (dict(c.attributes or {}) for c in calls)
    assert one[sc.OR_PROVIDER] == "b" and one[sc.OR_ATTEMPTS] == 2 and one[sc.OR_FAILOVERS] == 1
    assert "failover" in [e.name for e in calls[0].events]
    breaker = [e for e in calls[0].events if e.name == "breaker"]
    assert breaker and (breaker[0].attributes or {})["openresponses.breaker.state"] == "open"
    # Second call: rejected by the breaker, served by b in one attempt.
    assert [e.name for e in calls[1].events][:1] == ["breaker.rejected"]
    assert two[sc.OR_PROVIDER] == "b" and two[sc.OR_ATTEMPTS] == 1
    attempts_b = named(mem.spans(), "attempt 2 b")
    assert attempts_b and (attempts_b[0].attributes or {})[sc.OR_ATTEMPT_REASON] == "failover"
    assert (attempts_b[0].attributes or {})[sc.OR_ATTEMPT_FROM] == "a"
