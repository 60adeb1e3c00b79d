"""HTTPTransport: Retry-After hardening, URL configuration errors, the connection pool, reprs.

Everything that crosses HTTP runs against a real loopback server (``ScriptedServer``).
"""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses import (
    APIConnectionError,
    AsyncClient,
    ConfigError,
    InternalServerError,
    Provider,
    RateLimitError,
)
from openresponses.middleware import Failover, Retry, RetryPolicy
from openresponses.testing import FakeClock, ScriptedServer, stall, status, text
from openresponses.transports._reply import parse_retry_after
from openresponses.transports.http import DEFAULT_LIMITS, MAX_RETRY_AFTER, HTTPTransport
from openresponses.transports.passthrough import Passthrough
from openresponses.transports.raw import RawSession, post_raw

KEY = "sk-test-transport-0123456789"

# -- Retry-After ------------------------------------------------------------------------------

#: Values that do not parse: the error keeps ``retry_after=None`` (the caller's backoff applies).
UNPARSEABLE = [
    "soon",
    "Wed, 32 Foo 2015 07:28:00 GMT",  # a bad HTTP-date
    "Sat, 01 Jan 10000 00:00:00 GMT",  # year 10000
    "-5",
    "-0.5",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",  # overflows to inf
    "0x10",
    "",
    "  ",
    "9" * 400,  # absurdly long
]
#: Values that parse but are absurd: capped at MAX_RETRY_AFTER.
HUGE = ["99999999999", "1e300", "Fri, 31 Dec 9999 23:59:59 GMT"]


@pytest.mark.parametrize("value", UNPARSEABLE)
def test_unparseable_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None
    assert parse_retry_after({"retry-after-ms": value}) is None


@pytest.mark.parametrize("value", HUGE)
def test_huge_retry_after_is_capped(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) == MAX_RETRY_AFTER == 600.0


def test_valid_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": " 1.5 "}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    # retry-after-ms wins when valid; a broken one falls back to retry-after
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert parse_retry_after({"retry-after": past}) == 0.0
    future = email.utils.formatdate(time.time() + 120, usegmt=True)
    hint = parse_retry_after({"retry-after": future})
    assert hint is not None and 60 < hint <= 121
    assert parse_retry_after({}) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.one_of(st.none(), st.text(max_size=40)))
def test_retry_after_never_raises(value: str, ms: str | None) -> None:
    headers = {"retry-after": value} if ms is None else {"retry-after": value, "retry-after-ms": ms}
    hint = parse_retry_after(headers)
    assert hint is None or 0.0 <= hint <= MAX_RETRY_AFTER


@pytest.mark.parametrize("value", [*UNPARSEABLE[:12], *HUGE])
@pytest.mark.parametrize("code", [429, 503])
async def test_bad_retry_after_over_http_keeps_the_typed_error(value: str, code: int) -> None:
    scenario = status(code, headers={"Retry-After": value})
    async with (
        ScriptedServer([scenario]) as server,
        AsyncClient(base_url=server.base_url, api_key=KEY) as client,
    ):
        with pytest.raises(RateLimitError if code == 429 else InternalServerError) as caught:
            await client.responses.create(model="m", input="x")
    error = caught.value
    assert isinstance(error, RateLimitError | InternalServerError) and error.retryable
    assert error.retry_after == (MAX_RETRY_AFTER if value in HUGE else None)


@pytest.mark.parametrize("value", ["soon", "Sat, 01 Jan 10000 00:00:00 GMT", "-5", "nan", "inf"])
async def test_retry_falls_back_to_backoff_on_a_bad_retry_after(value: str) -> None:
    clock = FakeClock()
    retry = Retry(RetryPolicy(attempts=3, base_delay=0.5, jitter="none", budget=False), clock=clock)
    scenarios = [status(429, headers={"Retry-After": value}), text("Recovered")]
    async with ScriptedServer(scenarios) as server:
        async with (
            AsyncClient(base_url=server.base_url, middleware=[retry]) as client,
            client.responses.stream(model="m", input="x") as stream,
        ):
            final = await stream.get_final_response()
        assert len(server.requests) == 2
    assert final.output_text == "Recovered"
    assert clock.sleeps == [0.5]  # the backoff, not a hint


