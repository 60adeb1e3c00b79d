"""The Gemini dialects' reply side, bytes in / events out: stream chunks (any chunking), thought
signatures kept, partialArgs assembled, usage mapped, every finishReason, in-stream errors,
blocked prompts, cut streams, whole bodies and Google error bodies to the typed tree."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from openresponses import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ResponseFailedError,
)
from openresponses._pipeline import Request
from openresponses.middleware._policy import decide
from openresponses.testing import assert_valid_stream
from openresponses.testing.gemini import (
    GeminiCall,
    GeminiScenario,
    gemini_blocked,
    gemini_cut,
    gemini_error_in_stream,
    gemini_status,
    gemini_text,
    gemini_tool_calls,
)
from openresponses.transports._gemini_contents import parse_envelope
from openresponses.transports._gemini_stream import FINISH_REASONS, GeminiStreamDecoder
from openresponses.transports.gemini import GeminiDialect
from openresponses.types import CreateResponseBody, Response, StreamEvent

BODY = CreateResponseBody.model_validate({"model": "gemini-2.5-flash", "input": "x"})


def stream_bytes(scenario: GeminiScenario) -> bytes:
    return scenario.wire(stream=True).body


def decode(data: bytes, *, step: int | None = None) -> list[StreamEvent]:
    """Every event of ``data`` fed in ``step``-byte pieces (``None``: at once), then EOF."""
    decoder = GeminiStreamDecoder(BODY)
    events: list[StreamEvent] = []
    pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.close()


def final(events: list[StreamEvent]) -> Response:
    response = getattr(events[-1], "response", None)
    assert isinstance(response, Response)
    return response


@pytest.mark.parametrize("step", [None, 1, 7, 64])
def test_thoughts_text_and_usage_whatever_the_chunking(step: int | None) -> None:
    scenario = gemini_text(
        "Paris is the capital.", thoughts="Recall geography.", thought_signature="U0lH", cached_tokens=4
    )
    events = decode(stream_bytes(scenario), step=step)
    assert_valid_stream(events)
    response = final(events)
    assert response.status == "completed" and response.id == "resp_fakeResponse01"
    assert response.model == "gemini-2.5-flash"
    reasoning, _message = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Recall geography."
    envelope = parse_envelope(reasoning.encrypted_content)
    assert envelope is not None and (envelope.part, envelope.signature) == ("thought", "U0lH")
    assert response.output_text == "Paris is the capital."
    types = [e.type for e in events]
    assert "response.reasoning_summary_text.delta" in types and types.count("response.output_text.delta") == 3
    # The last usageMetadata wins: 12 prompt; 4 candidates + 2 thoughts; 4 cached.
    assert response.usage is not None
    assert response.usage.model_dump() == {
        "input_tokens": 12,
        "output_tokens": 6,
        "total_tokens": 18,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens_details": {"reasoning_tokens": 2},
    }


def test_usage_counts_tool_use_prompt_tokens_as_input() -> None:
    chunk = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "toolUsePromptTokenCount": 5, "candidatesTokenCount": 2},
    }
    usage = final(decode(b"data: " + json.dumps(chunk).encode() + b"\n\n")).usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (15, 2, 17)


def test_a_text_signature_lands_on_a_reasoning_item_after_the_whole_message() -> None:
    events = decode(stream_bytes(gemini_text("One two three", text_signature="VEVYVA==")))
    assert_valid_stream(events)
    message, signed = final(events).output
    assert message.type == "message" and final(events).output_text == "One two three"
    assert signed.type == "reasoning" and signed.summary == []
    envelope = parse_envelope(signed.encrypted_content)
    assert envelope is not None and (envelope.part, envelope.signature) == ("text", "VEVYVA==")


def test_whole_function_calls_with_signature_and_ids() -> None:
    scenario = gemini_tool_calls(
        [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})], text="Checking.", signature="RkM="
    )
    events = decode(stream_bytes(scenario))
    assert_valid_stream(events)
    response = final(events)
    assert response.status == "completed"
    _message, first, second = response.output
    assert (first.name, first.arguments) == ("get_weather", '{"city":"Paris"}')
    assert (second.name, second.arguments) == ("get_time", '{"tz":"CET"}')
    assert first.call_id.startswith("call_") and first.call_id != second.call_id  # minted: no Gemini ids
    envelope = parse_envelope(getattr(first, "encrypted_content", None))
    assert envelope is not None and (envelope.part, envelope.signature, envelope.call_id) == (
        "call",
        "RkM=",
        None,
    )
    assert getattr(second, "encrypted_content", None) is None
    with_ids = final(decode(stream_bytes(gemini_tool_calls([("f", {})], ids=True))))
    assert with_ids.output[0].call_id == "fc-0"
    kept = parse_envelope(getattr(with_ids.output[0], "encrypted_content", None))
    assert kept is not None and kept.call_id == "fc-0"


def test_vertex_partial_args_are_assembled_into_one_call() -> None:
    args = {"city": "San Francisco", "days": 3, "metric": True, "note": None, "stops": [{"name": "A"}, "B"]}
    events = decode(
        stream_bytes(gemini_tool_calls([("plan", args), ("noop", {})], partial=True, signature="UA=="))
    )
    assert_valid_stream(events)
    plan, noop = final(events).output
    assert json.loads(plan.arguments) == args and list(json.loads(plan.arguments)) == list(args)
    assert json.loads(noop.arguments) == {}
    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(deltas) == 2  # one whole delta per call, once complete
    envelope = parse_envelope(getattr(plan, "encrypted_content", None))
    assert envelope is not None and envelope.signature == "UA=="


@pytest.mark.parametrize("reason", sorted(FINISH_REASONS))
def test_every_finish_reason(reason: str) -> None:
    events = decode(stream_bytes(gemini_text("Some text", finish_reason=reason, finish_message="why")))
    assert_valid_stream(events)
    response = final(events)
    outcome = FINISH_REASONS[reason]
    if outcome == "stop":
        assert response.status == "completed"
    elif outcome == "length":
        assert response.status == "incomplete"
        assert (
            response.incomplete_details is not None
            and response.incomplete_details.reason == "max_output_tokens"
        )
        assert response.output[-1].status == "incomplete"
    elif outcome == "content_filter":
        assert response.status == "incomplete"
        assert (
            response.incomplete_details is not None and response.incomplete_details.reason == "content_filter"
        )
    else:
        assert response.status == "failed" and response.error is not None
        assert response.error.code == reason.lower()
        assert reason in response.error.message and "why" in response.error.message
        error = next(e for e in events if e.type == "error")
        kind = error.error.type
        assert kind == ("invalid_request" if outcome == "failed" else "model_error")
        retryable = ResponseFailedError("x", event=None, error=error.error).retryable
        assert retryable is (outcome == "retryable")  # MALFORMED_FUNCTION_CALL & co. are not retried


def test_the_issue_named_reasons_map_as_specified() -> None:
    assert FINISH_REASONS["STOP"] == "stop" and FINISH_REASONS["MAX_TOKENS"] == "length"
    for reason in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"):
        assert FINISH_REASONS[reason] == "content_filter"
    for reason in ("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "MISSING_THOUGHT_SIGNATURE"):
        assert FINISH_REASONS[reason] == "failed"


def test_unknown_finish_reason_fails_as_a_model_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="openresponses"):
        response = final(decode(stream_bytes(gemini_text("x", finish_reason="NEW_REASON_2027"))))
    assert (
        response.status == "failed"
        and response.error is not None
        and response.error.code == "new_reason_2027"
    )
    assert "unknown finishReason" in caplog.text


def test_eof_without_finish_reason_is_a_cut_stream_never_completed() -> None:
    data = stream_bytes(gemini_cut(after_chunks=2))
    decoder = GeminiStreamDecoder(BODY)
    delivered = decoder.feed(data)
    assert [e.type for e in delivered][-1] == "response.output_text.delta"
    with pytest.raises(ProtocolError, match="without a finishReason") as caught:
        decoder.close()
    assert caught.value.response is not None and caught.value.response.output_text.startswith("Hello")
    assert caught.value.retryable


def test_mid_stream_error_chunk_fails_the_response() -> None:
    events = decode(stream_bytes(gemini_error_in_stream(after_chunks=2, code=503)))
    assert_valid_stream(events)
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    error = events[-2].error
    assert (error.type, error.code) == ("server_error", "server_error")
    assert ResponseFailedError("x", event=None, error=error).retryable
    quota = decode(stream_bytes(gemini_error_in_stream(after_chunks=1, code=429)))
    assert quota[-2].error.type == "too_many_requests"
    bad = decode(stream_bytes(gemini_error_in_stream(after_chunks=1, code=400, message="Invalid value")))
    assert not ResponseFailedError("x", event=None, error=bad[-2].error).retryable


def test_blocked_prompt_is_a_refusal() -> None:
    events = decode(stream_bytes(gemini_blocked("PROHIBITED_CONTENT")))
    assert_valid_stream(events)
    response = final(events)
    assert response.status == "completed"
    part = response.output[0].content[0]
    assert part.type == "refusal" and "PROHIBITED_CONTENT" in part.refusal


def test_malformed_chunk_keeps_the_good_events() -> None:
    good = stream_bytes(gemini_text("Hi there", chunks=2)).split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    decoder = GeminiStreamDecoder(BODY)
    with pytest.raises(ProtocolError, match="Invalid JSON") as caught:
        decoder.feed(good + b"data: {not json\r\n\r\n")
    assert [e.type for e in caught.value.events][-1] == "response.output_text.delta"
    with pytest.raises(ProtocolError, match="not a JSON object"):
        GeminiStreamDecoder(BODY).feed(b"data: [1, 2]\n\n")


def test_a_last_chunk_without_its_blank_line_still_counts() -> None:
    chunk = {"candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}]}
    events = decode(b"data: " + json.dumps(chunk).encode() + b"\n")
    assert final(events).status == "completed"


# -- whole bodies ---------------------------------------------------------------------------------


def parse(scenario: GeminiScenario) -> Response:
    request = Request(BODY, stream=False)
    result = GeminiDialect().parse_body(scenario.wire(stream=False).body, request, provider="gemini")
    assert isinstance(result, Response)
    return result


def test_whole_body_matches_the_stream() -> None:
    scenario = gemini_tool_calls(
        [("f", {"a": 1})], text="Calling.", thoughts="Plan.", thought_signature="VA=="
    )
    whole, streamed = parse(scenario), final(decode(stream_bytes(scenario)))
    assert [item.type for item in whole.output] == [item.type for item in streamed.output]
    assert whole.output_text == streamed.output_text == "Calling."
    assert whole.output[-1].arguments == streamed.output[-1].arguments == '{"a":1}'
    assert whole.usage == streamed.usage


def test_whole_body_failure_raises() -> None:
    with pytest.raises(ResponseFailedError, match="MALFORMED_FUNCTION_CALL") as caught:
        parse(gemini_text("x", finish_reason="MALFORMED_FUNCTION_CALL"))
    assert not caught.value.retryable
    assert parse(gemini_text("x", finish_reason="SAFETY")).status == "incomplete"
    with pytest.raises(ProtocolError, match="no candidates"):
        GeminiDialect().parse_body(b"{}", Request(BODY), provider="gemini")


# -- error bodies ---------------------------------------------------------------------------------


def http_error(scenario: GeminiScenario) -> Any:
    wire = scenario.wire(stream=True)
    return GeminiDialect().error(wire.status, wire.body, dict(wire.headers), provider="gemini")


def test_resource_exhausted_is_a_retryable_rate_limit_with_retry_info() -> None:
    error = http_error(gemini_status(429, retry_delay="7s"))
    assert isinstance(error, RateLimitError) and error.retryable and error.retry_after == 7.0
    assert error.code == "rate_limit_exceeded" and "quota" in str(error)
    assert decide(error).failover
    header = http_error(gemini_status(429, retry_delay="7s", retry_after=2))
    assert header.retry_after == 2.0  # the header wins over the body


def test_unavailable_and_internal_are_retryable_server_errors() -> None:
    for code in (500, 503, 504):
        error = http_error(gemini_status(code))
        assert isinstance(error, InternalServerError) and error.retryable and error.code == "server_error"


def test_context_length_is_the_error_failover_moves_on_from() -> None:
    message = "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
    error = http_error(gemini_status(400, message=message))
    assert isinstance(error, BadRequestError) and error.code == "context_length_exceeded"
    verdict = decide(error)
    assert (verdict.retry, verdict.failover) == (False, True)


def test_other_statuses_and_a_rejected_key_never_leak_it() -> None:
    key = "AIzaSyA-very-secret-key-0123456789abcdef"
    error = http_error(gemini_status(400, message=f"API key not valid ({key}).", reason="API_KEY_INVALID"))
    assert isinstance(error, BadRequestError) and not error.retryable and error.code == "invalid_api_key"
    assert key not in str(error) and key not in json.dumps(error.body)
    assert isinstance(http_error(gemini_status(403)), PermissionDeniedError)
    assert isinstance(http_error(gemini_status(404)), NotFoundError)
    wrapped = b'[{"error": {"code": 400, "message": "Bad", "status": "INVALID_ARGUMENT"}}]'
    plain = GeminiDialect().error(400, wrapped, {}, provider="gemini")
    assert isinstance(plain, BadRequestError) and "Bad" in str(plain)
    text = GeminiDialect().error(502, b"<html>Bad Gateway</html>", {}, provider="gemini")
    assert isinstance(text, InternalServerError) and text.retryable


def test_prompt_blocked_as_http_error_is_a_content_filter() -> None:
    error = http_error(gemini_status(400, message="Request blocked due to safety settings."))
    assert error.code == "content_filter"
    verdict = decide(error)
    assert (verdict.retry, verdict.failover) == (False, False)


def test_scenarios_are_checked_when_built() -> None:
    with pytest.raises(ValueError):
        gemini_text(chunks=0)
    with pytest.raises(ValueError):
        gemini_status(200)
    with pytest.raises(ValueError):
        gemini_tool_calls([])
    assert GeminiCall("f").args == {}
