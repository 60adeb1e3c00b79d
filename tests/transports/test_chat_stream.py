"""Chat Completions replies -> Open Responses events: bytes in, spec-valid events out (PROVIDERS.md traps)."""

from __future__ import annotations

import functools
import json
import logging
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from openresponses import ProtocolError, RequestValidationError, ResponseFailedError
from openresponses._pipeline import Request
from openresponses.middleware._policy import is_content_policy, is_context_length, is_transient
from openresponses.testing import assert_valid_stream
from openresponses.transports._chat_messages import REASONING_ENVELOPE
from openresponses.transports._chat_stream import ChatStreamDecoder, chat_completion_to_response
from openresponses.transports._chat_think import ThinkSplitter
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.types import (
    CreateResponseBody,
    FunctionCall,
    Message,
    ReasoningItem,
    Response,
    StreamEvent,
)

from .conftest import sse_frames

FIXTURES = Path(__file__).parent / "fixtures" / "chat"
SPEC_URI = "urn:openresponses:openapi"


@functools.cache
def _response_validator() -> Draft202012Validator:
    spec = json.loads(resources.files("openresponses").joinpath("spec/openapi.json").read_text("utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/ResponseResource"}, registry=registry
    )


def check_response(response: Response) -> Response:
    _response_validator().validate(response.model_dump(mode="json", exclude_unset=True))
    assert re.fullmatch(r"resp_[0-9a-f]+", response.id)
    return response


def check(events: list[StreamEvent], *, complete: bool = True) -> list[StreamEvent]:
    """Spec order, schema, strictly increasing sequence numbers; the final response validates."""
    assert_valid_stream(events, complete=complete)
    numbers = [event.sequence_number for event in events]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    if complete:
        check_response(final(events))
    return events


def final(events: list[StreamEvent]) -> Response:
    response = getattr(events[-1], "response", None)
    assert isinstance(response, Response), events[-1].type
    return response


frames = sse_frames


def delta(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"model": "m", "choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def decoder(body: CreateResponseBody | None = None, **options: Any) -> ChatStreamDecoder:
    request = Request(body=body or CreateResponseBody(model="m", input="q"), stream=True)
    result = ChatCompletionsDialect(**options).decoder(request, provider="test")
    assert isinstance(result, ChatStreamDecoder)
    return result


def run(data: bytes, body: CreateResponseBody | None = None, **options: Any) -> list[StreamEvent]:
    dec = decoder(body, **options)
    return check(dec.feed(data) + dec.close())


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def types(events: list[StreamEvent]) -> list[str]:
    return [event.type for event in events]


def output_kinds(response: Response) -> list[str]:
    return [item.type for item in response.output]


def reasoning_text(item: Any) -> str:
    assert isinstance(item, ReasoningItem)
    return "".join(getattr(part, "text", "") for part in item.content or [])


# --------------------------------------------------------------------------- recorded providers


def test_openai_parallel_tool_calls_interleaved_by_index_with_usage_after_the_finish_chunk() -> None:
    response = final(run(fixture("openai_parallel_tools.sse")))
    assert response.status == "completed"
    assert response.model == "gpt-4.1-2025-04-14"
    assert response.created_at == 1764000000
    calls = [item for item in response.output if isinstance(item, FunctionCall)]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_paris", "get_weather", {"city": "Paris"}),
        ("call_rome", "get_weather", {"city": "Rome"}),
    ]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        82,
        41,
        123,
    )
    assert response.usage.input_tokens_details.cached_tokens == 64


def test_openrouter_reasoning_aliases_are_taken_once_and_the_signature_is_kept() -> None:
    response = final(run(fixture("openrouter_reasoning.sse")))
    assert output_kinds(response) == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning_text(reasoning) == "The user wants a haiku."  # not doubled by `reasoning`
    assert isinstance(reasoning, ReasoningItem)
    assert reasoning.summary == []
    assert reasoning.encrypted_content == "EqQBCkYIBxgCKkB-signature"
    assert response.output_text == "Autumn moon rises over still water."
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens == 12


