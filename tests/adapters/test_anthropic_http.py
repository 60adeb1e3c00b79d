"""The Anthropic adapter end to end: AsyncClient -> Provider(adapter="anthropic") -> HTTPTransport ->
the fake Anthropic upstream on loopback, alone and in Failover chains with other wire formats."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses import (
    AllProvidersFailed,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    Provider,
    RateLimitError,
)
from openresponses.middleware import Failover, Retry, RetryPolicy
from openresponses.middleware.failover import RESTARTED_EVENT
from openresponses.testing import ScriptedServer, assert_valid_stream
from openresponses.testing import text as native_text
from openresponses.testing.anthropic import (
    AnthropicServer,
    anthropic_context_length_exceeded,
    anthropic_cut,
    anthropic_error_in_stream,
    anthropic_stall,
    anthropic_status,
    anthropic_text,
    anthropic_tool_calls,
)
from openresponses.testing.chat import ChatCompletionsServer, chat_cut, chat_status, chat_text
from openresponses.transports._anthropic_messages import thinking_envelope
from openresponses.transports.anthropic import AnthropicDialect

KEY = "sk-ant-api03-SECRET0123456789abcdef"
MODEL = "claude-sonnet-4-5"
TOOLS = [
    {
        "type": "function",
        "name": name,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    for name in ("get_weather", "get_time")
]


@pytest.fixture
async def upstream() -> AsyncIterator[AnthropicServer]:
    async with AnthropicServer(api_key=KEY) as server:
        yield server


def claude(upstream: AnthropicServer, **options: Any) -> Provider:
    return Provider("claude", upstream.base_url, adapter="anthropic", api_key=KEY, model=MODEL, **options)


async def stream_all(client: AsyncClient, **params: Any) -> tuple[list[Any], Any]:
    events: list[Any] = []
    async with client.responses.stream(**params) as stream:
        async for event in stream:
            events.append(event)
        final = await stream.get_final_response()
    return events, final


async def test_streams_and_creates_with_anthropic_headers(upstream: AnthropicServer) -> None:
    upstream.push(
        anthropic_text(
            "Paris is the capital.", thinking="Recall geography.", cache_read_input_tokens=90, chunks=[6, 4]
        ),
        anthropic_text("Plain answer", stop_reason="stop_sequence", stop_sequence="END"),
    )
    async with AsyncClient(endpoint=claude(upstream)) as client:
        events, final = await stream_all(
            client, model="any", input="Capital of France?", instructions="Be brief."
        )
        whole = await client.responses.create(model="any", input="Again", max_output_tokens=64)
    assert_valid_stream(events)
    assert final.output_text == "Paris is the capital." and final.provider == "claude"
    assert final.output[0].type == "reasoning" and final.output[0].summary[0].text == "Recall geography."
    assert final.usage.input_tokens == 25 + 90 and final.usage.input_tokens_details.cached_tokens == 90
    assert (
        whole.output_text == "Plain answer"
        and (whole.model_extra or {})["anthropic_stop_reason"] == "stop_sequence"
    )
    first, second = upstream.requests
    assert first.path == "/v1/messages" and first.headers["x-api-key"] == KEY
    assert first.headers["anthropic-version"] == "2023-06-01" and "authorization" not in first.headers
    assert first.body == {
        "model": MODEL,
        "max_tokens": 8192,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": "Capital of France?"}],
        "stream": True,
    }
    assert second.body["max_tokens"] == 64 and "stream" not in second.body


async def test_three_turn_function_calling_loop_echoes_signatures(upstream: AnthropicServer) -> None:
    upstream.push(
        anthropic_tool_calls(
            [("get_weather", {"city": "Paris"})], thinking="I need the weather.", text="Let me check."
        ),
        anthropic_tool_calls(
            [("get_time", {"city": "Paris"})], thinking="Now the time.", argument_chunk_size=3
        ),
        anthropic_text("Sunny, and it is noon.", thinking="Both known."),
    )
    outputs = {"get_weather": "sunny", "get_time": "12:00"}
    history: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
    async with AsyncClient(endpoint=claude(upstream)) as client:
        for turn in range(3):
            events, final = await stream_all(
                client, model=MODEL, input=history, tools=TOOLS, reasoning={"effort": "low"}
            )
            assert_valid_stream(events)
            history += final.output
            for item in final.output:
                if item.type == "function_call":
                    args = json.loads(item.arguments)
                    assert args == {"city": "Paris"}
                    history.append(
                        {
                            "type": "function_call_output",
                            "call_id": item.call_id,
                            "output": outputs[item.name],
                        }
                    )
            assert final.status == "completed", turn
    assert final.output_text == "Sunny, and it is noon."
    # The server accepted every thinking block back: each carried the signature it issued.
    third = upstream.requests[2].body["messages"]
    assert [m["role"] for m in third] == ["user", "assistant", "user", "assistant", "user"]
    assert (
        third[1]["content"][0]["type"] == "thinking"
        and third[1]["content"][0]["thinking"] == "I need the weather."
    )
    assert [b["type"] for b in third[1]["content"]] == ["thinking", "text", "tool_use"]
    assert third[2]["content"][0]["type"] == "tool_result" and third[2]["content"][0]["content"] == "sunny"
    assert third[3]["content"][1]["name"] == "get_time"
    assert upstream.requests[0].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_an_edited_thinking_block_is_rejected_by_the_upstream(upstream: AnthropicServer) -> None:
    forged = thinking_envelope({"type": "thinking", "thinking": "edited", "signature": "EqQBnot-issued"})
    history = [
        {"role": "user", "content": "Hi"},
        {"type": "reasoning", "summary": [], "encrypted_content": forged},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Again"},
    ]
    async with AsyncClient(endpoint=claude(upstream)) as client:
        with pytest.raises(BadRequestError, match="Invalid `signature`"):
            await client.responses.create(model=MODEL, input=history)


async def test_wrong_key_is_an_authentication_error_without_the_key(upstream: AnthropicServer) -> None:
    wrong = "sk-ant-api03-WRONGwrong0123456789"
    provider = Provider("claude", upstream.base_url, adapter="anthropic", api_key=wrong, model=MODEL)
    async with AsyncClient(endpoint=provider) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.responses.create(model=MODEL, input="Hi")
    text = f"{info.value} {info.value!r} {info.value.body} {getattr(info.value, '__notes__', '')}"
    assert "WRONG" not in text and "invalid x-api-key" in str(info.value)
    assert info.value.request_id is not None and info.value.request_id.startswith("req_")
    assert upstream.requests[0].headers["x-api-key"] == wrong


async def test_bearer_auth_for_gateways(upstream: AnthropicServer) -> None:
    provider = Provider(
        "claude", upstream.base_url, api_key=KEY, model=MODEL, dialect=AnthropicDialect(auth="bearer")
    )
    async with AsyncClient(endpoint=provider) as client:
        assert (await client.responses.create(model=MODEL, input="Hi")).output_text == "Hello"
    assert upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_bad_input_fails_before_anything_is_sent(upstream: AnthropicServer) -> None:
    async with AsyncClient(endpoint=claude(upstream)) as client:
        with pytest.raises(Exception, match="anthropic adapter: tool type 'web_search'"):
            await client.responses.create(model=MODEL, input="Hi", tools=[{"type": "web_search"}])
    assert upstream.requests == []


# -- faults in Anthropic's own wire format, with Retry and Failover ------------------------------------


async def test_529_overloaded_is_retried(upstream: AnthropicServer) -> None:
    upstream.push(anthropic_status(529), anthropic_text("after the overload"))
    provider = claude(upstream, middleware=[Retry(RetryPolicy(attempts=2, base_delay=0.01))])
    async with AsyncClient(endpoint=provider) as client:
        response = await client.responses.create(model=MODEL, input="Hi")
    assert response.output_text == "after the overload" and len(upstream.requests) == 2


@pytest.fixture
async def chat() -> AsyncIterator[ChatCompletionsServer]:
    async with ChatCompletionsServer() as server:
        yield server


def chain(upstream: AnthropicServer, chat: ChatCompletionsServer, **options: Any) -> Failover:
    backup = Provider("local", chat.base_url, adapter="chat-completions", model="qwen3")
    return Failover([claude(upstream), backup], **options)


@pytest.mark.parametrize(
    ("scenario", "error"),
    [
        (anthropic_status(429, retry_after=3), RateLimitError),
        (anthropic_status(529), InternalServerError),
        (anthropic_context_length_exceeded(), BadRequestError),
        (anthropic_error_in_stream(after_events=2), None),  # event: error before any content
    ],
    ids=["429", "529", "context-length", "overloaded-in-stream"],
)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
async def test_failover_to_a_chat_provider(
    upstream: AnthropicServer, chat: ChatCompletionsServer, scenario: Any, error: Any, stream: bool
) -> None:
    upstream.push(scenario)
    chat.push(chat_text("served by the backup"))
    async with AsyncClient(middleware=[chain(upstream, chat)]) as client:
        if stream:
            events, final = await stream_all(client, model=MODEL, input="Hi")
            assert_valid_stream(events)
        else:
            final = await client.responses.create(model=MODEL, input="Hi")
    assert final.output_text == "served by the backup" and final.provider == "local"
    assert len(upstream.requests) == 1 and len(chat.requests) == 1


async def test_failover_reports_anthropic_errors_typed(
    upstream: AnthropicServer, chat: ChatCompletionsServer
) -> None:
    upstream.push(anthropic_status(429, retry_after=3))
    chat.push(chat_status(500))
    async with AsyncClient(middleware=[chain(upstream, chat)]) as client:
        with pytest.raises(AllProvidersFailed) as info:
            await client.responses.create(model=MODEL, input="Hi")
    first = info.value.exceptions[0]
    assert (
        isinstance(first, RateLimitError) and first.retry_after == 3 and first.code == "rate_limit_exceeded"
    )


@pytest.mark.parametrize("style", ["close", "reset", "truncate"])
async def test_cut_mid_stream_restarts_on_a_native_provider(upstream: AnthropicServer, style: Any) -> None:
    upstream.push(anthropic_cut(after_events=6, style=style))
    async with ScriptedServer([native_text("A fresh full answer")]) as native:
        backup = Provider("native", native.base_url, api_key="sk-native-0123456789")
        failover = Failover([claude(upstream), backup], midstream="restart")
        async with AsyncClient(middleware=[failover]) as client:
            events, final = await stream_all(client, model=MODEL, input="Tell me")
    types = [event.type for event in events]
    assert RESTARTED_EVENT in types and "response.completed" in types
    assert types.index("response.output_text.delta") < types.index(RESTARTED_EVENT)  # content came first
    assert final.output_text == "A fresh full answer" and final.provider == "native"


async def test_continue_after_a_cut_prefills_the_partial_answer(
    upstream: AnthropicServer, chat: ChatCompletionsServer
) -> None:
    chat.push(chat_cut(3, scenario=chat_text("The quick brown fox")))
    upstream.push(anthropic_text(" jumps."))
    first = Provider("local", chat.base_url, adapter="chat-completions", model="qwen3")
    async with AsyncClient(middleware=[Failover([first, claude(upstream)], midstream="continue")]) as client:
        events, final = await stream_all(client, model=MODEL, input="Tell me")
    assert_valid_stream(events, schema=False)
    sent = upstream.requests[0].body["messages"]
    assert sent[0] == {"role": "user", "content": "Tell me"}
    assert sent[-1]["role"] == "assistant" and sent[-1]["content"] == sent[-1]["content"].rstrip()
    assert final.output_text.endswith(" jumps.")


async def test_a_stalled_stream_fails_over_on_the_first_token_timeout(
    upstream: AnthropicServer, chat: ChatCompletionsServer
) -> None:
    upstream.push(anthropic_stall(after_events=2))  # message_start and ping, then silence
    chat.push(chat_text("served by the backup"))
    async with AsyncClient(middleware=[chain(upstream, chat, first_token_timeout=0.3)]) as client:
        events, final = await stream_all(client, model=MODEL, input="Hi")
    assert_valid_stream(events)
    assert final.output_text == "served by the backup" and final.provider == "local"
    await upstream.wait_until(lambda s: s.open_connections == 0)
