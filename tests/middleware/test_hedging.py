"""Hedging: race the next provider when the current one is slow to its first content event."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses import AsyncClient, Provider
from openresponses.middleware import Failover
from openresponses.testing import ScriptedServer, status, text


@pytest.fixture
async def pair() -> AsyncIterator[tuple[ScriptedServer, ScriptedServer]]:
    async with ScriptedServer() as a, ScriptedServer() as b:
        yield a, b


async def run(
    a: ScriptedServer, b: ScriptedServer, recorder: Any, *, stream: bool = True, hedge: float = 0.1
) -> Any:
    failover = Failover([Provider("a", a.base_url), Provider("b", b.base_url)], hedge_after=hedge)
    async with AsyncClient(middleware=[failover]) as client:
        request = client.build_request({"model": "m", "input": "x"}, stream=stream)
        request.context.observers.append(recorder)
        started = time.monotonic()
        reply = await client.send(request)
        if stream:
            events = [event async for event in reply]  # type: ignore[union-attr]
            text_out = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        else:
            text_out = reply.output_text  # type: ignore[union-attr]
        return reply, text_out, time.monotonic() - started


async def test_slow_first_token_is_hedged_and_the_loser_is_closed(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(text("slow a", first_event_delay=3.0))
    b.push(text("fast b"))
    reply, out, elapsed = await run(a, b, recorder)
    assert out == "fast b" and reply.provider == "b"
    assert elapsed < 1.5
    assert recorder.of("hedge") == [{"provider": "b", "after_s": 0.1}]
    assert recorder.of("hedge.winner") == [{"provider": "b"}]
    # a's request was cancelled: the server saw the client go away.
    await a.wait_until(lambda s: s.client_disconnects == 1 and s.open_connections == 0)


async def test_a_fast_primary_never_starts_the_hedge(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(text("quick a"))
    reply, out, _ = await run(a, b, recorder, hedge=0.5)
    assert out == "quick a" and reply.provider == "a"
    assert len(b.requests) == 0
    assert recorder.of("hedge") == []


async def test_a_fast_failure_starts_the_next_provider_without_waiting(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(status(503))
    b.push(text("b answers"))
    reply, out, elapsed = await run(a, b, recorder, hedge=1.0)
    assert out == "b answers" and reply.provider == "b"
    assert elapsed < 0.8  # did not sit out the 1 s hedge timer
    assert recorder.of("hedge") == []
    assert recorder.of("failover") == [{"from": "a", "to": "b", "reason": "status_503"}]


async def test_the_primary_can_still_win_after_the_hedge_started(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(text("a wins", first_event_delay=0.2))
    b.push(text("b too slow", first_event_delay=3.0))
    reply, out, _ = await run(a, b, recorder, hedge=0.05)
    assert out == "a wins" and reply.provider == "a"
    assert recorder.of("hedge.winner") == [{"provider": "a"}]
    await b.wait_until(lambda s: s.client_disconnects == 1 and s.open_connections == 0)


async def test_non_streaming_calls_are_hedged_too(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(text("slow headers", delay=3.0))
    b.push(text("b whole"))
    reply, out, elapsed = await run(a, b, recorder, stream=False)
    assert out == "b whole" and reply.provider == "b"
    assert elapsed < 1.5
    await a.wait_until(lambda s: s.open_connections == 0)