def test_ollama_reasoning_closes_before_a_whole_tool_call_and_stop_is_decided_by_the_calls() -> None:
    events = run(fixture("ollama_think_tools.sse"))
    response = final(events)
    assert output_kinds(response) == ["reasoning", "function_call"]
    assert reasoning_text(response.output[0]) == "Need the weather for Paris."
    call = response.output[1]
    assert isinstance(call, FunctionCall)
    assert (call.call_id, call.name, call.arguments) == ("call_k3ls9d2a", "get_weather", '{"city":"Paris"}')
    # The reasoning item is done before the call is added (trap 3).
    done = types(events).index("response.output_item.done")
    assert events[done].item.type == "reasoning"  # type: ignore[union-attr]
    assert response.usage is not None and response.usage.total_tokens == 175


def test_tgi_think_tags_split_anywhere_and_a_tool_call_with_finish_stop() -> None:
    response = final(run(fixture("tgi_think_tool.sse")))
    assert response.status == "completed"  # TGI says "stop" for a tool call (trap 6)
    assert output_kinds(response) == ["reasoning", "function_call"]
    assert reasoning_text(response.output[0]) == "Okay, weather."
    call = response.output[1]
    assert isinstance(call, FunctionCall)
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id == "tgi-req-7f3a"  # repeated on every delta: one call


def test_deepseek_reasoning_content_and_cache_hit_tokens() -> None:
    response = final(run(fixture("deepseek_reasoning.sse")))
    assert reasoning_text(response.output[0]) == "9.11 vs 9.8: compare tenths."
    assert response.output_text == "9.8 is larger."
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == 0  # explicit OpenAI detail wins
    raw = fixture("deepseek_reasoning.sse").replace(b'"prompt_tokens_details":{"cached_tokens":0},', b"")
    response = final(run(raw))
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == 16
    assert response.usage.output_tokens_details.reasoning_tokens == 52


def test_groq_usage_on_the_finish_chunk_and_harmless_chunk_quirks() -> None:
    response = final(run(fixture("groq_x_groq_usage.sse")))
    assert response.output_text == "Hello there!"
    assert output_kinds(response) == ["message"]
    assert response.usage is not None and response.usage.total_tokens == 15


def test_together_eos_and_usage_on_the_finish_chunk() -> None:
    response = final(run(fixture("together_eos.sse")))
    assert response.status == "completed"
    assert reasoning_text(response.output[0]) == "Short answer."
    assert response.output_text == "Yes."
    assert response.usage is not None and response.usage.input_tokens == 9


def test_lmstudio_empty_name_appended_later_never_overwrites() -> None:
    response = final(run(fixture("lmstudio_empty_name.sse")))
    (call,) = response.output
    assert isinstance(call, FunctionCall)
    assert (call.call_id, call.name, call.arguments) == ("365174485", "get_time", '{"tz":"CET"}')
    assert response.usage is None  # no usage in the stream: none invented


def test_vllm_error_then_done_fails_and_the_done_is_ignored() -> None:
    events = run(fixture("vllm_error_then_done.sse"))
    assert types(events)[-2:] == ["error", "response.failed"]
    error = events[-2].error  # type: ignore[union-attr]
    assert error.code == "server_error" and error.type == "server_error"  # vLLM's InternalServerError
    assert "illegal memory access" in error.message
    response = final(events)
    assert response.status == "failed"
    assert response.usage is not None and response.usage.output_tokens == 2  # the last cumulative value


def test_openrouter_midstream_error_under_http_200_is_a_failure_not_a_completion() -> None:
    events = run(fixture("openrouter_midstream_error.sse"))
    assert types(events)[-2:] == ["error", "response.failed"]
    assert events[-2].error.message == "Provider disconnected unexpectedly"  # type: ignore[union-attr]
    response = final(events)
    assert response.error is not None and response.error.code == "server_error"
    assert response.output_text == "Partial"
    assert response.output[0].status == "incomplete"


def test_ollama_closing_the_socket_without_a_finish_reason_is_a_protocol_error() -> None:
    dec = decoder()
    events = dec.feed(fixture("ollama_cut_midstream.sse"))
    check(events, complete=False)
    with pytest.raises(ProtocolError, match="without a finish_reason") as info:
        dec.close()
    assert info.value.response is not None and info.value.response.output_text == "The answer is"