async def test_retry_caps_a_huge_retry_after() -> None:
    clock = FakeClock()
    policy = RetryPolicy(attempts=2, jitter="none", max_retry_after=5.0, budget=False)
    scenarios = [status(429, headers={"Retry-After": "99999999999"}), text("Recovered")]
    async with (
        ScriptedServer(scenarios) as server,
        AsyncClient(base_url=server.base_url, middleware=[Retry(policy, clock=clock)]) as client,
    ):
        final = await client.responses.create(model="m", input="x")
    assert final.output_text == "Recovered"
    assert clock.sleeps == [5.0]


async def test_failover_moves_on_after_a_bad_retry_after() -> None:
    async with (
        ScriptedServer([status(429, headers={"Retry-After": "soon"})]) as primary,
        ScriptedServer([text("From the fallback")]) as fallback,
    ):
        failover = Failover(
            [Provider("primary", base_url=primary.base_url), Provider("fallback", base_url=fallback.base_url)]
        )
        async with AsyncClient(endpoint=failover) as client:
            final = await client.responses.create(model="m", input="x")
    assert final.output_text == "From the fallback"
    assert len(primary.requests) == 1 and len(fallback.requests) == 1


# -- base_url configuration ---------------------------------------------------------------------

BAD_URLS = [
    ("localhost:8001/v1", "no scheme"),
    ("127.0.0.1:8000", "no scheme"),
    ("api.example.com/v1", "no scheme"),
    ("http://[::1", "not a valid URL"),
    ("http://h:abc/v1", "not a valid URL"),
    ("http://h:99999/v1", "outside 1..65535"),
    ("ftp://example.com/v1", "unsupported scheme"),
    ("ws://example.com/v1", "unsupported scheme"),
    ("http://", "no host"),
    ("http:///v1", "no host"),
    ("http://exa mple.com/v1", "whitespace"),
    ("http://h/v1?api-version=1", "query"),
    ("", "empty"),
]


@pytest.mark.parametrize(("url", "problem"), BAD_URLS)
def test_bad_base_url_is_a_config_error_at_construction(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        HTTPTransport(url, api_key=KEY)
    message = str(caught.value)
    assert problem in message
    assert "base_url" in message
    if url:
        assert url.strip() in message or repr(url) in message
    assert not caught.value.retryable
    assert not isinstance(caught.value, APIConnectionError)
    assert isinstance(caught.value, ValueError)  # ConfigError is a ValueError too
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no raw httpx text


@pytest.mark.parametrize(("url", "problem"), BAD_URLS[:6])
def test_bad_base_url_through_client_and_provider(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        AsyncClient(base_url=url, api_key=KEY)
    with pytest.raises(ConfigError, match=problem) as caught:
        Provider("primary", base_url=url, api_key=KEY)
    assert "'primary'" in str(caught.value)


def test_url_password_is_not_shown_in_the_error_or_repr() -> None:
    with pytest.raises(ConfigError) as caught:
        HTTPTransport("http://user:hunter2secret@[::1", api_key=KEY)
    assert "hunter2secret" not in str(caught.value)
    assert "user:[redacted]@" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        HTTPTransport("user:hunter2secret@example.com/v1")
    assert "hunter2secret" not in str(caught.value)
    transport = HTTPTransport("https://user:hunter2secret@example.com/v1/", api_key=KEY)
    assert "hunter2secret" not in repr(transport)
    assert transport.target.base_url == "https://user:[redacted]@example.com/v1"


def test_good_urls_are_accepted_and_normalized() -> None:
    assert HTTPTransport(" http://127.0.0.1:8000/v1/ \n").target.base_url == "http://127.0.0.1:8000/v1"
    assert HTTPTransport("https://[::1]:8443/v1").target.base_url == "https://[::1]:8443/v1"
    assert HTTPTransport("HTTPS://API.example.com").target.base_url == "HTTPS://API.example.com"


def test_bad_url_in_passthrough_and_raw() -> None:
    with pytest.raises(ConfigError, match="no scheme"):
        Passthrough("localhost:11434/v1")


async def test_raw_exchange_rejects_a_bad_url_before_sending() -> None:
    with pytest.raises(ConfigError, match="not a valid URL"):
        await post_raw("http://[::1/v1/responses", {"model": "m"})
    async with RawSession() as session:
        with pytest.raises(ConfigError, match="no scheme"):
            await session.get("localhost:8000/v1/models")


@pytest.mark.parametrize(
    "key", ["sk-abc-0123456789\n", "sk-abc\r\n-0123456789", "sk-abc\x00-0123456789", "sk-abc-é-0123456789"]
)
def test_bad_api_key_is_a_config_error_without_the_key(key: str) -> None:
    with pytest.raises(ConfigError, match="printable ASCII") as caught:
        HTTPTransport("http://127.0.0.1:1/v1", api_key=key)
    assert "sk-abc" not in str(caught.value)


def test_non_string_api_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        HTTPTransport("http://127.0.0.1:1/v1", api_key=12345)  # type: ignore[arg-type]


# -- the connection pool --------------------------------------------------------------------------


def test_default_pool_is_sized_for_production() -> None:
    assert DEFAULT_LIMITS.max_connections == 1000
    assert DEFAULT_LIMITS.max_keepalive_connections == 100
    assert DEFAULT_LIMITS.keepalive_expiry == 30.0


def test_limits_conflict_with_a_caller_client() -> None:
    with pytest.raises(ConfigError, match="http_client"):
        HTTPTransport("http://127.0.0.1:1/v1", http_client=httpx.AsyncClient(), limits=httpx.Limits())
    with pytest.raises(ConfigError, match=r"httpx\.Limits"):
        HTTPTransport("http://127.0.0.1:1/v1", limits=10)  # type: ignore[arg-type]


async def test_300_concurrent_streams_all_get_their_first_event() -> None:
    """Every stream holds its connection (the server stalls after two events) until all 300 have
    their first event: with a pool of 100 this would queue and hit the pool timeout."""
    count = 300
    async with ScriptedServer(default=stall(after_events=2, seconds=None)) as server:
        transport = HTTPTransport(server.base_url, timeout=httpx.Timeout(30.0, pool=10.0))
        client = AsyncClient(transport=transport)
        all_started = asyncio.Event()
        started = 0

        async def one() -> str:
            nonlocal started
            async with client.responses.stream(model="m", input="x") as stream:
                async for event in stream:
                    started += 1
                    if started == count:
                        all_started.set()
                    await asyncio.wait_for(all_started.wait(), 60)
                    return event.type
            raise AssertionError("the stream ended before its first event")

        try:
            types = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count))), 90)
        finally:
            await client.aclose()
        assert types == ["response.created"] * count
        assert server.connections_opened >= count


