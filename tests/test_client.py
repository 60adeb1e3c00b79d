"""AsyncClient unit tests over httpx.MockTransport: request shape, errors, configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import openresponses
from openresponses import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    Reply,
    Request,
    RequestValidationError,
    UnprocessableEntityError,
)
from openresponses._emit import EventBuilder
from openresponses._pipeline import Handler
from openresponses._sse import encode_event

SECRET = "sk-test-SECRET-value-123"


def final_response(text: str = "Hi") -> dict[str, Any]:
    b = EventBuilder(model="m")
    i = b.start_message()
    b.text(i, text)
    event = b.complete(usage={"input_tokens": 1, "output_tokens": 1})
    return event.response.to_dict()  # type: ignore[union-attr]


def sse_body(text: str = "Hi") -> bytes:
    b = EventBuilder(model="m")
    b.created()
    i = b.start_message()
    b.text(i, text)
    b.complete()
    return b"".join(encode_event(e.model_dump_json(exclude_unset=True).encode(), e.type) for e in b.drain())


class Recorder:
    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


def make_client(
    respond: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> tuple[AsyncClient, Recorder]:
    recorder = Recorder(respond)
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    kwargs.setdefault("base_url", "http://upstream.test/v1")
    kwargs.setdefault("api_key", SECRET)
    return AsyncClient(http_client=http, **kwargs), recorder


async def test_request_shape_body_and_headers() -> None:
    client, rec = make_client(
        lambda r: httpx.Response(200, json=final_response()), default_headers={"x-team": "a"}
    )
    response = await client.responses.create(
        model="m",
        input=[{"role": "user", "content": "Hello"}],
        temperature=0.2,
        extra_body={"provider_knob": {"x": 1}},
        extra_headers={"x-call": "1"},
    )
    assert response.output_text == "Hi"
    assert response.provider == "default"
    (sent,) = rec.requests
    assert str(sent.url) == "http://upstream.test/v1/responses"
    body = json.loads(sent.content)
    assert body == {
        "model": "m",
        "input": [{"role": "user", "content": "Hello"}],  # exactly what the caller wrote
        "temperature": 0.2,
        "provider_knob": {"x": 1},
    }
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.headers["x-team"] == "a" and sent.headers["x-call"] == "1"
    assert sent.headers["content-type"] == "application/json"


async def test_stream_flag_and_accept_header() -> None:
    client, rec = make_client(
        lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse_body("Yo"))
    )
    async with client.responses.stream(model="m", input="x") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "Yo"
    body = json.loads(rec.requests[0].content)
    assert body["stream"] is True
    assert rec.requests[0].headers["accept"] == "text/event-stream"


async def test_compact_goes_to_compact_path() -> None:
    compact = {
        "id": "cmp_1",
        "object": "response.compaction",
        "created_at": 1,
        "output": [{"type": "compaction", "id": "c1", "encrypted_content": "opaque"}],
        "usage": {
            "input_tokens": 5,
            "output_tokens": 1,
            "total_tokens": 6,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }
    client, rec = make_client(lambda r: httpx.Response(200, json=compact))
    result = await client.responses.compact(model="m", input="long history")
    assert result.output[0].type == "compaction"
    assert str(rec.requests[0].url).endswith("/v1/responses/compact")


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, BadRequestError, False),
        (401, AuthenticationError, False),
        (404, NotFoundError, False),
        (422, UnprocessableEntityError, False),
        (429, RateLimitError, True),
        (500, InternalServerError, True),
        (503, InternalServerError, True),
    ],
)
async def test_status_errors_are_typed(status: int, cls: type[Exception], retryable: bool) -> None:
    body = {"error": {"message": "nope", "type": "invalid_request", "param": "input", "code": "bad_input"}}
    client, _ = make_client(lambda r: httpx.Response(status, json=body, headers={"x-request-id": "req_9"}))
    with pytest.raises(cls) as info:
        await client.responses.create(model="m", input="x")
    exc = info.value
    assert isinstance(exc, openresponses.APIStatusError)
    assert exc.status_code == status
    assert exc.request_id == "req_9"
    assert exc.code == "bad_input"
    assert exc.error is not None and exc.error.param == "input"
    assert exc.retryable is retryable
    assert "nope" in str(exc) and SECRET not in str(exc) and SECRET not in repr(exc)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "99999"}, 600.0),
        ({}, None),
    ],
)
async def test_retry_after_is_parsed_and_capped(headers: dict[str, str], expected: float | None) -> None:
    client, _ = make_client(
        lambda r: httpx.Response(429, json={"error": {"message": "slow down"}}, headers=headers)
    )
    with pytest.raises(RateLimitError) as info:
        await client.responses.create(model="m", input="x")
    assert info.value.retry_after == expected


async def test_x_should_retry_overrides_the_status_default() -> None:
    client, _ = make_client(lambda r: httpx.Response(400, json={}, headers={"x-should-retry": "true"}))
    with pytest.raises(BadRequestError) as info:
        await client.responses.create(model="m", input="x")
    assert info.value.retryable


async def test_connection_and_timeout_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client, _ = make_client(refuse)
    with pytest.raises(APIConnectionError) as info:
        await client.responses.create(model="m", input="x")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    client, _ = make_client(slow)
    with pytest.raises(APITimeoutError) as timeout:
        await client.responses.create(model="m", input="x")
    assert timeout.value.which == "read"


async def test_stream_request_answered_with_json_is_a_protocol_error() -> None:
    client, _ = make_client(lambda r: httpx.Response(200, json=final_response()))
    with pytest.raises(ProtocolError) as info:
        await client.responses.create(model="m", input="x", stream=True)
    assert "text/event-stream" in str(info.value)


async def test_invalid_json_body_is_a_protocol_error() -> None:
    client, _ = make_client(lambda r: httpx.Response(200, content=b"{not json"))
    with pytest.raises(ProtocolError) as info:
        await client.responses.create(model="m", input="x")
    assert info.value.data == b"{not json"


async def test_bad_parameters_name_the_field_and_send_nothing() -> None:
    client, rec = make_client(lambda r: httpx.Response(200, json=final_response()))
    with pytest.raises(RequestValidationError) as info:
        await client.responses.create(model="m", input="x", max_output_tokens=3, top_logprobs=99)
    message = str(info.value)
    assert "max_output_tokens" in message and "top_logprobs" in message
    assert isinstance(info.value, ValueError)
    assert rec.requests == []


def test_secret_never_in_repr() -> None:
    client, _ = make_client(lambda r: httpx.Response(200))
    assert SECRET not in repr(client)
    assert SECRET not in repr(client._transport)


def test_base_url_and_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENRESPONSES_BASE_URL", "http://env.test/v1")
    monkeypatch.setenv("OPENRESPONSES_API_KEY", SECRET)
    client = AsyncClient()
    assert client.base_url == "http://env.test/v1"
    assert SECRET not in repr(client)


def test_missing_base_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENRESPONSES_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="base_url is required"):
        AsyncClient()


async def test_middleware_order_first_listed_is_outermost() -> None:
    calls: list[str] = []

    class Mark:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, request: Request, call_next: Handler) -> Reply:
            calls.append(f"{self.name}>")
            reply = await call_next(request)
            calls.append(f"<{self.name}")
            return reply

    client, _ = make_client(
        lambda r: httpx.Response(200, json=final_response()), middleware=[Mark("a"), Mark("b")]
    )
    await client.responses.create(model="m", input="x")
    assert calls == ["a>", "b>", "<b", "<a"]


def test_an_endpoint_goes_last_or_as_endpoint() -> None:
    from openresponses import Provider
    from openresponses.middleware import Failover
    from openresponses.testing import ScriptedTransport

    class Other:
        async def __call__(self, request: Request, call_next: Handler) -> Reply:
            return await call_next(request)

    failover = Failover([Provider("a", transport=ScriptedTransport())])
    with pytest.raises(ValueError, match="pass it as endpoint="):
        AsyncClient(base_url="http://x/v1", middleware=[failover, Other()])
    # The 0.1 spelling (Failover last) and the explicit one build the same chain; no base_url needed.
    assert AsyncClient(middleware=[Other(), failover]).endpoint is failover
    assert AsyncClient(middleware=[Other()], endpoint=failover).endpoint is failover
    with pytest.raises(ValueError, match="not both"):
        AsyncClient(endpoint=failover, transport=ScriptedTransport())


async def test_short_circuit_middleware_answering_a_stream_with_a_response_is_replayed() -> None:
    from openresponses.types import Response

    cached = Response.model_validate(final_response("from cache"))

    class Cache:
        async def __call__(self, request: Request, call_next: Handler) -> Reply:
            return cached

    client, rec = make_client(lambda r: httpx.Response(500), middleware=[Cache()])
    async with client.responses.stream(model="m", input="x") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == "from cache"
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert rec.requests == []


async def test_invalid_standard_event_inside_a_multi_event_chunk_is_a_protocol_error() -> None:
    # A delta missing content_index must not pass as an UnknownEvent just because it shares a chunk.
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    good = b"".join(encode_event(e.model_dump_json(exclude_unset=True).encode(), e.type) for e in b.drain())
    bad = encode_event(
        b'{"type":"response.output_text.delta","sequence_number":2,"item_id":"m","output_index":0,"delta":"x"}'
    )
    client, _ = make_client(
        lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=good + bad)
    )
    with pytest.raises(ProtocolError, match="content_index") as info:
        async with client.responses.stream(model="m", input="x") as stream:
            async for _ in stream:
                pass
    assert b"output_text.delta" in info.value.data


# -- construction: options are checked now, not at the first call -----------------------------


def test_a_sync_httpx_client_is_refused_at_construction() -> None:
    from openresponses import ConfigError

    with httpx.Client() as sync_http, pytest.raises(ConfigError) as info:
        AsyncClient(base_url="http://x/v1", http_client=sync_http)  # type: ignore[arg-type]
    message = str(info.value)
    assert "needs an httpx.AsyncClient, got a sync httpx.Client" in message
    assert info.value.key == "http_client"
    with pytest.raises(ConfigError, match=r"needs an httpx\.AsyncClient, got dict"):
        AsyncClient(base_url="http://x/v1", http_client={})  # type: ignore[arg-type]


def test_http_client_with_a_custom_transport_is_refused() -> None:
    from openresponses import ConfigError
    from openresponses.testing import ScriptedTransport

    with pytest.raises(ConfigError, match="built-in HTTP transport only"):
        AsyncClient(transport=ScriptedTransport(), http_client=httpx.AsyncClient())


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"timeout": -1}, "timeout"),
        ({"timeout": "30"}, "timeout"),
        ({"default_headers": {"x-team": "a\nb"}}, "default_headers['x-team']"),
        ({"default_headers": "x-team: a"}, "default_headers"),
        ({"api_key": f"{SECRET}\n"}, "api_key"),
        ({"api_key": 42}, "api_key"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_retries": "2"}, "max_retries"),
    ],
)
def test_bad_options_are_config_errors_naming_the_option(kwargs: dict[str, Any], key: str) -> None:
    from openresponses import ConfigError

    with pytest.raises(ConfigError) as info:
        AsyncClient(base_url="http://x/v1", **kwargs)
    assert info.value.key == key
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("url", ["localhost:8001/v1", "http://[::1", "ftp://host/v1"])
def test_a_bad_base_url_fails_at_construction(url: str) -> None:
    from openresponses import Client, ConfigError, Provider

    with pytest.raises(ConfigError, match="base_url"):
        AsyncClient(base_url=url)
    with pytest.raises(ConfigError, match="base_url"):
        Client(base_url=url)
    with pytest.raises(ConfigError, match="base_url"):
        Provider("p", base_url=url)


# -- max_retries: openai-python's shorthand for a Retry -----------------------------------------


def test_max_retries_adds_a_retry_innermost() -> None:
    from openresponses.middleware import Retry

    class Outer:
        async def __call__(self, request: Request, call_next: Handler) -> Reply:
            return await call_next(request)

    outer = Outer()
    client = AsyncClient(base_url="http://x/v1", middleware=[outer], max_retries=2)
    first, retry = client.middleware
    assert first is outer
    assert isinstance(retry, Retry) and retry.policy.attempts == 3
    assert AsyncClient(base_url="http://x/v1", max_retries=0).middleware == ()


def test_max_retries_and_a_retry_middleware_conflict() -> None:
    from openresponses import ConfigError
    from openresponses.middleware import Retry

    with pytest.raises(ConfigError, match="max_retries= or a Retry middleware, not both"):
        AsyncClient(base_url="http://x/v1", middleware=[Retry()], max_retries=1)


async def test_max_retries_retries_against_a_real_server() -> None:
    from openresponses.testing import ScriptedServer, status, text

    async with (
        ScriptedServer([status(503, retry_after=0), status(503, retry_after=0), text("ok")]) as server,
        AsyncClient(base_url=server.base_url, max_retries=2) as client,
    ):
        response = await client.responses.create(model="m", input="x")
    assert response.output_text == "ok"
    assert len(server.requests) == 3
    async with (
        ScriptedServer([status(503, retry_after=0)] * 3) as server,
        AsyncClient(base_url=server.base_url, max_retries=1) as client,
    ):
        with pytest.raises(InternalServerError):
            await client.responses.create(model="m", input="x")
    assert len(server.requests) == 2


# -- failed vs incomplete: one rule for streaming and non-streaming ------------------------------


async def test_a_failed_response_raises_streamed_or_not() -> None:
    from openresponses import ResponseFailedError
    from openresponses.testing import ScriptedServer, failed

    async with (
        ScriptedServer(default=failed("The model crashed.", code="server_error")) as server,
        AsyncClient(base_url=server.base_url) as client,
    ):
        with pytest.raises(ResponseFailedError) as whole:
            await client.responses.create(model="m", input="x")
        with pytest.raises(ResponseFailedError) as streamed:
            async with client.responses.stream(model="m", input="x") as stream:
                await stream.get_final_response()
    assert whole.value.response is not None and whole.value.response.status == "failed"
    for info in (whole, streamed):
        exc = info.value
        assert exc.response is not None  # streamed: the snapshot when the failure arrived
        assert exc.code == "server_error"
        assert "The model crashed." in str(exc)
        assert exc.provider == "default"
    assert whole.value.event is None and streamed.value.event is not None


async def test_an_incomplete_response_is_returned_streamed_or_not() -> None:
    from openresponses.testing import ScriptedServer, incomplete

    async with (
        ScriptedServer(default=incomplete("Cut sh", reason="max_output_tokens")) as server,
        AsyncClient(base_url=server.base_url) as client,
    ):
        whole = await client.responses.create(model="m", input="x")
        async with client.responses.stream(model="m", input="x") as stream:
            streamed = await stream.get_final_response()
    for response in (whole, streamed):
        assert response.status == "incomplete"
        assert response.incomplete_details is not None
        assert response.incomplete_details.reason == "max_output_tokens"
        assert response.output_text == "Cut sh"


async def test_a_failed_whole_response_is_retried_and_failed_over_like_a_failed_stream() -> None:
    from openresponses import Provider
    from openresponses.middleware import Failover
    from openresponses.testing import ScriptedServer, failed, text

    async with (
        ScriptedServer([failed(), text("second try")]) as server,
        AsyncClient(base_url=server.base_url, max_retries=1) as client,
    ):
        response = await client.responses.create(model="m", input="x")
    assert response.output_text == "second try" and len(server.requests) == 2

    async with ScriptedServer(default=failed()) as bad, ScriptedServer(default=text("from b")) as good:
        chain = Failover([Provider("a", base_url=bad.base_url), Provider("b", base_url=good.base_url)])
        async with AsyncClient(endpoint=chain) as client:
            response = await client.responses.create(model="m", input="x")
    assert response.output_text == "from b" and response.provider == "b"


async def test_a_middleware_answering_with_a_failed_response_raises_too() -> None:
    from openresponses import ResponseFailedError
    from openresponses.testing import failed

    answer = failed("cached failure", code="server_error").response()

    class Cache:
        async def __call__(self, request: Request, call_next: Handler) -> Reply:
            return answer

    client, rec = make_client(lambda r: httpx.Response(500), middleware=[Cache()])
    with pytest.raises(ResponseFailedError, match="cached failure") as info:
        await client.responses.create(model="m", input="x")
    assert info.value.response is answer and rec.requests == []


async def test_a_closed_client_refuses_calls() -> None:
    from openresponses import ClientClosedError

    client, rec = make_client(lambda r: httpx.Response(200, json=final_response()))
    await client.aclose()
    await client.aclose()  # idempotent
    assert client.is_closed
    with pytest.raises(ClientClosedError, match="closed"):
        await client.responses.create(model="m", input="x")
    assert rec.requests == []
