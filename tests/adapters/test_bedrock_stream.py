"""ConverseStream translation, bytes in and events out: every event, stop reason, usage field,
exception and broken stream; the whole ``/converse`` body through the same machine."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from openresponses import ProtocolError, ResponseFailedError
from openresponses._pipeline import Request
from openresponses.middleware._policy import decide, is_context_length
from openresponses.testing import assert_valid_stream
from openresponses.testing.bedrock import (
    BedrockScenario,
    BedrockUsage,
    bedrock_exception,
    bedrock_text,
    bedrock_tool_calls,
    converse_body,
    corrupt,
    error_frame,
    event,
    event_frame,
)
from openresponses.transports._bedrock_stream import BedrockStreamDecoder
from openresponses.transports.bedrock import BedrockConverseDialect
from openresponses.types import CreateResponseBody, Response, StreamEvent

BODY = CreateResponseBody(model="anthropic.claude-x", input="Hi")


def frames(scenario: BedrockScenario) -> bytes:
    assert isinstance(scenario.reply, tuple)
    return b"".join(message.frame() for message in scenario.reply)


def decode(data: bytes, *, chunk: int = 0, summary: bool = True) -> tuple[list[StreamEvent], Response]:
    decoder = BedrockStreamDecoder(BODY, summary=summary)
    events: list[StreamEvent] = []
    step = chunk or len(data) or 1
    for offset in range(0, len(data), step):
        events += decoder.feed(data[offset : offset + step])
    events += decoder.close()
    assert_valid_stream(events)
    response = decoder.machine.response
    assert response is not None
    return events, response


@pytest.mark.parametrize("chunk", [0, 1, 7, 64])
def test_text_with_reasoning_and_signature_in_any_chunking(chunk: int) -> None:
    data = frames(bedrock_text("Paris is the capital.", reasoning="Recall geography", signature="c2ln"))
    events, response = decode(data, chunk=chunk)
    assert response.status == "completed" and response.output_text == "Paris is the capital."
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == ["Recall geography"]
    envelope = json.loads(reasoning.encrypted_content or "")
    assert envelope == {
        "type": "openresponses.bedrock.reasoning",
        "text": "Recall geography",
        "signature": "c2ln",
    }
    assert "response.reasoning_summary_text.delta" in [e.type for e in events]


def test_raw_reasoning_when_summary_is_off() -> None:
    events, response = decode(frames(bedrock_text("A", reasoning="think hard")), summary=False)
    assert "response.reasoning.delta" in [e.type for e in events]
    assert response.output[0].content is not None


def test_redacted_reasoning_is_kept_for_the_next_turn() -> None:
    _, response = decode(frames(bedrock_text("ok", redacted=b"\x00secret-bytes")))
    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary == []
    envelope = json.loads(reasoning.encrypted_content or "")
    assert base64.b64decode(envelope["redacted"]) == b"\x00secret-bytes"


def test_tool_calls_stream_in_fragments_with_their_ids() -> None:
    scenario = bedrock_tool_calls(
        [("get_weather", '{"city":"Paris"}', "tooluse_A1"), ("get_time", "", "tooluse_B2")],
        text="Let me check.",
        fragments=4,
    )
    events, response = decode(frames(scenario), chunk=5)
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.name, c.call_id, c.arguments) for c in calls] == [
        ("get_weather", "tooluse_A1", '{"city":"Paris"}'),
        ("get_time", "tooluse_B2", "{}"),  # no input fragments: empty arguments mean {}
    ]
    assert response.output_text == "Let me check." and response.status == "completed"
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]  # type: ignore[union-attr]
    assert deltas[-1] == "{}" and "".join(deltas[:-1]) == '{"city":"Paris"}' and len(deltas) == 5


@pytest.mark.parametrize(
    ("stop", "status", "reason"),
    [
        ("end_turn", "completed", None),
        ("stop_sequence", "completed", None),
        ("tool_use", "completed", None),
        ("max_tokens", "incomplete", "max_output_tokens"),
        ("guardrail_intervened", "incomplete", "content_filter"),
        ("content_filtered", "incomplete", "content_filter"),
    ],
)
def test_stop_reasons(stop: str, status: str, reason: str | None) -> None:
    _, response = decode(frames(bedrock_text("Some words here", stop_reason=stop)))
    assert response.status == status
    assert (response.incomplete_details.reason if response.incomplete_details else None) == reason
    if stop == "max_tokens":
        # The block stop came before the stop reason: the held item ends incomplete.
        assert response.output[-1].status == "incomplete"


@pytest.mark.parametrize(
    ("stop", "code", "retry", "failover"),
    [
        ("model_context_window_exceeded", "context_length_exceeded", False, True),
        ("malformed_model_output", "malformed_model_output", False, True),
        ("malformed_tool_use", "malformed_tool_use", False, True),
    ],
)
def test_failing_stop_reasons(stop: str, code: str, retry: bool, failover: bool) -> None:
    events, response = decode(frames(bedrock_text("cut", stop_reason=stop)))
    assert response.status == "failed" and response.error is not None and response.error.code == code
    error = ResponseFailedError("x", event=events[-2], error=events[-2].error, events_delivered=3)  # type: ignore[union-attr]
    verdict = decide(error)
    assert (verdict.retry, verdict.failover) == (retry, failover)
    assert is_context_length(error) == (code == "context_length_exceeded")


def test_unknown_stop_reason_completes_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    data = b"".join(
        event_frame(*pair)
        for pair in [
            ("messageStart", {"role": "assistant"}),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}),
            ("messageStop", {"stopReason": "brand_new_reason"}),
        ]
    )
    _, response = decode(data)
    assert response.status == "completed" and "brand_new_reason" in caplog.text


def test_usage_arrives_after_message_stop_and_counts_the_cache() -> None:
    scenario = bedrock_text(
        "Hi", usage=BedrockUsage(input_tokens=10, output_tokens=4, cache_read=100, cache_write=20)
    )
    events, response = decode(frames(scenario))
    assert events[-1].type == "response.completed"
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (130, 4, 134)
    assert usage.input_tokens_details.cached_tokens == 100


def test_the_terminal_event_waits_for_metadata() -> None:
    decoder = BedrockStreamDecoder(BODY)
    head = b"".join(
        event_frame(*pair)
        for pair in [
            ("messageStart", {"role": "assistant"}),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}),
            ("contentBlockStop", {"contentBlockIndex": 0}),
            ("messageStop", {"stopReason": "end_turn"}),
        ]
    )
    assert all(e.type != "response.completed" for e in decoder.feed(head))
    tail = decoder.feed(event_frame("metadata", {"usage": {"inputTokens": 3, "outputTokens": 1}}))
    assert tail[-1].type == "response.completed"
    assert decoder.close() == []


def test_no_metadata_finishes_at_the_end_of_the_body() -> None:
    _, response = decode(frames(bedrock_text("Hi", usage=None)))
    assert response.status == "completed" and response.usage is None


def test_end_before_message_stop_is_a_protocol_error_with_the_partial_response() -> None:
    data = frames(bedrock_text("Hello there friend"))
    cut = b"".join(message.frame() for message in bedrock_text("Hello there friend").reply[:3])  # type: ignore[union-attr]
    assert len(cut) < len(data)
    decoder = BedrockStreamDecoder(BODY)
    decoder.feed(cut)
    with pytest.raises(ProtocolError, match="before messageStop") as caught:
        decoder.close()
    assert caught.value.response is not None and caught.value.response.status == "in_progress"


def test_end_inside_a_frame_is_a_protocol_error() -> None:
    data = frames(bedrock_text("Hello"))
    decoder = BedrockStreamDecoder(BODY)
    decoder.feed(data[:-3])
    with pytest.raises(ProtocolError, match="inside an event-stream message"):
        decoder.close()


def test_a_bad_crc_keeps_the_good_events_before_it() -> None:
    good = event_frame("messageStart", {"role": "assistant"}) + event_frame(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}
    )
    bad = corrupt(event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "!"}}))
    decoder = BedrockStreamDecoder(BODY)
    with pytest.raises(ProtocolError, match="ChecksumMismatch") as caught:
        decoder.feed(good + bad)
    assert "response.output_text.delta" in [e.type for e in caught.value.events]


@pytest.mark.parametrize(
    ("exception", "err_type", "code", "retry"),
    [
        ("throttlingException", "too_many_requests", "rate_limit_exceeded", True),
        ("modelStreamErrorException", "model_error", "model_stream_error", True),
        ("serviceUnavailableException", "server_error", "service_unavailable", True),
        ("internalServerException", "server_error", "server_error", True),
        ("validationException", "invalid_request", "invalid_request", False),
    ],
)
def test_in_stream_exceptions(exception: str, err_type: str, code: str, retry: bool) -> None:
    events, response = decode(frames(bedrock_exception(exception, "went wrong", after_events=2)))
    error = events[-2]
    assert error.type == "error" and error.error.type == err_type and error.error.code == code  # type: ignore[union-attr]
    assert response.status == "failed"
    exc = ResponseFailedError("x", event=error, error=error.error)  # type: ignore[union-attr]
    assert exc.retryable is retry and decide(exc).failover


def test_a_validation_exception_about_length_is_the_context_length_error() -> None:
    events, _ = decode(
        frames(bedrock_exception("validationException", "Input is too long for requested model."))
    )
    error = events[-2].error  # type: ignore[union-attr]
    assert error.code == "context_length_exceeded"
    assert is_context_length(ResponseFailedError("x", event=events[-2], error=error))


def test_a_protocol_error_message_fails_the_response() -> None:
    data = event_frame("messageStart", {"role": "assistant"}) + error_frame("InternalFailure", "boom")
    events, response = decode(data)
    assert response.status == "failed" and events[-2].error.type == "server_error"  # type: ignore[union-attr]


def test_a_tool_delta_without_its_start_is_a_protocol_error() -> None:
    data = event_frame("messageStart", {"role": "assistant"}) + event_frame(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{}"}}}
    )
    with pytest.raises(ProtocolError, match="before its contentBlockStart"):
        BedrockStreamDecoder(BODY).feed(data)


def test_unknown_events_and_fields_are_ignored() -> None:
    data = b"".join(
        [
            event_frame("messageStart", {"role": "assistant"}),
            event_frame("somethingNew", {"x": 1}),
            event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"citation": {"title": "t"}}}),
            event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "ok"}}),
            event_frame("messageStop", {"stopReason": "end_turn", "additionalModelResponseFields": {}}),
        ]
    )
    _, response = decode(data)
    assert response.output_text == "ok"


def _request(**body: Any) -> Request:
    return Request(body=CreateResponseBody(model="anthropic.claude-x", input="Hi", **body), stream=False)


def test_whole_converse_bodies_go_through_the_same_machine() -> None:
    dialect = BedrockConverseDialect(region="us-east-1")
    for scenario in (
        bedrock_text("Hello there", reasoning="think", signature="c2ln"),
        bedrock_tool_calls([("f", '{"a":1}', "tooluse_X")], text="calling"),
    ):
        assert isinstance(scenario.reply, tuple)
        streamed = decode(frames(scenario))[1]
        whole = dialect.parse_body(
            json.dumps(converse_body(scenario.reply)).encode(), _request(), provider="b"
        )
        assert isinstance(whole, Response)
        assert [item.type for item in whole.output] == [item.type for item in streamed.output]
        assert whole.output_text == streamed.output_text and whole.usage == streamed.usage
        for got, want in zip(whole.output, streamed.output, strict=True):
            assert getattr(got, "encrypted_content", None) == getattr(want, "encrypted_content", None)
            assert getattr(got, "arguments", None) == getattr(want, "arguments", None)


def test_a_failed_whole_body_raises() -> None:
    dialect = BedrockConverseDialect(region="us-east-1")
    scenario = bedrock_text("x", stop_reason="model_context_window_exceeded")
    assert isinstance(scenario.reply, tuple)
    with pytest.raises(ResponseFailedError) as caught:
        dialect.parse_body(json.dumps(converse_body(scenario.reply)).encode(), _request(), provider="b")
    assert is_context_length(caught.value)


def test_messages_carry_bedrocks_padding_field_and_start_event() -> None:
    scenario = bedrock_text("x")
    assert isinstance(scenario.reply, tuple) and scenario.reply[0] == event("messageStart", role="assistant")
