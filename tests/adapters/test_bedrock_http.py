"""Bedrock Converse end to end: AsyncClient -> Provider(adapter="bedrock-converse") -> the loopback
``BedrockServer``, which recomputes every SigV4 signature with botocore. Auth (SigV4, session
tokens, the default chain, Bedrock API keys), HTTP errors, a three-turn tool loop with echoed
signatures, failover to a chat provider and timeouts."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses import (
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    BadRequestError,
    ConfigError,
    InternalServerError,
    MissingExtraError,
    PermissionDeniedError,
    ProtocolError,
    Provider,
    RateLimitError,
    StreamInterrupted,
)
from openresponses.middleware import Failover, Timeout
from openresponses.middleware._policy import decide
from openresponses.testing import assert_valid_stream
from openresponses.testing.bedrock import (
    TEST_CREDENTIALS,
    BedrockRequest,
    BedrockServer,
    BedrockUsage,
    StaticCredentials,
    bedrock_cut,
    bedrock_exception,
    bedrock_stall,
    bedrock_status,
    bedrock_text,
    bedrock_tool_calls,
)
from openresponses.testing.chat import ChatCompletionsServer, chat_text
from openresponses.transports.bedrock import BedrockConverseDialect

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1zZWNyZXQtMDEyMzQ1Njc4OQ=="
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
async def upstream() -> AsyncIterator[BedrockServer]:
    async with BedrockServer() as server:
        yield server


def provider(server: BedrockServer, *, credentials: Any = TEST_CREDENTIALS, **options: Any) -> Provider:
    dialect = BedrockConverseDialect(region="us-east-1", credentials=credentials)
    return Provider("bedrock", server.base_url, dialect=dialect, model=MODEL, **options)


def last(server: BedrockServer) -> BedrockRequest:
    request = server.requests[-1]
    assert isinstance(request, BedrockRequest)
    return request


async def test_a_signed_stream_and_a_signed_whole_reply(upstream: BedrockServer) -> None:
    upstream.push(
        bedrock_text("Paris.", reasoning="Geography", usage=BedrockUsage(10, 2, cache_read=5)),
        bedrock_text("Whole answer"),
    )
    async with AsyncClient(endpoint=provider(upstream)) as client:
        events: list[Any] = []
        async with client.responses.stream(model="claude", input="Capital of France?") as stream:
            async for event in stream:
                events.append(event)
            final = await stream.get_final_response()
        whole = await client.responses.create(model="claude", input="Again")
    assert_valid_stream(events)
    assert final.output_text == "Paris." and final.output[0].type == "reasoning"
    assert final.usage is not None and final.usage.input_tokens == 15
    assert whole.output_text == "Whole answer"
    streamed, plain = upstream.requests
    assert isinstance(streamed, BedrockRequest) and isinstance(plain, BedrockRequest)
    assert streamed.auth == plain.auth == "sigv4"  # the server recomputed both signatures
    assert streamed.path.endswith("/converse-stream") and plain.path.endswith("/converse")
    assert streamed.model_id == MODEL and streamed.body == {
        "messages": [{"role": "user", "content": [{"text": "Capital of France?"}]}]
    }
    headers = streamed.headers
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")
    assert "/us-east-1/bedrock/aws4_request" in headers["authorization"]
    assert len(headers["x-amz-content-sha256"]) == 64 and headers["x-amz-date"].endswith("Z")
    assert headers["accept"] == "application/vnd.amazon.eventstream"


async def test_session_tokens_are_sent_and_signed() -> None:
    temporary = StaticCredentials(
        "ASIAEXAMPLETEMPORARY", "temporary-secret-key-0123456789", "FwoGZXIvYXdzEXAMPLE"
    )
    async with (
        BedrockServer(credentials=temporary) as server,
        AsyncClient(endpoint=provider(server, credentials=temporary)) as client,
    ):
        await client.responses.create(model="m", input="x")
    assert last(server).auth == "sigv4"
    assert last(server).headers["x-amz-security-token"] == "FwoGZXIvYXdzEXAMPLE"
    assert "x-amz-security-token" in last(server).headers["authorization"]


async def test_a_wrong_secret_is_refused_and_named_without_secrets(upstream: BedrockServer) -> None:
    wrong = StaticCredentials(TEST_CREDENTIALS.access_key, "not-the-secret-key-0123456789")
    async with AsyncClient(endpoint=provider(upstream, credentials=wrong)) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.responses.create(model="m", input="x")
    error = caught.value
    assert "InvalidSignatureException" in str(error) and "signature we calculated" in str(error)
    assert not error.retryable and not decide(error).failover
    assert error.request_id  # x-amzn-requestid
    for text in (str(error), repr(error), str(error.body), str(error.headers)):
        assert "not-the-secret-key" not in text and "Signature=" not in text


async def test_the_default_credential_chain(
    upstream: BedrockServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    async with AsyncClient(endpoint=provider(upstream, credentials=None)) as client:
        await client.responses.create(model="m", input="x")
        await client.responses.create(model="m", input="y")  # resolved once, reused
    assert [r.auth for r in upstream.requests] == ["sigv4", "sigv4"]
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    async with AsyncClient(endpoint=provider(upstream, credentials=None)) as client:
        with pytest.raises(ConfigError, match="no AWS credentials found"):
            await client.responses.create(model="m", input="x")
    assert len(upstream.requests) == 2  # nothing was sent


async def test_a_bedrock_api_key_is_a_bearer_token_and_never_leaks() -> None:
    async with BedrockServer(api_key=API_KEY, credentials=None) as server:
        good = Provider("bedrock", server.base_url, adapter="bedrock-converse", model=MODEL, api_key=API_KEY)
        async with AsyncClient(endpoint=good) as client:
            response = await client.responses.create(model="m", input="x", stream=True)
            async for _ in response:
                pass
        assert last(server).auth == "bearer" and "x-amz-date" not in last(server).headers
        bad_key = "ABSKwrongwrongwrongwrongwrong0123456789"
        bad = Provider("bedrock", server.base_url, adapter="bedrock-converse", model=MODEL, api_key=bad_key)
        async with AsyncClient(endpoint=bad) as client:
            with pytest.raises(PermissionDeniedError) as caught:
                await client.responses.create(model="m", input="x")
    for text in (str(caught.value), repr(caught.value), str(caught.value.body)):
        assert bad_key not in text  # the server echoed it; the transport redacted it


async def test_default_base_url_and_vendor_name() -> None:
    dialect = BedrockConverseDialect(region="eu-west-3", credentials=TEST_CREDENTIALS)
    bedrock = Provider("bedrock", dialect=dialect)
    assert bedrock.base_url == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert bedrock.transport.target.system == "aws.bedrock"  # type: ignore[attr-defined]
    await bedrock.aclose()


@pytest.mark.parametrize(
    ("scenario", "cls", "code", "retry", "failover"),
    [
        (
            bedrock_status(429, "ThrottlingException", "Too many tokens", retry_after=2),
            RateLimitError,
            "rate_limit_exceeded",
            True,
            True,
        ),
        (
            bedrock_status(503, "ServiceUnavailableException", "busy"),
            InternalServerError,
            "service_unavailable",
            True,
            True,
        ),
        (
            bedrock_status(500, "InternalServerException", "oops"),
            InternalServerError,
            "server_error",
            True,
            True,
        ),
        (
            bedrock_status(400, "ValidationException", "Input is too long for requested model."),
            BadRequestError,
            "context_length_exceeded",
            False,
            True,
        ),
        (
            bedrock_status(400, "ValidationException", "messages.0: bad"),
            BadRequestError,
            "invalid_request",
            False,
            False,
        ),
        (
            bedrock_status(424, "ModelErrorException", "model failed"),
            APIStatusError,
            "model_error",
            False,
            False,
        ),
        (
            bedrock_status(429, "ModelNotReadyException", "warming up"),
            RateLimitError,
            "model_not_ready",
            True,
            True,
        ),
    ],
)
async def test_http_errors(
    upstream: BedrockServer, scenario: Any, cls: type[Exception], code: str, retry: bool, failover: bool
) -> None:
    upstream.push(scenario)
    async with AsyncClient(endpoint=provider(upstream)) as client:
        with pytest.raises(cls) as caught:
            await client.responses.create(model="m", input="x", stream=True)
    error = caught.value
    assert isinstance(error, APIStatusError) and error.code == code and error.request_id
    verdict = decide(error)
    assert (verdict.retry, verdict.failover) == (retry, failover)
    if isinstance(error, RateLimitError) and code == "rate_limit_exceeded":
        assert error.retry_after == 2


async def test_a_three_turn_tool_loop_echoes_signatures_and_ids(upstream: BedrockServer) -> None:
    upstream.push(
        bedrock_tool_calls(
            [("get_weather", '{"city":"Paris"}', "tooluse_P1")], reasoning="Need weather", signature="sig-1"
        ),
        bedrock_tool_calls(
            [("get_weather", '{"city":"Lyon"}', "tooluse_L2")],
            text="Now Lyon.",
            reasoning="And Lyon",
            signature="sig-2",
        ),
        bedrock_text("Paris 18C, Lyon 20C."),
    )
    conversation: list[Any] = [{"role": "user", "content": "Weather in Paris and Lyon?"}]
    async with AsyncClient(endpoint=provider(upstream)) as client:
        for turn in range(3):
            response = await client.responses.create(
                model="m", input=conversation, tools=[WEATHER], stream=True
            )
            events = [event async for event in response]
            assert_valid_stream(events)
            final = events[-1].response  # type: ignore[union-attr]
            conversation += [item.model_dump(exclude_none=True) for item in final.output]
            for call in (item for item in final.output if item.type == "function_call"):
                conversation.append(
                    {"type": "function_call_output", "call_id": call.call_id, "output": f"{turn}8C"}
                )
    assert final.output_text == "Paris 18C, Lyon 20C."
    second, third = upstream.requests[1].body, upstream.requests[2].body
    assert second["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "Need weather", "signature": "sig-1"}}},
        {"toolUse": {"toolUseId": "tooluse_P1", "name": "get_weather", "input": {"city": "Paris"}}},
    ]
    assert second["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "tooluse_P1", "content": [{"text": "08C"}]}}
    ]
    assert [m["role"] for m in third["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert third["messages"][3]["content"][0] == {
        "reasoningContent": {"reasoningText": {"text": "And Lyon", "signature": "sig-2"}}
    }
    assert third["messages"][3]["content"][1:] == [
        {"text": "Now Lyon."},
        {"toolUse": {"toolUseId": "tooluse_L2", "name": "get_weather", "input": {"city": "Lyon"}}},
    ]
    assert all(r.auth == "sigv4" for r in upstream.requests)  # every turn validated and signed


@pytest.mark.parametrize(
    "fault",
    [
        bedrock_status(429, "ThrottlingException", "slow down", retry_after=0),
        bedrock_exception("throttlingException", after_events=1),  # in-stream, before any content
        bedrock_exception("modelStreamErrorException", after_events=1),
    ],
)
async def test_failover_to_a_chat_provider(upstream: BedrockServer, fault: Any) -> None:
    upstream.push(fault)
    async with ChatCompletionsServer([chat_text("From the backup")]) as chat:
        backup = Provider("backup", chat.base_url, adapter="chat-completions", model="m")
        async with AsyncClient(endpoint=Failover([provider(upstream), backup])) as client:
            events: list[Any] = []
            async with client.responses.stream(model="m", input="x") as stream:
                async for event in stream:
                    events.append(event)
                final = await stream.get_final_response()
    assert final.output_text == "From the backup"
    assert len(upstream.requests) == 1 and len(chat.requests) == 1


async def test_a_cut_stream_restarts_on_the_backup(upstream: BedrockServer) -> None:
    upstream.push(bedrock_cut(bedrock_text("Hello there friend"), after_events=3))
    async with ChatCompletionsServer([chat_text("Backup answer")]) as chat:
        backup = Provider("backup", chat.base_url, adapter="chat-completions", model="m")
        chain = Failover([provider(upstream), backup], midstream="restart")
        async with AsyncClient(endpoint=chain) as client:
            response = await client.responses.create(model="m", input="x")
    assert response.output_text == "Backup answer"


async def test_a_cut_stream_is_never_completed(upstream: BedrockServer) -> None:
    upstream.push(bedrock_cut(bedrock_text("Hello there friend"), after_events=3))
    async with AsyncClient(endpoint=provider(upstream)) as client:
        response = await client.responses.create(model="m", input="x", stream=True)
        seen: list[str] = []
        with pytest.raises(ProtocolError, match="before messageStop") as caught:
            async for event in response:
                seen.append(event.type)
    assert "response.completed" not in seen and "response.output_text.delta" in seen
    assert caught.value.events_delivered == len(seen) > 0
    assert caught.value.response is not None and caught.value.response.output_text == "Hello there "


async def test_a_stall_hits_the_idle_timeout(upstream: BedrockServer) -> None:
    upstream.push(bedrock_stall(bedrock_text("Hello there friend"), after_events=3, seconds=None))
    async with AsyncClient(endpoint=provider(upstream, middleware=[Timeout(idle=0.3)])) as client:
        response = await client.responses.create(model="m", input="x", stream=True)
        with pytest.raises((StreamInterrupted, APITimeoutError)) as caught:
            async for _ in response:
                pass
    cause = caught.value if isinstance(caught.value, APITimeoutError) else caught.value.__cause__
    assert isinstance(cause, APITimeoutError) and cause.which == "idle"


def test_without_botocore_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from openresponses._pipeline import Request
    from openresponses.types import CreateResponseBody

    monkeypatch.setitem(sys.modules, "botocore", None)
    dialect = BedrockConverseDialect(region="us-east-1")
    request = Request(body=CreateResponseBody(model=MODEL, input="x"), stream=True)
    with pytest.raises(
        MissingExtraError, match=r"needs the 'bedrock' extra: pip install 'openresponses-python\[bedrock\]'"
    ):
        dialect.decoder(request, provider="b")
