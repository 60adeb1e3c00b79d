"""PROVIDERS.md traps the other chat tests left open: the rest of the finish-reason table (trap 15),
the fake server's vendor tool-call and usage styles through the adapter (traps 5, 8), keep-alive
comments that are not a first token (trap 20), and two narrow tool-call cases (traps 3, 5)."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from openresponses import APITimeoutError, AsyncClient, Provider
from openresponses._pipeline import Request
from openresponses.middleware import Timeout
from openresponses.testing import assert_valid_stream
from openresponses.testing.chat import (
    ChatCompletionsServer,
    ToolStyle,
    UsageStyle,
    chat_text,
    chat_tool_calls,
)
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.types import (
    CreateResponseBody,
    ErrorEvent,
    FunctionCall,
    ReasoningItem,
    Response,
    StreamEvent,
)

from .conftest import sse_frames

frames = sse_frames


def delta(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"model": "m", "choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def call_delta(**fields: Any) -> dict[str, Any]:
    return delta(tool_calls=[fields])


def run(data: bytes) -> list[StreamEvent]:
    """Decode ``data`` with the default dialect; the events must be a valid, finished stream."""
    request = Request(body=CreateResponseBody(model="m", input="q"), stream=True)
    dec = ChatCompletionsDialect().decoder(request, provider="test")
    events = dec.feed(data) + dec.close()
    assert_valid_stream(events)
    return events


def final(events: list[StreamEvent]) -> Response:
    response = getattr(events[-1], "response", None)
    assert isinstance(response, Response), events[-1].type
    return response


def reasoning_text(item: Any) -> str:
    assert isinstance(item, ReasoningItem)
    return "".join(getattr(part, "text", "") for part in item.content or [])


# --------------------------------------------------------------------------- finish reasons (trap 15)


@pytest.mark.parametrize(
    ("reason", "detail"),
    [
        ("max_tokens", "max_output_tokens"),  # Anthropic spelling
        ("model_context_window_exceeded", "max_output_tokens"),  # Anthropic
        ("refusal", "content_filter"),  # Anthropic
        ("SAFETY", "content_filter"),  # Gemini
    ],
)
def test_vendor_finish_reasons_end_incomplete_with_the_mapped_reason(reason: str, detail: str) -> None:
    response = final(run(frames(delta(content="Hi"), delta(reason))))
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == detail
    assert response.output[-1].status == "incomplete"
    assert response.output_text == "Hi"


def test_finish_reason_error_without_an_error_key_fails_the_response() -> None:
    events = run(frames(delta(content="Partial"), delta("error")))
    assert [event.type for event in events][-2:] == ["error", "response.failed"]
    event = events[-2]
    assert isinstance(event, ErrorEvent)
    assert (event.error.type, event.error.code) == ("server_error", "server_error")
    assert "finish_reason 'error'" in (event.error.message or "")
    response = final(events)
    assert response.status == "failed" and response.output_text == "Partial"


# --------------------------------------------------------------------------- vendor styles (traps 5, 8)

CALLS = [("get_weather", '{"city":"Paris"}'), ("get_time", '{"tz":"CET"}')]


async def stream_events(upstream: ChatCompletionsServer, **options: Any) -> list[StreamEvent]:
    """One streamed call through ``Provider(adapter="chat-completions")``; the stream must be valid."""
    dialect = ChatCompletionsDialect(**options)
    provider = Provider("chat", upstream.base_url, adapter="chat-completions", model="m", dialect=dialect)
    async with (
        AsyncClient(endpoint=provider) as client,
        client.responses.stream(model="m", input="Weather and time?") as stream,
    ):
        events = [event async for event in stream]
    assert_valid_stream(events)
    return events


@pytest.mark.parametrize("reasoning", [None, "Need both."], ids=["plain", "reasoning"])
@pytest.mark.parametrize("style", get_args(ToolStyle))
async def test_every_tool_call_style_gives_the_same_calls(style: str, reasoning: str | None) -> None:
    calls = CALLS[:1] if style == "tgi" else CALLS  # TGI streams exactly one call
    scenario = chat_tool_calls(calls, style=style, reasoning=reasoning, reasoning_field="reasoning")  # type: ignore[arg-type]
    async with ChatCompletionsServer([scenario]) as upstream:
        response = final(await stream_events(upstream))
    assert response.status == "completed"  # TGI's finish_reason "stop" included (trap 6)
    found = [item for item in response.output if isinstance(item, FunctionCall)]
    assert [(call.name, call.arguments) for call in found] == calls
    ids = [call.call_id for call in found]
    assert all(ids) and len(set(ids)) == len(calls)  # ollama_index0 reuses index 0: still two calls
    kinds = [item.type for item in response.output]
    if reasoning is None:
        assert kinds == ["function_call"] * len(calls)
    else:
        assert kinds == ["reasoning", *["function_call"] * len(calls)]
        assert reasoning_text(response.output[0]) == reasoning


@pytest.mark.parametrize("include_usage", [True, False], ids=["include_usage", "no_stream_options"])
@pytest.mark.parametrize("usage", get_args(UsageStyle))
async def test_every_usage_style_is_read_once(usage: str, include_usage: bool) -> None:
    scenario = chat_text("Hello brave new world", usage=usage)  # type: ignore[arg-type]
    async with ChatCompletionsServer([scenario]) as upstream:
        response = final(await stream_events(upstream, stream_usage=include_usage))
        sent = upstream.requests[0].body
    assert ("stream_options" in sent) is include_usage
    assert response.output_text == "Hello brave new world"
    # "after" is opt-in (OpenAI, Ollama, vLLM, TGI); Groq's x_groq.usage, Together's finish-chunk
    # usage, continuous usage and OpenRouter's last chunk come without asking.
    if usage == "none" or (usage == "after" and not include_usage):
        assert response.usage is None  # nothing invented
        return
    assert response.usage is not None
    # One token per output piece (4 words), the last value never the sum (continuous, groq).
    assert response.usage.output_tokens == 4
    assert response.usage.input_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + 4


# --------------------------------------------------------------------------- keep-alives (trap 20)


async def test_a_keepalive_comment_is_not_the_first_event() -> None:
    # The comment arrives at once, the first chunk 2 s later: the 0.2 s first-event limit fires
    # (a 10x margin either way), so a keep-alive never counts as time to first token.
    scenario = chat_text("late", keepalive="OPENROUTER PROCESSING", first_chunk_delay=2.0)
    async with ChatCompletionsServer([scenario]) as upstream:
        provider = Provider(
            "openrouter", upstream.base_url, adapter="chat-completions", middleware=[Timeout(first_event=0.2)]
        )
        async with AsyncClient(endpoint=provider) as client:
            with pytest.raises(APITimeoutError) as info:
                async with client.responses.stream(model="m", input="x") as stream:
                    async for _ in stream:
                        pass
    assert info.value.which == "first_event"


# --------------------------------------------------------------------------- narrow cases (traps 3, 5)


def test_an_unfinished_think_block_is_closed_as_reasoning_before_a_tool_call() -> None:
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    events = run(frames(delta(content="<think>Need f</thi"), delta(tool_calls=[call]), delta("tool_calls")))
    response = final(events)
    assert [item.type for item in response.output] == ["reasoning", "function_call"]
    assert reasoning_text(response.output[0]) == "Need f</thi"  # the held partial tag is flushed
    # The reasoning item is done before the call is added (trap 3).
    items = [(e.type, e.item.type) for e in events if e.type.startswith("response.output_item.")]  # type: ignore[union-attr]
    assert items == [
        ("response.output_item.added", "reasoning"),
        ("response.output_item.done", "reasoning"),
        ("response.output_item.added", "function_call"),
        ("response.output_item.done", "function_call"),
    ]


def test_an_empty_name_before_the_real_one_is_ignored() -> None:
    data = frames(
        call_delta(index=0, id="c", type="function", function={"name": "", "arguments": '{"a":'}),
        call_delta(index=0, function={"name": "f", "arguments": "1}"}),
        delta("tool_calls"),
    )
    (call,) = final(run(data)).output
    assert isinstance(call, FunctionCall)
    assert (call.call_id, call.name, call.arguments) == ("c", "f", '{"a":1}')