# --------------------------------------------------------------------------- split anywhere


@settings(max_examples=50, deadline=None)
@given(
    name=st.sampled_from(sorted(p.name for p in FIXTURES.glob("*.sse") if "cut" not in p.name)),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=12),
)
def test_splitting_a_recorded_stream_at_any_bytes_yields_the_same_events(name: str, cuts: list[int]) -> None:
    data = fixture(name)
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    dec = decoder()
    events: list[StreamEvent] = []
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        events += dec.feed(data[start:end])
    events += dec.close()
    assert normalized(events) == whole_stream(name)


@functools.cache
def whole_stream(name: str) -> list[Any]:
    """The fixture decoded in one piece (and checked against the spec once)."""
    return normalized(run(fixture(name)))


def normalized(events: list[StreamEvent]) -> list[Any]:
    """Events as JSON with generated ids renamed in order of appearance and timestamps dropped."""
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"{match.group(1)}_{len(names)}")

    text = json.dumps([e.model_dump(mode="json", exclude_unset=True) for e in events])
    text = re.sub(r'"completed_at": \d+', '"completed_at": 0', text)
    return json.loads(re.sub(r"\b(resp|msg|rs|fc|call)_[0-9a-f]{16,}", rename, text))


# --------------------------------------------------------------------------- terminal and usage


def test_the_terminal_event_waits_for_done_so_trailing_usage_is_kept() -> None:
    dec = decoder()
    first = dec.feed(frames(delta(content="Hi"), done=False))
    finish = dec.feed(frames(delta("stop"), done=False))
    assert not any(e.type == "response.completed" for e in first + finish)
    usage = dec.feed(
        frames({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}, done=False)
    )
    assert usage == []
    tail = dec.feed(b"data: [DONE]\n\n")
    assert types(tail)[-1] == "response.completed"
    assert dec.close() == []
    response = final(check(first + finish + usage + tail))
    assert response.usage is not None and response.usage.total_tokens == 4


def test_eof_after_a_finish_reason_without_done_still_completes() -> None:
    # The default: an upstream not known to always send [DONE] (require_done=False).
    events = run(frames(delta(content="Hi"), delta("stop"), done=False))
    assert final(events).status == "completed"


def test_with_require_done_an_eof_after_the_finish_chunk_is_a_cut_stream() -> None:
    # PROVIDERS.md trap 10: an upstream that always sends [DONE] and did not was cut, and the
    # usage chunk that follows the finish chunk is lost with it: never "completed".
    dec = decoder(require_done=True)
    events = dec.feed(frames(delta(content="Hi"), delta("stop"), done=False))
    with pytest.raises(ProtocolError, match="without \\[DONE\\]") as info:
        dec.close()
    assert info.value.response is not None and info.value.response.output_text == "Hi"
    assert all(e.type != "response.completed" for e in [*events, *info.value.events])
    whole = run(frames(delta(content="Hi"), delta("stop")), require_done=True)  # with [DONE]: fine
    assert final(whole).status == "completed"
    assert "require_done=True" in repr(ChatCompletionsDialect(require_done=True))


def test_done_without_a_finish_reason_is_a_protocol_error() -> None:
    dec = decoder()
    with pytest.raises(ProtocolError, match="without a finish_reason") as info:
        dec.feed(frames(delta(content="Hi")))
    check(info.value.events, complete=False)  # the good prefix is delivered
    assert "Hi" in [getattr(e, "delta", None) for e in info.value.events]


def test_an_empty_body_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decoder().close()


def test_a_last_done_without_its_blank_line_is_accepted() -> None:
    events = run(frames(delta(content="Hi"), delta("stop"), done=False) + b"data: [DONE]\n")
    assert final(events).output_text == "Hi"


