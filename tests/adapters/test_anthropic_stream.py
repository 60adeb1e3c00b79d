"""The Anthropic dialect's reply side, sans I/O: SSE bytes and bodies in, spec events and errors out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses import (
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    ProtocolError,
    RateLimitError,
    ResponseFailedError,
)
from openresponses._pipeline import Request
from openresponses.middleware._policy import decide, is_context_length
from openresponses.testing import assert_valid_stream
from openresponses.testing.anthropic import (
    AnthropicCall,
    AnthropicReply,
    render_events,
    render_message,
    sign_thinking,
    sse_event,
)
from openresponses.transports._anthropic_messages import block_from_envelope
from openresponses.transports._anthropic_stream import REFUSAL_TEXT, anthropic_usage
from openresponses.transports.anthropic import AnthropicDialect
from openresponses.types import CreateResponseBody, ErrorEvent, ErrorPayload, Response, StreamEvent

BODY = CreateResponseBody(model="claude-sonnet-4-5", input="Hi")
REQUEST = Request(body=BODY, stream=True)


def start(**usage: int) -> dict[str, Any]:
    counts = {"input_tokens": 10, "output_tokens": 1, **usage}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5"}
    return {"type": "message_start", "message": {**message, "content": [], "usage": counts}}


def block(index: int, **content: Any) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content}


def delta(index: int, **content: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": content}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(reason: str, sequence: str | None = None, **usage: int) -> list[dict[str, Any]]:
    counts = {"output_tokens": 12, **usage}
    message_delta = {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence}}
    return [{**message_delta, "usage": counts}, {"type": "message_stop"}]


def text_turn(text: str = "Hello", reason: str = "end_turn") -> list[dict[str, Any]]:
    return [
        start(),
        block(0, type="text", text=""),
        delta(0, type="text_delta", text=text),
        stop(0),
        *end(reason),
    ]


def wire(events: list[dict[str, Any]]) -> bytes:
    return b"".join(sse_event(event) for event in events)


def decode(
    data: bytes, *, chunk: int | None = None, dialect: AnthropicDialect | None = None
) -> list[StreamEvent]:
    decoder = (dialect or AnthropicDialect()).decoder(REQUEST, provider="claude")
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    events: list[StreamEvent] = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.close()


def error_of(event: StreamEvent) -> ErrorPayload:
    assert isinstance(event, ErrorEvent)
    return event.error


def final(events: list[StreamEvent]) -> Any:
    return events[-1].response


# -- the full event set ----------------------------------------------------------------------------


def test_thinking_text_and_tool_call_with_fragments_and_ping_anywhere() -> None:
    signature = sign_thinking("Let me check.")
    events = decode(
        wire(
            [
                start(cache_read_input_tokens=100, cache_creation_input_tokens=7),
                {"type": "ping"},
                block(0, type="thinking", thinking="", signature=""),
                delta(0, type="thinking_delta", thinking="Let me "),
                {"type": "ping"},
                delta(0, type="thinking_delta", thinking="check."),
                delta(0, type="signature_delta", signature=signature),
                stop(0),
                block(1, type="text", text=""),
                delta(1, type="text_delta", text="Checking\u2028 now."),
                stop(1),
                block(2, type="tool_use", id="toolu_01", name="get_weather", input={}),
                delta(2, type="input_json_delta", partial_json=""),
                delta(2, type="input_json_delta", partial_json='{"city": "Pa'),
                {"type": "ping"},
                delta(2, type="input_json_delta", partial_json='ris"}'),
                stop(2),
                *end("tool_use", output_tokens=40, input_tokens=10, cache_read_input_tokens=100),
            ]
        )
    )
    assert_valid_stream(events)
    types = [event.type for event in events]
    assert types.count("response.function_call_arguments.delta") == 2  # the empty fragment is skipped
    assert "response.reasoning_summary_text.delta" in types
    response = final(events)
    assert response.status == "completed"
    reasoning, message, call = response.output
    assert reasoning.summary[0].text == "Let me check."
    assert block_from_envelope(reasoning.encrypted_content) == {
        "type": "thinking",
        "thinking": "Let me check.",
        "signature": signature,
    }
    assert message.content[0].text == "Checking\u2028 now."  # U+2028 is data, never a line end
    assert (call.name, call.call_id, call.arguments) == ("get_weather", "toolu_01", '{"city": "Paris"}')
    assert response.usage.to_dict() == {
        "input_tokens": 117,
        "output_tokens": 40,
        "total_tokens": 157,
        "input_tokens_details": {"cached_tokens": 100},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    assert response.model_extra["anthropic_stop_reason"] == "tool_use"


def test_raw_thinking_text_and_redacted_thinking() -> None:
    events = decode(
        wire(
            [
                start(),
                block(0, type="thinking", thinking="", signature=""),
                delta(0, type="thinking_delta", thinking="step one"),
                delta(0, type="signature_delta", signature="sig"),
                stop(0),
                block(1, type="redacted_thinking", data="EmwKAhgBEgy3va3pzix/LafPsn4a"),
                stop(1),
                *text_turn("Done")[1:],
            ]
        ),
        dialect=AnthropicDialect(thinking_text="raw"),
    )
    assert_valid_stream(events)
    assert "response.reasoning.delta" in [event.type for event in events]
    raw, redacted, _message = final(events).output
    assert raw.content[0].text == "step one" and raw.summary == []
    assert block_from_envelope(redacted.encrypted_content) == {
        "type": "redacted_thinking",
        "data": "EmwKAhgBEgy3va3pzix/LafPsn4a",
    }


def test_a_tool_call_without_input_has_empty_object_arguments() -> None:
    events = decode(
        wire(
            [
                start(),
                block(0, type="tool_use", id="toolu_1", name="now", input={}),
                stop(0),
                *end("tool_use"),
            ]
        )
    )
    assert_valid_stream(events)
    assert final(events).output[0].arguments == "{}"


def test_usage_is_cumulative_the_last_value_wins() -> None:
    usage = anthropic_usage({"input_tokens": 3, "cache_read_input_tokens": 20, "output_tokens": 9})
    assert usage is not None and usage["input_tokens"] == 23 and usage["total_tokens"] == 32
    assert anthropic_usage({}) is None
    events = decode(
        wire(
            [
                start(input_tokens=5),
                block(0, type="text", text=""),
                delta(0, type="text_delta", text="a"),
                {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 3}},
                delta(0, type="text_delta", text="b"),
                stop(0),
                *end("end_turn", output_tokens=8),
            ]
        )
    )
    assert final(events).usage.output_tokens == 8 and final(events).usage.input_tokens == 5


# -- stop reasons ----------------------------------------------------------------------------------


def test_max_tokens_marks_the_last_item_incomplete() -> None:
    events = decode(
        wire(
            [
                start(),
                block(0, type="text", text=""),
                delta(0, type="text_delta", text="First."),
                stop(0),
                block(1, type="tool_use", id="toolu_1", name="f", input={}),
                delta(1, type="input_json_delta", partial_json='{"a": "tru'),
                stop(1),
                *end("max_tokens"),
            ]
        )
    )
    assert_valid_stream(events)
    response = final(events)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert [item.status for item in response.output] == ["completed", "incomplete"]
    dones = [e for e in events if e.type == "response.output_item.done"]
    assert dones[-1].item.status == "incomplete"


@pytest.mark.parametrize(
    ("reason", "status", "flag"),
    [
        ("end_turn", "completed", "end_turn"),
        ("stop_sequence", "completed", "stop_sequence"),
        ("pause_turn", "completed", "pause_turn"),
        ("mystery_reason", "completed", "mystery_reason"),
    ],
)
def test_completed_stop_reasons_keep_the_raw_reason(reason: str, status: str, flag: str) -> None:
    events = decode(wire([*text_turn()[:-2], *end(reason, "END" if reason == "stop_sequence" else None)]))
    assert_valid_stream(events)
    response = final(events)
    assert response.status == status and response.model_extra["anthropic_stop_reason"] == flag
    assert response.output[0].status == "completed"
    if reason == "stop_sequence":
        assert response.model_extra["anthropic_stop_sequence"] == "END"


def test_refusal_is_the_specs_refusal_content() -> None:
    events = decode(wire(text_turn("I can start, but", "refusal")))
    assert_valid_stream(events)
    response = final(events)
    assert response.status == "completed"
    parts = response.output[0].content
    assert [part.type for part in parts] == ["output_text", "refusal"] and parts[1].refusal == REFUSAL_TEXT


def test_context_window_exceeded_is_the_context_length_error() -> None:
    events = decode(wire(text_turn("partial", "model_context_window_exceeded")))
    assert_valid_stream(events)
    assert [event.type for event in events][-2:] == ["error", "response.failed"]
    response = final(events)
    assert response.status == "failed" and response.error.code == "context_length_exceeded"
    failure = ResponseFailedError("x", event=events[-2], error=error_of(events[-2]), response=response)
    assert is_context_length(failure) and decide(failure).failover and not decide(failure).retry


# -- errors inside the stream and broken streams ---------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "retryable", "code"),
    [
        ("overloaded_error", True, "overloaded_error"),
        ("api_error", True, "server_error"),
        ("rate_limit_error", True, "rate_limit_exceeded"),
        ("invalid_request_error", False, "invalid_request_error"),
    ],
)
def test_error_event_after_200(error_type: str, retryable: bool, code: str) -> None:
    error = {"type": "error", "error": {"type": error_type, "message": "Overloaded"}}
    events = decode(wire([*text_turn()[:3], error]))
    assert_valid_stream(events)
    failed = events[-1]
    assert failed.type == "response.failed" and failed.response.error.code == code
    payload = error_of(events[-2])
    exc = ResponseFailedError("x", event=events[-2], error=payload, response=failed.response)
    assert exc.retryable is retryable
    assert failed.response.output[0].status == "incomplete"


def test_eof_before_message_stop_is_a_failed_stream_never_completed() -> None:
    decoder = AnthropicDialect().decoder(REQUEST, provider="claude")
    events = decoder.feed(wire(text_turn()[:-1]))  # everything but message_stop
    assert not any(event.type == "response.completed" for event in events)
    with pytest.raises(ProtocolError, match="before message_stop") as info:
        decoder.close()
    assert info.value.response is not None and info.value.response.output_text == "Hello"


def test_malformed_event_keeps_the_good_prefix() -> None:
    decoder = AnthropicDialect().decoder(REQUEST, provider="claude")
    with pytest.raises(ProtocolError, match="Invalid JSON") as info:
        decoder.feed(wire(text_turn()[:3]) + b"event: content_block_delta\ndata: {nope\n\n")
    assert [event.type for event in info.value.events][:2] == ["response.created", "response.in_progress"]
    with pytest.raises(ProtocolError, match="not started"):
        decode(wire([start(), delta(5, type="text_delta", text="x")]))


def test_unknown_events_blocks_and_citations_are_ignored() -> None:
    events = decode(
        wire(
            [
                start(),
                {"type": "future_event", "x": 1},
                block(0, type="server_tool_use", id="srvtoolu_1", name="web_search", input={}),
                delta(0, type="input_json_delta", partial_json='{"q": 1}'),
                stop(0),
                block(1, type="text", text=""),
                delta(1, type="text_delta", text="Cited."),
                delta(1, type="citations_delta", citation={"type": "char_location", "cited_text": "x"}),
                stop(1),
                *end("end_turn"),
            ]
        )
    )
    assert_valid_stream(events)
    assert final(events).output_text == "Cited." and len(final(events).output) == 1


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=97))
def test_any_chunking_gives_the_same_events(size: int) -> None:
    reply = AnthropicReply(
        text="Bonjour le monde", thinking="hmm", calls=(AnthropicCall("f", {"x": [1, 2]}),)
    )
    data = wire(render_events(reply))
    assert [anonymous(e.to_dict()) for e in decode(data, chunk=size)] == [
        anonymous(e.to_dict()) for e in decode(data)
    ]


def anonymous(value: Any) -> Any:
    """``value`` without the generated ids and timestamps."""
    if isinstance(value, dict):
        return {
            k: anonymous(v)
            for k, v in value.items()
            if k not in ("id", "item_id", "created_at", "completed_at")
        }
    if isinstance(value, list):
        return [anonymous(v) for v in value]
    return value


# -- whole bodies ----------------------------------------------------------------------------------


def test_non_stream_message_matches_the_stream() -> None:
    reply = AnthropicReply(
        text="Hi there",
        thinking="think",
        calls=(AnthropicCall("f", {"a": 1}, "toolu_1"),),
        cache_read_input_tokens=4,
    )
    dialect = AnthropicDialect()
    request = Request(body=BODY, stream=False)
    whole = dialect.parse_body(json.dumps(render_message(reply)).encode(), request, provider="claude")
    streamed = final(decode(wire(render_events(reply))))
    assert isinstance(whole, Response) and whole.provider == "claude" and whole.usage is not None
    assert [anonymous(item.to_dict()) for item in whole.output] == [
        anonymous(i.to_dict()) for i in streamed.output
    ]
    assert whole.usage == streamed.usage and whole.usage.input_tokens == 29
    with pytest.raises(ResponseFailedError, match="overloaded_error"):
        body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        dialect.parse_body(json.dumps(body).encode(), request, provider="claude")
    with pytest.raises(ProtocolError):
        dialect.parse_body(b"[1]", request, provider="claude")


# -- HTTP errors -----------------------------------------------------------------------------------


def envelope(kind: str, message: str) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_body"}
    ).encode()


def test_http_errors_map_to_the_typed_tree() -> None:
    dialect = AnthropicDialect()
    overloaded = dialect.error(
        529, envelope("overloaded_error", "Overloaded"), {"request-id": "req_hdr"}, provider="claude"
    )
    assert isinstance(overloaded, InternalServerError) and overloaded.retryable
    assert overloaded.code == "overloaded_error" and overloaded.request_id == "req_hdr"
    assert decide(overloaded).retry and decide(overloaded).failover
    assert overloaded.body["error"]["type"] == "overloaded_error"  # Anthropic's own shape is kept
    limited = dialect.error(
        429, envelope("rate_limit_error", "Slow down"), {"retry-after": "7"}, provider="claude"
    )
    assert (
        isinstance(limited, RateLimitError) and limited.retry_after == 7 and limited.request_id == "req_body"
    )
    assert limited.code == "rate_limit_exceeded"
    too_long = dialect.error(
        400,
        envelope("invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
        {},
        provider="claude",
    )
    assert isinstance(too_long, BadRequestError) and is_context_length(too_long)
    assert not decide(too_long).retry and decide(too_long).failover
    bad = dialect.error(
        400, envelope("invalid_request_error", "messages: Field required"), {}, provider="claude"
    )
    assert not decide(bad).retry and not decide(bad).failover
    denied = dialect.error(
        401,
        envelope("authentication_error", "invalid x-api-key sk-ant-api03-LEAKED0123456789"),
        {},
        provider="c",
    )
    assert (
        isinstance(denied, AuthenticationError)
        and "LEAKED" not in str(denied)
        and "LEAKED" not in json.dumps(denied.body)
    )
    html = dialect.error(502, b"<html>Bad gateway</html>", {}, provider="claude")
    assert isinstance(html, InternalServerError) and html.retryable
    empty = dialect.error(529, b"", {}, provider="claude")
    assert isinstance(empty, InternalServerError) and empty.retryable
