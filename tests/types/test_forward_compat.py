"""Unknown events, items, parts, annotations, tools and extra fields survive parsing and dumping."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from pydantic import TypeAdapter, ValidationError

from openresponses.types import (
    ContentPart,
    ContentPartDoneEvent,
    CreateResponseBody,
    ErrorEvent,
    Message,
    OutputItemAddedEvent,
    OutputTextContent,
    Response,
    UnknownAnnotation,
    UnknownContent,
    UnknownEvent,
    UnknownItem,
    UnknownItemParam,
    UnknownTool,
    UnknownToolChoice,
    WebSocketErrorEvent,
    parse_event,
)


def test_unknown_event_keeps_fields() -> None:
    event = parse_event(b'{"type":"acme:trace","sequence_number":3,"foo":{"x":1}}')
    assert isinstance(event, UnknownEvent)
    assert event.type == "acme:trace"
    assert event.sequence_number == 3
    assert event.model_extra == {"foo": {"x": 1}}
    assert event.to_dict() == {"type": "acme:trace", "sequence_number": 3, "foo": {"x": 1}}


def test_unknown_event_without_sequence_number() -> None:
    event = parse_event('{"type":"response.future_thing"}')
    assert isinstance(event, UnknownEvent)
    assert event.sequence_number is None


def test_unknown_item_in_output_item_added() -> None:
    payload = {
        "type": "response.output_item.added",
        "sequence_number": 4,
        "output_index": 2,
        "item": {
            "type": "acme:search_call",
            "id": "sc_1",
            "status": "in_progress",
            "query": "q",
            "hits": [1],
        },
    }
    event = parse_event(json.dumps(payload))
    assert isinstance(event, OutputItemAddedEvent)
    assert isinstance(event.item, UnknownItem)
    assert event.item.id == "sc_1"
    assert event.item.model_extra == {"query": "q", "hits": [1]}
    assert event.to_dict() == payload


def test_null_item_in_output_item_event() -> None:
    payload = {"type": "response.output_item.done", "sequence_number": 1, "output_index": 0, "item": None}
    event = parse_event(json.dumps(payload))
    assert event.to_dict() == payload


def test_extra_fields_on_standard_objects_are_kept(samples: SimpleNamespace) -> None:
    sample = samples.response(acme_region="eu")
    sample["usage"]["acme_cost"] = 0.01
    sample["output"][0]["acme_score"] = 0.5
    sample["output"][0]["content"][0]["acme_flag"] = True
    resp = Response.model_validate(sample)
    assert resp.model_extra == {"acme_region": "eu"}
    assert resp.to_dict() == sample

    event = {**samples.event("response.output_text.delta"), "acme_latency_ms": 12}
    assert parse_event(json.dumps(event)).to_dict() == event


def test_non_standard_statuses_are_kept(samples: SimpleNamespace) -> None:
    sample = samples.response(status="acme:paused")
    sample["output"][0]["status"] = "acme:redacted"
    resp = Response.model_validate(sample)
    assert resp.status == "acme:paused"
    assert isinstance(resp.output[0], Message)
    assert resp.output[0].status == "acme:redacted"


def test_unknown_content_part_and_annotation(samples: SimpleNamespace) -> None:
    part = {
        "type": "output_text",
        "text": "x",
        "annotations": [{"type": "acme:file_citation", "file_id": "f1", "index": 0}],
    }
    adapter: TypeAdapter[ContentPart] = TypeAdapter(ContentPart)
    parsed = adapter.validate_python(part)
    assert isinstance(parsed, OutputTextContent)
    assert isinstance(parsed.annotations[0], UnknownAnnotation)
    assert parsed.to_dict() == part

    unknown_part = {"type": "acme:audio", "audio": "AAA", "format": "wav"}
    event = {
        "type": "response.content_part.done",
        "sequence_number": 9,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 1,
        "part": unknown_part,
    }
    parsed_event = parse_event(json.dumps(event))
    assert isinstance(parsed_event, ContentPartDoneEvent)
    assert isinstance(parsed_event.part, UnknownContent)
    assert parsed_event.to_dict() == event

    annotation_event = {
        "type": "response.output_text.annotation.added",
        "sequence_number": 10,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "annotation_index": 1,
        "annotation": {"type": "acme:file_citation", "file_id": "f1"},
    }
    assert parse_event(json.dumps(annotation_event)).to_dict() == annotation_event


def test_unknown_tools_and_tool_choice(samples: SimpleNamespace) -> None:
    sample = samples.response(
        tools=[{"type": "acme:search", "index": "docs"}],
        tool_choice={"type": "acme:search"},
    )
    resp = Response.model_validate(sample)
    assert isinstance(resp.tools[0], UnknownTool)
    assert isinstance(resp.tool_choice, UnknownToolChoice)
    assert resp.to_dict() == sample

    body = CreateResponseBody(tools=[{"type": "acme:search", "index": "docs"}])
    assert isinstance(body.tools and body.tools[0], UnknownTool)
    assert body.to_dict() == {"tools": [{"type": "acme:search", "index": "docs"}]}


def test_unknown_input_item_is_passed_through() -> None:
    body = CreateResponseBody.model_validate(
        {"input": [{"type": "acme:search_result", "id": "x", "hits": []}]}
    )
    assert body.input is not None and isinstance(body.input[0], UnknownItemParam)
    assert body.to_dict() == {"input": [{"type": "acme:search_result", "id": "x", "hits": []}]}


def test_websocket_error_envelope() -> None:
    payload = {
        "type": "error",
        "status": 400,
        "error": {"code": "previous_response_not_found", "message": "gone", "param": "previous_response_id"},
    }
    event = parse_event(json.dumps(payload))
    assert isinstance(event, WebSocketErrorEvent)
    assert event.error.code == "previous_response_not_found"
    assert event.to_dict() == payload


def test_sse_error_event_is_error_event(samples: SimpleNamespace) -> None:
    assert isinstance(parse_event(json.dumps(samples.event("error"))), ErrorEvent)


def test_malformed_error_event_raises() -> None:
    with pytest.raises(ValidationError):
        parse_event(b'{"type":"error","sequence_number":1,"error":{"type":"x"}}')