def test_cumulative_usage_on_every_chunk_takes_the_last_value_never_the_sum() -> None:
    chunks = [
        {**delta(content="a"), "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}},
        {**delta(content="b"), "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
        {**delta("stop"), "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
    ]
    usage = final(run(frames(*chunks))).usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (5, 3, 8)


@pytest.mark.parametrize(
    ("reason", "status", "detail"),
    [
        ("stop", "completed", None),
        ("eos", "completed", None),
        ("stop_sequence", "completed", None),
        ("tool_calls", "completed", None),
        ("length", "incomplete", "max_output_tokens"),
        ("content_filter", "incomplete", "content_filter"),
    ],
)
def test_finish_reasons(reason: str, status: str, detail: str | None) -> None:
    response = final(run(frames(delta(content="Hi"), delta(reason))))
    assert response.status == status
    assert (response.incomplete_details.reason if response.incomplete_details else None) == detail
    if status == "incomplete":
        assert response.output[-1].status == "incomplete"


def test_an_unknown_finish_reason_completes_is_logged_and_kept(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="openresponses"):
        events = run(frames(delta(content="Hi"), delta("acme_budget")))
    response = final(events)
    assert response.status == "completed"
    assert "acme_budget" in caplog.text
    # Kept on the terminal response as an extension field (PROVIDERS.md trap 15), on the wire too.
    assert response.chat_finish_reason == "acme_budget"  # type: ignore[attr-defined]
    assert json.loads(response.model_dump_json())["chat_finish_reason"] == "acme_budget"
    assert json.loads(events[-1].model_dump_json())["response"]["chat_finish_reason"] == "acme_budget"
    # A whole (non-streamed) body takes the same path.
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "acme"}],
    }
    whole = chat_completion_to_response(json.dumps(body).encode())
    assert whole.status == "completed" and whole.chat_finish_reason == "acme"  # type: ignore[attr-defined]


def test_a_known_finish_reason_adds_no_field() -> None:
    response = final(run(frames(delta(content="Hi"), delta("stop"))))
    assert "chat_finish_reason" not in response.model_dump()


def test_insufficient_system_resource_fails_as_a_server_fault_never_a_success() -> None:
    events = run(frames(delta(content="Partial answer"), delta("insufficient_system_resource")))
    assert types(events)[-2:] == ["error", "response.failed"]
    error = events[-2].error  # type: ignore[union-attr]
    assert (error.type, error.code) == ("server_error", "server_error")
    assert "insufficient_system_resource" in error.message


# --------------------------------------------------------------------------- mid-stream errors


@pytest.mark.parametrize(
    ("error", "code", "err_type"),
    [
        ({"message": "boom", "type": "server_error"}, "server_error", "server_error"),  # OpenAI
        ({"message": "Input validation error", "http_status_code": 422}, None, "invalid_request"),  # TGI
        ({"code": 502, "message": "Provider returned error"}, "server_error", "server_error"),  # OpenRouter
        ({"code": 429, "message": "Rate limit exceeded"}, "rate_limit_exceeded", "too_many_requests"),
        ({"code": "server_error", "message": "Overloaded"}, "server_error", "server_error"),
        ("plain string error", "server_error", "server_error"),
        (
            {"message": "This model's maximum context length is 8192 tokens", "code": 400},
            "context_length_exceeded",
            "invalid_request",
        ),
        ({"message": "Flagged by the content policy", "code": 403}, "content_filter", "invalid_request"),
        ({"message": "bad arg", "type": "invalid_request_error"}, None, "invalid_request"),
        ({"message": "slow down", "type": "rate_limit_error"}, "rate_limit_exceeded", "too_many_requests"),
        ({"message": "busy", "error_type": "overloaded"}, "rate_limit_exceeded", "too_many_requests"),
        ({"message": "x", "type": "model_error", "code": "model_crashed"}, "model_crashed", "model_error"),
    ],
)
def test_error_chunks_of_every_shape_fail_with_a_mapped_code(
    error: Any, code: str | None, err_type: str
) -> None:
    events = run(frames(delta(content="x"), {"error": error}, delta(content="ignored"), delta("stop")))
    assert types(events)[-2:] == ["error", "response.failed"]
    payload = events[-2].error  # type: ignore[union-attr]
    assert (payload.code, payload.type) == (code, err_type)
    assert final(events).output_text == "x"


def test_an_error_chunk_before_anything_still_starts_and_fails_the_response() -> None:
    events = run(frames({"error": {"message": "model not loaded", "code": 503}}))
    assert types(events) == ["response.created", "response.in_progress", "error", "response.failed"]