async def test_limits_are_configurable() -> None:
    """A pool of 2 serves 2 stalled streams; a third waits for the pool and times out (typed)."""
    async with ScriptedServer(default=stall(after_events=2, seconds=None)) as server:
        transport = HTTPTransport(
            server.base_url, limits=httpx.Limits(max_connections=2), timeout=httpx.Timeout(30.0, pool=0.5)
        )
        client = AsyncClient(transport=transport)
        holding = asyncio.Event()
        release = asyncio.Event()
        opened = 0

        async def hold() -> None:
            nonlocal opened
            async with client.responses.stream(model="m", input="x") as stream:
                async for _ in stream:
                    opened += 1
                    if opened == 2:
                        holding.set()
                    await release.wait()
                    return

        holders = [asyncio.create_task(hold()) for _ in range(2)]
        try:
            await asyncio.wait_for(holding.wait(), 10)
            with pytest.raises(APIConnectionError) as caught:
                async with client.responses.stream(model="m", input="x") as stream:
                    async for _ in stream:
                        break
            assert getattr(caught.value, "which", None) == "pool"
        finally:
            release.set()
            await asyncio.gather(*holders)
            await client.aclose()


# -- reprs ------------------------------------------------------------------------------------------


async def test_reprs_hold_no_key() -> None:
    transport = HTTPTransport("http://127.0.0.1:1/v1", api_key=KEY, headers={"x-api-key": KEY})
    passthrough = Passthrough("http://127.0.0.1:1/v1", api_key=KEY)
    client = AsyncClient(base_url="http://127.0.0.1:1/v1", api_key=KEY)
    provider = Provider("p", base_url="http://127.0.0.1:1/v1", api_key=KEY)
    for obj in (transport, passthrough, client, provider, RawSession()):
        assert KEY not in repr(obj) and KEY not in str(obj)
    await transport.aclose()
    await passthrough.aclose()
    await client.aclose()
