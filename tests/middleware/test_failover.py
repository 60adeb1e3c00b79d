"""Failover across ordered providers: what fails over, what is surfaced, who served."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses import (
    AllProvidersFailed,
    AsyncClient,
    BadRequestError,
    ConfigError,
    Provider,
    ResponseFailedError,
)
from openresponses.middleware import CircuitBreaker, Failover, Retry, RetryPolicy, Timeout
from openresponses.testing import (
    FakeClock,
    ScriptedServer,
    ScriptedTransport,
    failed,
    reset_before_headers,
    status,
    text,
)


@pytest.fixture
async def servers() -> AsyncIterator[tuple[ScriptedServer, ScriptedServer, ScriptedServer]]:
    async with ScriptedServer() as a, ScriptedServer() as b, ScriptedServer() as c:
        yield a, b, c


def client_for(*providers: Provider, **options: Any) -> AsyncClient:
    return AsyncClient(middleware=[Failover(list(providers), **options)])


async def send(client: AsyncClient, recorder: Any, *, stream: bool = False) -> tuple[Any, Any]:
    request = client.build_request({"model": "m", "input": "Hello"}, stream=stream)
    request.context.observers.append(recorder)
    return await client.send(request), request


async def test_503_fails_over_and_says_who_served(servers: Any, recorder: Any) -> None:
    a, b, _ = servers
    a.push(status(503))
    b.push(text("from b"))
    async with client_for(Provider("a", a.base_url), Provider("b", b.base_url)) as client:
        response, request = await send(client, recorder)
        assert response.output_text == "from b"
        assert response.provider == "b"
        assert request.context.provider == "b"
        assert recorder.of("failover") == [{"from": "a", "to": "b", "reason": "status_503"}]
        public = await client.responses.create(model="m", input="again")
        assert public.provider == "a"  # a is healthy again (default scenario)
    assert len(a.requests) == 2 and len(b.requests) == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (reset_before_headers(), "connection"),
        (failed("overloaded"), "response_failed"),
        (status(429, retry_after=0), "status_429"),
    ],
)
async def test_stream_fails_over_before_the_first_delivered_event(
    servers: Any, recorder: Any, fault: Any, reason: str
) -> None:
    a, b, _ = servers
    a.push(fault)
    b.push(text("streamed by b", chunks=3))
    async with client_for(Provider("a", a.base_url), Provider("b", b.base_url)) as client:
        stream, _ = await send(client, recorder, stream=True)
        events = [event async for event in stream]
        assert stream.provider == "b"
    assert [e.type for e in events].count("response.created") == 1
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "streamed by b"
    assert recorder.of("failover")[0]["reason"] == reason


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
async def test_client_errors_are_surfaced_without_failover(servers: Any, code: int) -> None:
    a, b, _ = servers
    a.push(status(code))
    async with client_for(Provider("a", a.base_url), Provider("b", b.base_url)) as client:
        with pytest.raises(Exception) as info:
            await client.responses.create(model="m", input="x")
    assert getattr(info.value, "status_code", None) == code
    assert len(b.requests) == 0


async def test_context_window_400_goes_to_the_next_provider_without_retrying(servers: Any) -> None:
    a, b, _ = servers
    a.push(status(400, code_str="context_length_exceeded", message="too long"))
    b.push(text("big window"))
    retry = Retry(RetryPolicy(attempts=3, budget=False), clock=FakeClock())
    providers = [Provider("a", a.base_url, middleware=[retry]), Provider("b", b.base_url)]
    async with client_for(*providers) as client:
        response = await client.responses.create(model="m", input="x")
    assert response.output_text == "big window"
    assert len(a.requests) == 1


async def test_content_policy_refusal_is_surfaced_at_once(servers: Any) -> None:
    a, b, _ = servers
    a.push(failed("refused", code="content_filter", type="invalid_request"))
    retry = Retry(RetryPolicy(attempts=3, budget=False), clock=FakeClock())
    async with client_for(Provider("a", a.base_url, middleware=[retry]), Provider("b", b.base_url)) as client:
        with pytest.raises(ResponseFailedError) as info:
            async with client.responses.stream(model="m", input="x") as stream:
                async for _ in stream:
                    pass
    assert info.value.code == "content_filter"
    assert len(a.requests) == 1 and len(b.requests) == 0


async def test_all_failed_lists_every_attempt_in_order(servers: Any) -> None:
    a, b, c = servers
    a.push(status(503))
    b.push(reset_before_headers())
    c.push(status(429))
    providers = [Provider("a", a.base_url), Provider("b", b.base_url), Provider("c", c.base_url)]
    async with client_for(*providers) as client:
        with pytest.raises(AllProvidersFailed) as info:
            await client.responses.create(model="m", input="x")
    group = info.value
    assert [type(e).__name__ for e in group.exceptions] == [
        "InternalServerError",
        "APIConnectionError",
        "RateLimitError",
    ]
    assert [e.provider for e in group.exceptions] == ["a", "b", "c"]  # type: ignore[attr-defined]
    lines = str(group).splitlines()
    assert lines[1].startswith("  1. [a] InternalServerError: HTTP 503")
    assert lines[2].startswith("  2. [b] APIConnectionError")
    assert lines[3].startswith("  3. [c] RateLimitError: HTTP 429")


async def test_an_open_breaker_is_skipped_at_once(servers: Any, recorder: Any) -> None:
    a, b, _ = servers
    breaker = CircuitBreaker(fail_max=1, reset_timeout=60)
    providers = [Provider("a", a.base_url, middleware=[breaker]), Provider("b", b.base_url)]
    breaker.open()
    async with client_for(*providers) as client:
        started = time.monotonic()
        response, _ = await send(client, recorder)
    assert time.monotonic() - started < 0.5
    assert response.provider == "b"
    assert len(a.requests) == 0
    assert breaker.name == "a"
    assert recorder.of("failover") == [{"from": "a", "to": "b", "reason": "circuit_open"}]


async def test_model_override_and_model_map(servers: Any) -> None:
    a, b, _ = servers
    a.push(status(500), status(500))
    providers = [
        Provider("a", a.base_url, model_map={"fast": "a-mini"}),
        Provider("b", b.base_url, model="b-large", model_map={"fast": "b-small"}),
    ]
    async with client_for(*providers) as client:
        await client.responses.create(model="fast", input="x")
        await client.responses.create(model="other", input="x")
    assert [r.body["model"] for r in a.requests] == ["a-mini", "other"]
    assert [r.body["model"] for r in b.requests] == ["b-small", "b-large"]


async def test_api_key_from_env_is_sent_and_never_shown(servers: Any, monkeypatch: Any) -> None:
    a, _, _ = servers
    monkeypatch.setenv("TEST_PROVIDER_KEY", "sk-secret-123")
    provider = Provider("a", a.base_url, api_key_env="TEST_PROVIDER_KEY")
    assert "sk-secret" not in repr(provider)
    assert "TEST_PROVIDER_KEY" in repr(provider)
    async with client_for(provider) as client:
        assert "sk-secret" not in repr(client)
        await client.responses.create(model="m", input="x")
    assert a.requests[0].headers["authorization"] == "Bearer sk-secret-123"
    monkeypatch.delenv("TEST_PROVIDER_KEY")
    with pytest.raises(ConfigError, match="TEST_PROVIDER_KEY is not set"):
        Provider("a", a.base_url, api_key_env="TEST_PROVIDER_KEY")


async def test_first_token_timeout_fails_over_at_once(servers: Any, recorder: Any) -> None:
    a, b, _ = servers
    a.push(text("slow", first_event_delay=3.0))
    b.push(text("fast"))
    async with client_for(
        Provider("a", a.base_url), Provider("b", b.base_url), first_token_timeout=0.2
    ) as client:
        started = time.monotonic()
        stream, _ = await send(client, recorder, stream=True)
        events = [event async for event in stream]
        assert time.monotonic() - started < 1.5
    assert stream.provider == "b"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "fast"
    assert recorder.of("failover")[0]["reason"] == "timeout.first_event"
    await a.wait_until(lambda s: s.open_connections == 0)  # a's stalled stream was closed


async def test_a_provider_timeout_first_event_is_not_retried_inside_failover(servers: Any) -> None:
    a, b, _ = servers
    a.push(text("slow", first_event_delay=3.0), text("would be retried"))
    b.push(text("fast"))
    retry = Retry(RetryPolicy(attempts=3, budget=False), clock=FakeClock())
    providers = [
        Provider("a", a.base_url, middleware=[retry, Timeout(first_event=0.15)]),
        Provider("b", b.base_url),
    ]
    async with client_for(*providers) as client, client.responses.stream(model="m", input="x") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "fast"
    assert len(a.requests) == 1


async def test_retry_outside_failover_reruns_the_chain(recorder: Any) -> None:
    a = ScriptedTransport([status(503), text("a again")], name="a")
    b = ScriptedTransport([status(503)], name="b")
    clock = FakeClock()
    failover = Failover([Provider("a", transport=a), Provider("b", transport=b)])
    async with AsyncClient(middleware=[Retry(RetryPolicy(budget=False), clock=clock), failover]) as client:
        response = await client.responses.create(model="m", input="x")
    assert response.output_text == "a again" and response.provider == "a"
    assert (a.calls, b.calls) == (2, 1)
    assert len(clock.sleeps) == 1


def test_construction_errors() -> None:
    with pytest.raises(ValueError, match="endpoint="):
        AsyncClient(middleware=[Failover([Provider("a", transport=ScriptedTransport())]), Retry()])
    with pytest.raises(ValueError, match="unique"):
        Failover([Provider("a", transport=ScriptedTransport()), Provider("a", transport=ScriptedTransport())])
    with pytest.raises(ValueError, match="base_url"):
        Provider("a")
    with pytest.raises(ValueError, match="unknown adapter"):
        Provider("a", "http://x", adapter="soap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="midstream"):
        Failover([Provider("a", transport=ScriptedTransport())], midstream="resume")  # type: ignore[arg-type]


async def test_bad_request_note_lists_earlier_attempts(servers: Any) -> None:
    a, b, _ = servers
    a.push(status(503))
    b.push(status(400))
    async with client_for(Provider("a", a.base_url), Provider("b", b.base_url)) as client:
        with pytest.raises(BadRequestError) as info:
            await client.responses.create(model="m", input="x")
    assert any("[a] InternalServerError" in note for note in info.value.__notes__)