def test_malformed_json_is_a_protocol_error_carrying_the_good_prefix() -> None:
    dec = decoder()
    with pytest.raises(ProtocolError, match="Invalid JSON") as info:
        dec.feed(frames(delta(content="Hi"), '{"choices": [', done=False))
    assert info.value.data.startswith(b'{"choices"')
    assert "Hi" in [getattr(e, "delta", None) for e in info.value.events]
    with pytest.raises(ProtocolError, match="not a JSON object"):
        decoder().feed(frames("[1, 2]"))


# --------------------------------------------------------------------------- reasoning fields


@pytest.mark.parametrize(
    "fields",
    [
        {"reasoning_content": "think"},
        {"reasoning": "think"},
        {"reasoning": "think", "reasoning_content": "think"},  # vLLM's alias window: not doubled
        {"reasoning_details": [{"type": "reasoning.text", "text": "think"}], "reasoning": "think"},
    ],
)
def test_reasoning_fields_are_read_once(fields: dict[str, Any]) -> None:
    response = final(run(frames(delta(**fields), delta(content="answer"), delta("stop"))))
    assert reasoning_text(response.output[0]) == "think"
    assert response.output_text == "answer"


def test_reasoning_details_summaries_and_encrypted_blobs() -> None:
    details = [
        {"type": "reasoning.summary", "summary": "Plan: greet."},
        {"type": "reasoning.encrypted", "data": "opaque=="},
        {"type": "reasoning.unknown", "text": "ignored"},
    ]
    response = final(run(frames(delta(reasoning_details=details), delta(content="Hi"), delta("stop"))))
    reasoning = response.output[0]
    assert isinstance(reasoning, ReasoningItem)
    assert [part.text for part in reasoning.summary] == ["Plan: greet."]  # type: ignore[union-attr]
    assert reasoning.encrypted_content == "opaque=="


def test_a_single_reasoning_field_can_be_chosen() -> None:
    data = frames(delta(reasoning="from reasoning", reasoning_content="from content"), delta("stop"))
    response = final(run(data, reasoning_field="reasoning_content"))
    assert reasoning_text(response.output[0]) == "from content"


def test_raw_reasoning_is_carried_for_a_round_trip_when_the_preset_sends_it_back() -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    data = frames(delta(reasoning_content="I need f."), delta(tool_calls=[call]), delta("tool_calls"))
    plain = final(run(data))
    assert isinstance(plain.output[0], ReasoningItem) and plain.output[0].encrypted_content is None
    dialect = ChatCompletionsDialect(send_reasoning="reasoning_content")
    body = CreateResponseBody(model="m", input="q")
    dec = dialect.decoder(Request(body=body, stream=True), provider="deepseek")
    response = final(check(dec.feed(data) + dec.close()))
    reasoning = response.output[0]
    assert isinstance(reasoning, ReasoningItem)
    assert json.loads(reasoning.encrypted_content or "") == {"type": REASONING_ENVELOPE, "text": "I need f."}
    follow_up = CreateResponseBody(
        model="m",
        input=[
            {"role": "user", "content": "q"},
            *response.output,
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ],  # type: ignore[list-item]
    )
    sent = dialect.translate(Request(body=follow_up))
    assert sent["messages"][1]["reasoning_content"] == "I need f."
    assert sent["messages"][1]["tool_calls"][0]["id"] == "call_1"


# --------------------------------------------------------------------------- think tags


def test_think_tags_split_across_chunks_at_every_position() -> None:
    content = "<think>\nStep one.</think>\n\nThe answer."
    for cut in range(len(content) + 1):
        for second in range(cut, len(content) + 1):
            splitter = ThinkSplitter()
            pieces = [
                piece
                for part in (content[:cut], content[cut:second], content[second:])
                for piece in splitter.feed(part)
            ]
            pieces += splitter.flush()
            joined = {
                kind: "".join(text for k, text in pieces if k == kind) for kind in ("reasoning", "text")
            }
            assert joined == {"reasoning": "Step one.", "text": "The answer."}, (cut, second)
    for cut in range(0, len(content) + 1, 3):  # and through the whole decoder
        parts = [p for p in (content[:cut], content[cut:]) if p]
        dec = decoder()
        response = final(dec.feed(frames(*(delta(content=p) for p in parts), delta("stop"))) + dec.close())
        assert reasoning_text(response.output[0]) == "Step one." and response.output_text == "The answer."


