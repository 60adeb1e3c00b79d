"""Retry: backoff, Retry-After, what is retried, streams' commit point, the retry budget."""

from __future__ import annotations

import random
from typing import Any

import pytest

from openresponses import (
    APIConnectionError,
    AsyncClient,
    BadRequestError,
    Client,
    InternalServerError,
    RateLimitError,
    StreamInterrupted,
)
from openresponses.middleware import Retry, RetryBudget, RetryPolicy
from openresponses.middleware.retry import RetryEvent
from openresponses.testing import (
    FakeClock,
    Script,
    ScriptedServer,
    failed,
    malformed,
    reset_before_headers,
    reset_mid_stream,
    status,
    status_error,
    text,
)


def no_budget(**options: Any) -> RetryPolicy:
    return RetryPolicy(budget=False, **options)


async def test_429_retry_after_is_honoured_over_http(fake_clock: FakeClock) -> None:
    async with (
        ScriptedServer([status(429, headers={"Retry-After": "1"}), text("Hi there")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Retry(clock=fake_clock)]) as client,
    ):
        response = await client.responses.create(model="m", input="x")
    assert response.output_text == "Hi there"
    assert len(server.requests) == 2
    assert fake_clock.sleeps == [1.0]


async def test_retry_after_ms_wins_and_long_hints_are_capped(fake_clock: FakeClock) -> None:
    scenarios = [
        status(503, headers={"retry-after-ms": "250", "retry-after": "9"}),
        status(429, retry_after=120),
        text("ok"),
    ]
    async with ScriptedServer(scenarios) as server:
        retry = Retry(no_budget(attempts=3, max_retry_after=5.0), clock=fake_clock)
        async with AsyncClient(base_url=server.base_url, middleware=[retry]) as client:
            response = await client.responses.create(model="m", input="x")
    assert response.output_text == "ok"
    assert fake_clock.sleeps == [0.25, 5.0]


async def test_exponential_backoff_then_gives_up_with_the_original_error(
    fake_clock: FakeClock, recorder: Any
) -> None:
    async with ScriptedServer([status(500), status(502), status(504), text("never")]) as server:
        retry = Retry(no_budget(attempts=3, base_delay=0.5, max_delay=8.0, jitter="none"), clock=fake_clock)
        async with AsyncClient(base_url=server.base_url, middleware=[retry]) as client:
            with pytest.raises(InternalServerError) as info:
                await client.responses.create(model="m", input="x")
    assert info.value.status_code == 504
    assert any("gave up after 3 attempt" in note for note in info.value.__notes__)
    assert len(server.requests) == 3
    assert fake_clock.sleeps == [0.5, 1.0]


