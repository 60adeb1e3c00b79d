"""CircuitBreaker: pybreaker's state machine driven from asyncio; Redis-shared across processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pybreaker
import pytest

from openresponses import (
    AllProvidersFailed,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    CircuitOpenError,
    ConfigError,
    InternalServerError,
    ProtocolError,
    RequestValidationError,
    ResponseFailedError,
    RetryBudgetExhausted,
    StreamInterrupted,
)
from openresponses.middleware import CircuitBreaker, Retry, RetryPolicy
from openresponses.testing import (
    FakeClock,
    Script,
    ScriptedServer,
    failed,
    reset_mid_stream,
    status_error,
    text,
)


def expire(breaker: CircuitBreaker) -> None:
    """Pretend the cool-down has passed (memory storage)."""
    breaker.breaker._state_storage.opened_at = datetime.now(UTC) - timedelta(
        seconds=breaker.reset_timeout + 1
    )


async def test_opens_after_fail_max_and_fails_fast(make_request: Any, recorder: Any) -> None:
    breaker = CircuitBreaker(name="primary", fail_max=3, reset_timeout=30)
    upstream = Script(status_error(503), repeat_last=True)
    for _ in range(3):
        with pytest.raises(InternalServerError):
            await breaker(make_request(recorder=recorder), upstream)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError) as info:
        await breaker(make_request(recorder=recorder), upstream)
    assert upstream.calls == 3  # the fourth call never reached the upstream
    assert info.value.provider == "primary"
    assert info.value.reopens_in is not None and 29.0 < info.value.reopens_in <= 30.0
    assert "'primary' is open; half-open in" in str(info.value)
    assert recorder.of("breaker") == [{"provider": "primary", "state": "open", "previous": "closed"}]
    assert recorder.of("breaker.rejected")[0]["provider"] == "primary"


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
async def test_client_errors_do_not_trip(code: int, make_request: Any) -> None:
    breaker = CircuitBreaker(name="p", fail_max=1)
    with pytest.raises(APIStatusError):
        await breaker(make_request(), Script(status_error(code)))
    assert breaker.state == "closed"
    assert breaker.fail_counter == 0


@pytest.mark.parametrize("code", [408, 429, 500])
async def test_timeouts_rate_limits_and_server_errors_trip(code: int, make_request: Any) -> None:
    breaker = CircuitBreaker(name="p", fail_max=1)
    with pytest.raises(APIStatusError):
        await breaker(make_request(), Script(status_error(code)))
    assert breaker.state == "open"


async def test_half_open_lets_one_trial_through_then_closes(make_request: Any, recorder: Any) -> None:
    breaker = CircuitBreaker(name="p", fail_max=1, reset_timeout=60)
    with pytest.raises(InternalServerError):
        await breaker(make_request(), Script(status_error(500)))
    expire(breaker)
    gate = asyncio.Event()

    async def slow_ok(request: Any) -> Any:
        await gate.wait()
        return await Script(text("ok"))(request)

    trial = asyncio.create_task(breaker(make_request(recorder=recorder), slow_ok))
    await asyncio.sleep(0.01)
    assert breaker.state == "half-open"
    with pytest.raises(CircuitOpenError) as info:  # a second concurrent call waits its turn
        await breaker(make_request(), Script(text("never")))
    assert info.value.reopens_in == 0.0
    gate.set()
    await trial
    assert breaker.state == "closed"
    assert [r["state"] for r in recorder.of("breaker")] == ["half-open", "closed"]


async def test_half_open_failure_reopens(make_request: Any) -> None:
    breaker = CircuitBreaker(name="p", fail_max=1, reset_timeout=60)
    with pytest.raises(InternalServerError):
        await breaker(make_request(), Script(status_error(500)))
    expire(breaker)
    with pytest.raises(InternalServerError):
        await breaker(make_request(), Script(status_error(502)))
    assert breaker.state == "open"
    assert breaker.reopens_in() > 59


async def test_a_stream_succeeds_at_commit_and_a_later_interruption_counts_as_failure() -> None:
    breaker = CircuitBreaker(name="default", fail_max=1)
    async with (
        ScriptedServer([reset_mid_stream(after_events=5)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[breaker]) as client,
    ):
        async with client.responses.stream(model="m", input="x") as stream:
            assert breaker.state == "closed"  # committed: counted as a success
            with pytest.raises(StreamInterrupted):
                async for _ in stream:
                    pass
        assert breaker.state == "open"
        with pytest.raises(CircuitOpenError):
            await client.responses.create(model="m", input="x")
    assert len(server.requests) == 1


async def test_retry_outside_stops_at_an_open_breaker(make_request: Any) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(name="p", fail_max=2)
    upstream = Script(status_error(503), repeat_last=True)
    stack = Retry(RetryPolicy(attempts=5, budget=False), clock=clock)
    with pytest.raises(CircuitOpenError):
        await stack(make_request(), lambda request: breaker(request, upstream))
    assert upstream.calls == 2
    assert len(clock.sleeps) == 2


async def test_cancellation_is_neither_success_nor_failure(make_request: Any) -> None:
    breaker = CircuitBreaker(name="p", fail_max=1)
    expire_later = asyncio.Event()

    async def hang(request: Any) -> Any:
        await expire_later.wait()

    task = asyncio.create_task(breaker(make_request(), hang))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state == "closed" and breaker.fail_counter == 0


async def test_pybreaker_listeners_and_exclusions(make_request: Any) -> None:
    changes: list[tuple[str, str]] = []

    class Listener(pybreaker.CircuitBreakerListener):  # type: ignore[misc]
        def state_change(self, cb: Any, old: Any, new: Any) -> None:
            changes.append((getattr(old, "name", ""), new.name))

    class Business(Exception):
        pass

    breaker = CircuitBreaker(name="p", fail_max=1, exclude=[Business], listeners=[Listener()])

    async def business(request: Any) -> Any:
        raise Business

    with pytest.raises(Business):
        await breaker(make_request(), business)
    assert breaker.state == "closed"
    with pytest.raises(InternalServerError):
        await breaker(make_request(), Script(status_error(500)))
    assert changes == [("closed", "open")]


def test_a_breaker_cannot_silently_serve_two_providers() -> None:
    breaker = CircuitBreaker()
    breaker.bind("a")
    breaker.bind("a")
    with pytest.raises(ValueError, match="explicit"):
        breaker.bind("b")
    shared = CircuitBreaker(name="shared")
    shared.bind("a")
    shared.bind("b")
    assert shared.name == "shared"


_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from openresponses import CallContext, CircuitOpenError, InternalServerError, Request
    from openresponses.middleware import CircuitBreaker
    from openresponses.testing import Script, status_error, text
    from openresponses.types import CreateResponseBody

    url, name, action = sys.argv[1], sys.argv[2], sys.argv[3]

    async def main() -> None:
        breaker = CircuitBreaker(name=name, fail_max=2, reset_timeout=60, redis_url=url)
        request = Request(body=CreateResponseBody(model="m", input="x"), context=CallContext())
        if action == "trip":
            for _ in range(2):
                try:
                    await breaker(request, Script(status_error(503)))
                except InternalServerError:
                    pass
            print(breaker.state)
        else:
            upstream = Script(text("ok"))
            try:
                await breaker(request, upstream)
                print("called", upstream.calls)
            except CircuitOpenError as exc:
                print("rejected", exc.provider, round(exc.reopens_in), upstream.calls)

    asyncio.run(main())
    """
)