def test_a_think_tag_later_in_the_answer_is_text() -> None:
    response = final(run(frames(delta(content="Use <think> tags like <think>x</think>."), delta("stop"))))
    assert output_kinds(response) == ["message"]
    assert response.output_text == "Use <think> tags like <think>x</think>."


def test_a_lone_closing_tag_at_the_start_ends_a_reasoning_block_opened_in_the_prompt() -> None:
    data = frames(
        delta(reasoning_content="from the field"), delta(content="</think>\n\nAnswer"), delta("stop")
    )
    response = final(run(data))
    assert reasoning_text(response.output[0]) == "from the field"
    assert response.output_text == "Answer"


def test_think_open_treats_everything_before_the_closing_tag_as_reasoning() -> None:
    data = frames(
        delta(content="Let me think"), delta(content=" hard.</th"), delta(content="ink>Done."), delta("stop")
    )
    response = final(run(data, think_open=True))
    assert reasoning_text(response.output[0]) == "Let me think hard."
    assert response.output_text == "Done."
    assert final(run(data)).output_text == "Let me think hard.</think>Done."  # default: it is text
    repeated = final(run(frames(delta(content="<think>x</think>y"), delta("stop")), think_open=True))
    assert (reasoning_text(repeated.output[0]), repeated.output_text) == ("x", "y")


def test_a_partial_tag_at_the_end_is_flushed_as_text() -> None:
    response = final(run(frames(delta(content="<thi"), delta("stop"))))
    assert response.output_text == "<thi"
    response = final(run(frames(delta(content="<think>unfinished </thi"), delta("length"))))
    assert reasoning_text(response.output[0]) == "unfinished </thi"
    assert response.status == "incomplete"


def test_think_tags_can_be_turned_off() -> None:
    response = final(run(frames(delta(content="<think>x</think>y"), delta("stop")), think_tags=False))
    assert response.output_text == "<think>x</think>y"


# --------------------------------------------------------------------------- tool-call traps


def call_delta(**fields: Any) -> dict[str, Any]:
    return delta(tool_calls=[fields])


def calls_of(response: Response) -> list[tuple[str, str, str]]:
    return [(c.call_id, c.name, c.arguments) for c in response.output if isinstance(c, FunctionCall)]


def test_a_missing_index_falls_back_to_the_id() -> None:
    data = frames(
        call_delta(id="a", function={"name": "f", "arguments": "{"}),
        call_delta(id="b", function={"name": "g", "arguments": "["}),
        call_delta(id="a", function={"arguments": "}"}),
        call_delta(id="b", function={"arguments": "]"}),
        delta("tool_calls"),
    )
    assert calls_of(final(run(data))) == [("a", "f", "{}"), ("b", "g", "[]")]


def test_a_new_id_at_a_used_index_is_a_new_call() -> None:
    # Ollama before 0.20.6 sent every parallel call at index 0.
    data = frames(
        call_delta(index=0, id="call_a", function={"name": "f", "arguments": '{"x":1}'}),
        call_delta(index=0, id="call_b", function={"name": "f", "arguments": '{"x":2}'}),
        delta("tool_calls"),
    )
    assert calls_of(final(run(data))) == [("call_a", "f", '{"x":1}'), ("call_b", "f", '{"x":2}')]


def test_a_bare_fragment_goes_to_the_last_call_and_arguments_before_the_name_are_held() -> None:
    data = frames(
        call_delta(index=3, id="c1", function={"arguments": '{"q":'}),  # name comes later (vLLM bugs)
        call_delta(index=3, function={"name": "search"}),
        call_delta(function={"arguments": '"x"}'}),
        delta("tool_calls"),
    )
    assert calls_of(final(run(data))) == [("c1", "search", '{"q":"x"}')]


def test_a_call_that_never_gets_a_name_is_a_protocol_error() -> None:
    dec = decoder()
    dec.feed(
        frames(call_delta(index=0, id="c1", function={"arguments": "{}"}), delta("tool_calls"), done=False)
    )
    with pytest.raises(ProtocolError, match="without a function name"):
        dec.close()