def test_full_jitter_stays_under_the_capped_ceiling() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=2.0)
    rng = random.Random(7)
    error = InternalServerError("x", status_code=500)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 2.0)]:
        waits = [policy.delay(retry, error, rng)[0] for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # it really is spread over the range
    equal = RetryPolicy(base_delay=1.0, jitter="equal")
    assert all(0.5 <= equal.delay(1, error, rng)[0] <= 1.0 for _ in range(100))


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
async def test_client_errors_are_never_retried(code: int, fake_clock: FakeClock) -> None:
    async with (
        ScriptedServer([status(code), text("never")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Retry(clock=fake_clock)]) as client,
    ):
        with pytest.raises(Exception) as info:
            await client.responses.create(model="m", input="x")
    assert getattr(info.value, "status_code", None) == code
    assert len(server.requests) == 1
    assert fake_clock.sleeps == []


async def test_retry_on_can_opt_in_to_a_client_error(fake_clock: FakeClock, make_request: Any) -> None:
    upstream = Script(status_error(400), text("ok"))
    policy = no_budget(retry_on=lambda e: isinstance(e, BadRequestError) or RetryPolicy.transient(e))
    reply = await Retry(policy, clock=fake_clock)(make_request(), upstream)
    assert reply.output_text == "ok"  # type: ignore[union-attr]
    assert upstream.calls == 2


async def test_connection_reset_before_headers_is_retried_for_a_stream(fake_clock: FakeClock) -> None:
    async with (
        ScriptedServer([reset_before_headers(), text("Fine answer", chunks=3)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Retry(clock=fake_clock)]) as client,
        client.responses.stream(model="m", input="x") as stream,
    ):
        events = [event async for event in stream]
        final = await stream.get_final_response()
    assert len(server.requests) == 2
    assert final.output_text == "Fine answer"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Fine answer"
    assert [e.type for e in events].count("response.created") == 1  # nothing from the failed attempt
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.parametrize(
    "fault",
    [failed("overloaded", code="server_error"), malformed(after_events=1)],
    ids=["response.failed-before-content", "malformed-before-content"],
)
async def test_stream_failures_before_the_first_content_event_are_retried(
    fault: Any, fake_clock: FakeClock
) -> None:
    async with (
        ScriptedServer([fault, text("Second try")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Retry(clock=fake_clock)]) as client,
        client.responses.stream(model="m", input="x") as stream,
    ):
        events = [event async for event in stream]
    assert len(server.requests) == 2
    assert [e.type for e in events].count("response.created") == 1
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Second try"
    assert events[-1].type == "response.completed"


async def test_no_retry_once_events_were_delivered(fake_clock: FakeClock) -> None:
    async with (
        ScriptedServer([reset_mid_stream(after_events=5, text="Hello world, this is partial")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Retry(clock=fake_clock)]) as client,
    ):
        received = []
        with pytest.raises(StreamInterrupted) as info:
            async with client.responses.stream(model="m", input="x") as stream:
                async for event in stream:
                    received.append(event)
    assert len(server.requests) == 1
    assert len(received) == 5
    assert info.value.events_delivered == 5
    assert info.value.response is not None
    assert info.value.response.output_text == "Hello"
    assert isinstance(info.value.__cause__, APIConnectionError)
    await server.wait_until(lambda s: s.open_connections == 0)


async def test_budget_stops_a_retry_storm(fake_clock: FakeClock, make_request: Any, recorder: Any) -> None:
    # ratio 0 and a floor of 1 retry per 10 s window: the second failing call gets no retry.
    budget = RetryBudget(0.0, min_retries_per_second=0.1, window=10.0, clock=fake_clock)
    retry = Retry(RetryPolicy(attempts=3, budget=budget, jitter="none"), clock=fake_clock)
    upstream = Script(status_error(503), repeat_last=True)
    with pytest.raises(InternalServerError):
        await retry(make_request(recorder=recorder), upstream)
    assert upstream.calls == 2  # one retry, then the budget was empty
    with pytest.raises(InternalServerError) as info:
        await retry(make_request(recorder=recorder), upstream)
    assert upstream.calls == 3
    assert any("retry budget is exhausted" in note for note in info.value.__notes__)
    assert recorder.kinds().count("retry.budget_exhausted") == 2
    fake_clock.advance(11.0)  # the window slid: the floor is available again
    assert budget.available == pytest.approx(1.0)


def test_budget_grows_with_traffic_and_forgets_old_requests(fake_clock: FakeClock) -> None:
    budget = RetryBudget(0.2, min_retries_per_second=0.0, window=10.0, clock=fake_clock)
    for _ in range(50):
        budget.deposit()
    assert budget.available == pytest.approx(10.0)
    assert sum(budget.try_withdraw() for _ in range(20)) == 10
    fake_clock.advance(10.5)
    assert budget.available == 0.0
    budget.deposit()
    assert budget.available == pytest.approx(0.2)


async def test_deadline_stops_waits_that_would_cross_it(fake_clock: FakeClock, make_request: Any) -> None:
    retry = Retry(no_budget(attempts=10, base_delay=0.5, jitter="none", deadline=1.0), clock=fake_clock)
    upstream = Script(status_error(503), repeat_last=True)
    with pytest.raises(InternalServerError) as info:
        await retry(make_request(), upstream)
    assert fake_clock.sleeps == [0.5]  # the next wait (1.0) would end at 1.5 > 1.0
    assert upstream.calls == 2
    assert any("retry deadline" in note for note in info.value.__notes__)


async def test_records_and_on_retry_hook(fake_clock: FakeClock, make_request: Any, recorder: Any) -> None:
    seen: list[RetryEvent] = []
    policy = no_budget(attempts=3, jitter="none", on_retry=seen.append)
    upstream = Script(status_error(429, headers={"retry-after": "2"}), status_error(500), text("ok"))
    await Retry(policy, clock=fake_clock)(make_request(recorder=recorder), upstream)
    assert recorder.of("retry") == [
        {"attempt": 2, "wait_s": 2.0, "reason": "retry-after", "error.type": "RateLimitError"},
        {"attempt": 3, "wait_s": 1.0, "reason": "backoff", "error.type": "InternalServerError"},
    ]
    assert [(e.attempt, e.wait, e.reason) for e in seen] == [(2, 2.0, "retry-after"), (3, 1.0, "backoff")]
    assert isinstance(seen[0].error, RateLimitError)


async def test_a_failing_hook_does_not_break_the_call(fake_clock: FakeClock, make_request: Any) -> None:
    def boom(event: RetryEvent) -> None:
        raise RuntimeError("hook bug")

    upstream = Script(status_error(500), text("ok"))
    reply = await Retry(no_budget(on_retry=boom), clock=fake_clock)(make_request(), upstream)
    assert reply.output_text == "ok"  # type: ignore[union-attr]


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter="sometimes")  # type: ignore[arg-type]


def test_sync_client_runs_the_same_retry(fake_clock: FakeClock) -> None:
    with ScriptedServer([status(503), text("sync ok")]).run_in_thread() as server:
        with Client(base_url=server.base_url, middleware=[Retry(clock=fake_clock)]) as client:
            response = client.responses.create(model="m", input="x")
        assert response.output_text == "sync ok"
        assert len(server.requests) == 2