def _run_child(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def test_two_processes_share_the_open_state_through_redis(redis_server: str, make_request: Any) -> None:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    assert _run_child(redis_server, name, "probe") == "called 1"
    assert _run_child(redis_server, name, "trip") == "open"
    # A second, independent process sees the open breaker and fails fast.
    out = _run_child(redis_server, name, "probe").split()
    assert out[:2] == ["rejected", name]
    assert 58 <= int(out[2]) <= 60
    assert out[3] == "0"
    # So does this process, through its own breaker object.
    local = CircuitBreaker(name=name, fail_max=2, reset_timeout=60, redis_url=redis_server)
    assert local.state == "open"
    with pytest.raises(CircuitOpenError):
        await local(make_request(), Script(text("never")))
    # Closing it here closes it for everyone.
    local.close()
    assert _run_child(redis_server, name, "probe") == "called 1"


def test_repr_and_validation() -> None:
    assert "storage=redis" in repr(CircuitBreaker(name="x", redis_url="redis://127.0.0.1:1/0"))
    with pytest.raises(ValueError):
        CircuitBreaker(fail_max=0)
    with pytest.raises(ValueError, match="at most one"):
        CircuitBreaker(redis_url="redis://x", state_storage=pybreaker.CircuitMemoryStorage("closed"))


async def test_redis_backed_breaker_counts_a_later_interruption_off_the_loop(redis_server: str) -> None:
    # With shared state every step is a Redis round trip, run in a worker thread; the failure seen
    # at stream end (a tap, which cannot await) is handed to one too, and still opens the breaker.
    breaker = CircuitBreaker(name=f"redis-stream-{uuid.uuid4().hex}", fail_max=1, redis_url=redis_server)
    async with (
        ScriptedServer([reset_mid_stream(after_events=5)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[breaker]) as client,
    ):
        async with client.responses.stream(model="m", input="x") as stream:
            assert breaker.state == "closed"
            with pytest.raises(StreamInterrupted):
                async for _ in stream:
                    pass
        for _ in range(100):
            if breaker.state == "open":
                break
            await asyncio.sleep(0.01)
        assert breaker.state == "open"
        with pytest.raises(CircuitOpenError):
            await client.responses.create(model="m", input="x")
    assert len(server.requests) == 1


# -- only upstream failures count ------------------------------------------------------------------


async def test_a_callers_mistake_never_opens_the_breaker() -> None:
    # The reported case: a bad header value is the caller's mistake, rejected before the
    # pipeline runs (RequestValidationError); the server sees nothing and the breaker counts nothing.
    breaker = CircuitBreaker(fail_max=2)
    async with (
        ScriptedServer([text("ok")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[breaker]) as client,
    ):
        for _ in range(3):
            with pytest.raises(RequestValidationError):
                await client.responses.create(model="m", input="x", extra_headers={"x-bad": 5})  # type: ignore[dict-item]
        assert breaker.state == "closed" and breaker.fail_counter == 0
        assert len(server.requests) == 0
        assert (await client.responses.create(model="m", input="x")).output_text == "ok"


def _local_errors() -> list[BaseException]:
    return [
        TypeError("bad header"),
        ValueError("bad value"),
        KeyError("bug"),
        RequestValidationError("temperature: must be <= 2"),
        ConfigError("bad config"),
        RetryBudgetExhausted("budget spent"),
        CircuitOpenError("inner", 3.0),  # an inner layer refused: the upstream was not called
        AllProvidersFailed("all failed", [CircuitOpenError("a"), TypeError("b")]),
    ]


@pytest.mark.parametrize("error", _local_errors(), ids=lambda e: type(e).__name__)
async def test_errors_raised_locally_count_neither_way(error: BaseException, make_request: Any) -> None:
    breaker = CircuitBreaker(name="p", fail_max=2)
    with pytest.raises(InternalServerError):
        await breaker(make_request(), Script(status_error(500)))
    assert breaker.fail_counter == 1
    for _ in range(3):
        with pytest.raises(type(error)):
            await breaker(make_request(), Script(error))  # type: ignore[arg-type]
    # Not a failure (the breaker would be open) and not a success (the counter would be reset).
    assert breaker.state == "closed" and breaker.fail_counter == 1


@pytest.mark.parametrize("error", _local_errors(), ids=lambda e: type(e).__name__)
async def test_a_local_error_in_a_trial_call_frees_the_trial_without_a_verdict(
    error: BaseException, make_request: Any
) -> None:
    breaker = CircuitBreaker(name="p", fail_max=1, reset_timeout=60)
    with pytest.raises(InternalServerError):
        await breaker(make_request(), Script(status_error(503)))
    expire(breaker)
    with pytest.raises(type(error)):
        await breaker(make_request(), Script(error))  # type: ignore[arg-type]
    assert breaker.state == "half-open"  # neither closed by a "success" nor re-opened
    assert (await breaker(make_request(), Script(text("ok")))).output_text == "ok"  # the slot is free
    assert breaker.state == "closed"


def _upstream_errors() -> list[BaseException]:
    return [
        APIConnectionError("refused", provider="p"),
        APITimeoutError("read", provider="p"),
        APITimeoutError("first_event", 5.0, provider="p"),
        ProtocolError("Invalid event", data=b"{not json"),
        ResponseFailedError("server_error", event=None),
        AllProvidersFailed("all failed", [CircuitOpenError("a"), APIConnectionError("refused")]),
    ]


@pytest.mark.parametrize("error", _upstream_errors(), ids=lambda e: type(e).__name__)
async def test_upstream_failures_count(error: BaseException, make_request: Any) -> None:
    breaker = CircuitBreaker(name="p", fail_max=1)
    with pytest.raises(type(error)):
        await breaker(make_request(), Script(error))  # type: ignore[arg-type]
    assert breaker.state == "open"


async def test_a_stream_failing_before_content_counts(make_request: Any) -> None:
    breaker = CircuitBreaker(name="default", fail_max=1)
    async with (
        ScriptedServer([failed()]) as server,
        AsyncClient(base_url=server.base_url, middleware=[breaker]) as client,
    ):
        with pytest.raises(ResponseFailedError):
            async with client.responses.stream(model="m", input="x") as stream:
                async for _ in stream:
                    pass
    assert breaker.state == "open"