def test_empty_and_duplicate_upstream_call_ids_are_replaced_by_minted_ones() -> None:
    data = frames(
        call_delta(index=0, id="", function={"name": "f", "arguments": "{}"}),
        call_delta(index=1, id="0", function={"name": "g", "arguments": "{}"}),
        call_delta(index=2, id="0", function={"name": "h", "arguments": "{}"}),
        delta("tool_calls"),
    )
    ids = [call_id for call_id, _, _ in calls_of(final(run(data)))]
    assert ids[1] == "0" and len(set(ids)) == 3 and all(ids)


def test_arguments_sent_as_an_object_are_serialised() -> None:
    data = frames(
        call_delta(index=0, id="c", function={"name": "f", "arguments": {"a": 1}}), delta("tool_calls")
    )
    assert calls_of(final(run(data))) == [("c", "f", '{"a": 1}')]


def test_text_after_a_tool_call_and_refusals() -> None:
    data = frames(delta(content="Sure."), delta(refusal="But not that."), delta("stop"))
    response = final(run(data))
    (message,) = response.output
    assert isinstance(message, Message)
    assert [part.type for part in message.content] == ["output_text", "refusal"]


# --------------------------------------------------------------------------- whole bodies


def completion(message: dict[str, Any], finish: str | None = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1764002000,
        "model": "m-upstream",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        **extra,
    }


def parse(data: dict[str, Any] | bytes, **options: Any) -> Response:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    request = Request(body=CreateResponseBody(model="m", input="q"))
    response = ChatCompletionsDialect(**options).parse_body(raw, request, provider="test")
    assert isinstance(response, Response) and response.provider == "test"
    return check_response(response)


def test_a_whole_body_with_reasoning_tool_calls_and_usage() -> None:
    body = completion(
        {
            "role": "assistant",
            "content": "Let me check.",
            "reasoning_content": "Need weather.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
        },
        "tool_calls",
        usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    )
    response = parse(body)
    assert output_kinds(response) == ["reasoning", "message", "function_call", "function_call"]
    assert response.model == "m-upstream"
    assert calls_of(response) == [("call_1", "get_weather", "{}"), ("call_2", "get_time", "{}")]
    assert response.usage is not None and response.usage.total_tokens == 15


def test_deepseek_leading_blank_lines_before_the_body() -> None:
    body = b"\n\n\n  \n" + json.dumps(completion({"role": "assistant", "content": "ok"})).encode()
    assert parse(body).output_text == "ok"


def test_a_whole_body_and_its_stream_give_the_same_response() -> None:
    content = "<think>hmm</think>Answer"
    whole = parse(completion({"role": "assistant", "content": content}, "length"))
    streamed = final(run(frames(delta(content=content), delta("length"))))
    assert whole.status == streamed.status == "incomplete"
    assert [reasoning_text(whole.output[0]), whole.output_text] == [
        reasoning_text(streamed.output[0]),
        "Answer",
    ]


def test_a_whole_body_without_finish_reason_is_a_stop_and_tgi_call_id_zero_is_kept() -> None:
    call = {"id": "0", "type": "function", "function": {"name": "f", "description": None, "arguments": "{}"}}
    response = parse(completion({"role": "assistant", "content": None, "tool_calls": [call]}, None))
    assert response.status == "completed" and calls_of(response) == [("0", "f", "{}")]


@pytest.mark.parametrize(
    ("body", "code", "retryable"),
    [
        ({"error": {"code": 502, "message": "Upstream failed"}}, "server_error", True),  # OpenRouter 200
        ({"error": {"code": 400, "message": "bad"}}, "invalid_request", False),
        (
            completion({"role": "assistant", "content": "cut"}, "insufficient_system_resource"),
            "server_error",
            True,
        ),
    ],
)
def test_a_failure_under_http_200_raises_rather_than_returning_success(
    body: dict[str, Any], code: str | None, retryable: bool
) -> None:
    with pytest.raises(ResponseFailedError) as info:
        parse(body)
    exc = info.value
    assert exc.code == code and exc.retryable is retryable and exc.provider == "test"
    assert exc.response is not None and exc.response.status == "failed"
    assert is_transient(exc) is retryable


