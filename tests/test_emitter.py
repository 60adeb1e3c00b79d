"""EventBuilder as the one producer: emit_response, relay, typed item state, and the SSE encoder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses._accumulate import Accumulator
from openresponses._emit import EventBuilder, emit_response, parse_event_dict, response_skeleton
from openresponses._sse import DONE, SSEDecoder, encode_event, encode_sse
from openresponses.testing import assert_valid_stream, text
from openresponses.types import Response, StreamEvent, UnknownEvent, parse_event


def response(output: list[dict[str, Any]], **changes: Any) -> Response:
    data = response_skeleton(model="m", id="resp_fixed", created_at=1_700_000_000, status="completed")
    data.update(
        output=output,
        completed_at=1_700_000_009,
        usage={
            "input_tokens": 4,
            "output_tokens": 6,
            "total_tokens": 10,
            "input_tokens_details": {"cached_tokens": 1},
            "output_tokens_details": {"reasoning_tokens": 2},
        },
    )
    data.update(changes)
    return Response.model_validate(data)


def message(
    *parts: dict[str, Any], id: str = "msg_1", status: str = "completed", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": list(parts),
        **extra,
    }


def out_text(value: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "text": value, "annotations": annotations or []}


REASONING = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [{"type": "summary_text", "text": "First, "}, {"type": "summary_text", "text": "then."}],
    "content": [{"type": "reasoning_text", "text": "raw chain"}],
    "encrypted_content": "b64==",
    "status": "completed",
}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
    "status": "completed",
}
CITATION = {
    "type": "url_citation",
    "url": "https://example.com",
    "start_index": 0,
    "end_index": 5,
    "title": "Ex",
}

RESPONSES: dict[str, Response] = {
    "text": response([message(out_text("Hello there"))]),
    "empty text": response([message(out_text(""))]),
    "no output": response([]),
    "reasoning": response([REASONING, message(out_text("Answer"), id="msg_2", phase="final_answer")]),
    "function calls": response([CALL, dict(CALL, id="fc_2", call_id="call_2", arguments="{}")]),
    "refusal": response([message({"type": "refusal", "refusal": "I can't."})]),
    "text and refusal": response([message(out_text("Well"), {"type": "refusal", "refusal": "no"})]),
    "annotations": response(
        [message(out_text("Hello", [CITATION, dict(CITATION, url="https://b.example")]))]
    ),
    "several items": response(
        [
            REASONING,
            message(out_text("Let me check"), id="msg_a"),
            CALL,
            message(out_text("Done"), id="msg_b"),
        ]
    ),
    "incomplete": response(
        [message(out_text("The answer was cu"), status="incomplete")],
        status="incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        completed_at=None,
    ),
    "failed": response(
        [message(out_text("partial"), status="incomplete")],
        status="failed",
        error={"code": "server_error", "message": "The server had an error."},
        completed_at=None,
        usage=None,
    ),
    "function call output and compaction": response(
        [
            {
                "type": "function_call_output",
                "id": "fco_1",
                "call_id": "call_1",
                "output": "22C",
                "status": "completed",
            },
            {"type": "compaction", "id": "cmp_1", "encrypted_content": "opaque", "created_by": "server"},
        ]
    ),
}
EXTENSION = response(
    [
        message(out_text("before"), id="msg_x"),
        {"type": "acme:widget", "id": "w_1", "status": "completed", "payload": {"k": [1, 2]}},
        message(out_text("with a custom part"), {"type": "acme:chart", "data": [3]}, id="msg_y"),
    ]
)


def accumulate(events: list[StreamEvent]) -> Accumulator:
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    return acc


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_unset=True)


@pytest.mark.parametrize("chunking", [None, 1, 3])
@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_emit_response_streams_the_response_back(name: str, chunking: int | None) -> None:
    original = RESPONSES[name]
    events = emit_response(original, chunking=chunking)
    assert_valid_stream(events)  # spec order, one terminal, and the bundled JSON schema
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [e.type for e in events[:2]] == ["response.created", "response.in_progress"]
    # The lifecycle events adopt the response's own id, model and creation time.
    created = events[0].response  # type: ignore[union-attr]
    assert (created.id, created.model, created.created_at) == (original.id, "m", original.created_at)
    assert created.status == "in_progress" and created.output == [] and created.usage is None
    # The terminal response is the input, and the events before it carry the whole output.
    final = accumulate(events).snapshot()
    assert final is not None and dump(final) == dump(original)
    partial = accumulate(events[:-1]).snapshot()
    assert partial is not None
    assert [dump(item) for item in partial.output] == [dump(item) for item in original.output]


def test_emit_response_of_extension_items_and_parts() -> None:
    events = emit_response(EXTENSION, chunking=4)
    # The bundled schema cannot know acme:* items or parts; the order rules still hold.
    assert_valid_stream(events, schema=False)
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [e.output_index for e in added] == [0, 1, 2]  # type: ignore[union-attr]
    widget = [e for e in events if getattr(e, "output_index", None) == 1]
    assert [e.type for e in widget] == ["response.output_item.added", "response.output_item.done"]
    assert dump(accumulate(events).snapshot()) == dump(EXTENSION)
    partial = accumulate(events[:-1]).snapshot()
    assert [dump(item) for item in partial.output] == [dump(item) for item in EXTENSION.output]  # type: ignore[union-attr]


def test_chunking_splits_every_streamed_text_into_bounded_deltas() -> None:
    events = emit_response(RESPONSES["several items"], chunking=2)
    deltas = [e.delta for e in events if e.type.endswith(".delta")]  # type: ignore[union-attr]
    assert deltas and all(1 <= len(d) <= 2 for d in deltas)
    one = emit_response(RESPONSES["several items"])
    kinds = [e.type for e in one if e.type.endswith(".delta")]
    # One delta per part: 2 summaries, 1 raw trace, 2 texts, 1 arguments.
    assert len(kinds) == 6
    with pytest.raises(ValueError, match="chunking"):
        emit_response(RESPONSES["text"], chunking=0)


def test_emit_response_failed_sends_error_then_failed() -> None:
    events = emit_response(RESPONSES["failed"])
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    error = events[-2].error  # type: ignore[union-attr]
    assert (error.code, error.message) == ("server_error", "The server had an error.")


def test_emit_response_annotations_arrive_as_events() -> None:
    events = emit_response(RESPONSES["annotations"])
    added = [e for e in events if e.type == "response.output_text.annotation.added"]
    assert [e.annotation_index for e in added] == [0, 1]  # type: ignore[union-attr]
    types = [e.type for e in events]
    assert types.index("response.output_text.delta") < types.index("response.output_text.annotation.added")
    assert types.index("response.output_text.annotation.added") < types.index("response.output_text.done")


def test_scenario_fixed_replays_through_emit_response() -> None:
    original = RESPONSES["reasoning"]
    from openresponses.testing import json_response

    events = json_response(original).events()
    assert [e.type for e in events] == [e.type for e in emit_response(original)]
    assert dump(events[-1].response) == dump(original)  # type: ignore[union-attr]


# -- relay ---------------------------------------------------------------------------------------


def test_relay_renumbers_remaps_and_feeds_the_accumulator() -> None:
    upstream = text("Hello world", chunks=3).events()
    builder = EventBuilder(start_sequence=40)
    builder.created()
    builder.in_progress()
    first = builder.start_message()
    builder.text(first, "Before. ")
    builder.end_item(first)
    relayed = [builder.relay(e, output_index=1) for e in upstream[2:-1]]
    assert all(e.output_index == 1 for e in relayed)  # type: ignore[union-attr]
    # Originals are untouched (relay copies).
    assert upstream[2].sequence_number == 2 and upstream[2].output_index == 0  # type: ignore[union-attr]
    # Later items go after the relayed one.
    after = builder.start_function_call("f")
    assert after == 2
    builder.arguments(after, "{}")
    builder.complete()
    events = builder.drain()
    assert_valid_stream(events)
    seqs = [e.sequence_number for e in events]
    assert seqs == list(range(40, 40 + len(events)))
    final = builder.accumulator.final
    assert final is not None
    assert [item.type for item in final.output] == ["message", "message", "function_call"]
    assert final.output_text == "Before. Hello world"


def test_relay_of_extension_events_keeps_their_fields() -> None:
    builder = EventBuilder()
    event = parse_event_dict({"type": "acme:trace", "sequence_number": 99, "output_index": 0, "note": "x"})
    assert isinstance(event, UnknownEvent)
    copy = builder.relay(event, output_index=3)
    data = copy.model_dump(mode="json", exclude_unset=True)
    assert data == {"type": "acme:trace", "sequence_number": 0, "output_index": 3, "note": "x"}
    assert builder.start_message() == 4


# -- builder details -----------------------------------------------------------------------------


def test_summary_after_raw_reasoning_closes_the_raw_part_first() -> None:
    b = EventBuilder()
    b.created()
    b.in_progress()
    r = b.start_reasoning(encrypted_content="early")
    b.reasoning_text(r, "raw")
    b.summary(r, "sum")
    b.end_item(r, encrypted_content="late")
    b.complete()
    events = b.drain()
    assert_valid_stream(events)
    types = [e.type for e in events]
    assert types.index("response.content_part.done") < types.index("response.reasoning_summary_part.added")
    item = b.accumulator.final.output[0]  # type: ignore[union-attr]
    assert item.encrypted_content == "late"  # type: ignore[union-attr]
    assert item.content[0].text == "raw" and item.summary[0].text == "sum"  # type: ignore[union-attr]


def test_builder_errors_name_the_item() -> None:
    b = EventBuilder()
    with pytest.raises(ValueError, match="output item 7 is not open"):
        b.text(7, "x")
    with pytest.raises(ValueError, match="output item 7"):
        b.end_item(7)


def test_for_response_adopts_the_response_identity() -> None:
    original = RESPONSES["text"]
    b = EventBuilder.for_response(original, start_sequence=5)
    assert b.response_id == original.id and b.sequence_number == 5
    created = b.created().response  # type: ignore[union-attr]
    assert created.model == original.model and created.usage is None and created.status == "in_progress"


def test_deltas_are_built_without_validation_but_dump_like_validated_ones() -> None:
    b = EventBuilder()
    b.created()
    i = b.start_message()
    fast = b.text(i, "hi")
    slow = parse_event(fast.model_dump_json(exclude_unset=True))
    assert fast.model_dump(exclude_unset=True) == slow.model_dump(exclude_unset=True)
    assert "type" in fast.model_dump(exclude_unset=True)


# -- SSE encoding --------------------------------------------------------------------------------


def test_encode_event_is_the_exact_wire_form() -> None:
    event = emit_response(RESPONSES["text"])[3]
    payload = event.model_dump_json(by_alias=True, exclude_unset=True).encode()
    assert encode_event(event) == b"event: " + event.type.encode() + b"\ndata: " + payload + b"\n\n"
    assert encode_event(event) == encode_sse(payload, event.type)
    # The old bytes spelling still works.
    assert encode_event(payload, event.type) == encode_event(event)
    assert DONE == b"data: [DONE]\n\n"


def test_encode_sse_multiline_and_no_name() -> None:
    assert encode_sse(b"a\r\nb\rc\nd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode_sse(b"{}") == b"data: {}\n\n"


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(RESPONSES)), st.integers(1, 7))
def test_encoded_streams_decode_back_to_the_same_events(name: str, chunk: int) -> None:
    events = emit_response(RESPONSES[name], chunking=3)
    wire = b"".join(encode_event(e) for e in events) + DONE
    decoder = SSEDecoder()
    received = []
    for i in range(0, len(wire), chunk):
        received.extend(decoder.feed(wire[i : i + chunk]))
    assert received[-1].data == b"[DONE]"
    decoded = [parse_event(sse.data) for sse in received[:-1]]
    assert [sse.event for sse in received[:-1]] == [e.type for e in events]
    assert [json.loads(e.model_dump_json(exclude_unset=True)) for e in decoded] == [
        json.loads(e.model_dump_json(exclude_unset=True)) for e in events
    ]