@pytest.mark.parametrize(
    ("raw", "match"), [(b"not json", "Invalid"), (b"[]", "not a JSON object"), (b"{}", "no choices")]
)
def test_malformed_whole_bodies_are_protocol_errors(raw: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        chat_completion_to_response(raw, CreateResponseBody(model="m"))


# --------------------------------------------------------------------------- error bodies


def error_of(status: int, body: bytes | dict[str, Any] | str, headers: dict[str, str] | None = None) -> Any:
    raw = (
        body
        if isinstance(body, bytes)
        else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    )
    return ChatCompletionsDialect().error(status, raw, headers or {}, provider="up")


@pytest.mark.parametrize(
    ("status", "body", "cls", "message", "code"),
    [
        (
            400,
            {
                "error": {
                    "message": "Invalid model",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": None,
                }
            },
            "BadRequestError",
            "Invalid model",
            None,
        ),
        (
            422,
            {
                "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
                "error_type": "validation",
            },
            "UnprocessableEntityError",
            "Input validation error",
            "context_length_exceeded",
        ),
        (
            400,
            {
                "object": "error",
                "message": "This model's maximum context length is 4096 tokens.",
                "type": "BadRequestError",
                "code": 400,
            },
            "BadRequestError",
            "maximum context length",
            "context_length_exceeded",
        ),
        (
            402,
            {"error": {"code": 402, "message": "Insufficient credits"}},
            "APIStatusError",
            "Insufficient credits",
            None,
        ),
        (
            503,
            {"error": {"code": 503, "message": "No instances available"}},
            "InternalServerError",
            "No instances",
            "server_error",
        ),
        (
            500,
            "Internal Server Error: llama runner process has terminated",
            "InternalServerError",
            "llama runner",
            "server_error",
        ),
        (404, {"error": "model 'qwen9' not found"}, "NotFoundError", "model 'qwen9' not found", None),
        (
            400,
            {"error": {"message": "Your request was flagged by our content policy"}},
            "BadRequestError",
            "flagged",
            "content_filter",
        ),
        (
            429,
            {"error": "Model is overloaded", "error_type": "overloaded"},
            "RateLimitError",
            "overloaded",
            "rate_limit_exceeded",
        ),
        (500, b"", "InternalServerError", "Internal Server Error", None),
    ],
)
def test_error_bodies_of_every_shape_become_the_typed_error(
    status: int, body: Any, cls: str, message: str, code: str | None
) -> None:
    exc = error_of(status, body)
    assert type(exc).__name__ == cls and exc.status_code == status and exc.provider == "up"
    assert message in str(exc)
    if body:
        assert exc.error is not None and message in (exc.error.message or "")
    assert exc.code == code


def test_context_length_and_content_policy_errors_steer_the_resilience_policies() -> None:
    long = error_of(
        400, {"error": {"message": "prompt is too long: 300000 tokens > 200000 maximum", "code": 400}}
    )
    assert is_context_length(long) and not is_transient(long)
    policy = error_of(400, {"error": {"message": "Flagged by moderation", "type": "invalid_request_error"}})
    assert is_content_policy(policy)
    busy = error_of(429, {"error": {"message": "slow down", "code": 429}}, {"Retry-After": "2"})
    assert busy.retry_after == 2.0 and is_transient(busy)


def test_credentials_echoed_by_a_server_never_reach_the_error() -> None:
    body = {
        "error": {
            "message": "Incorrect API key provided: sk-proj-abcdef1234567890. Also Bearer gsk_secret99",
            "code": "invalid_api_key",
        }
    }
    exc = error_of(401, body)
    for text in (str(exc), repr(exc), repr(exc.body), repr(exc.error)):
        assert "abcdef1234567890" not in text and "gsk_secret99" not in text
    assert exc.code == "invalid_api_key" and type(exc).__name__ == "AuthenticationError"


def test_stream_errors_from_a_bad_request_body_are_raised_before_anything_is_sent() -> None:
    with pytest.raises(RequestValidationError):
        ChatCompletionsDialect().encode(Request(body=CreateResponseBody(input="q", background=True)))
