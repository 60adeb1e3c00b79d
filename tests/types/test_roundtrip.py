"""Spec-valid samples validate against openapi.json, parse into our models and dump back unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import TypeAdapter

from openresponses.types import (
    EVENT_TYPES,
    Compaction,
    CompactResponse,
    CompactResponseBody,
    CreateResponseBody,
    FunctionCall,
    FunctionCallOutput,
    Message,
    OutputItem,
    ReasoningItem,
    Response,
    WebSocketResponseCreateEvent,
    parse_event,
    parse_events,
)

Validate = Callable[[str, Any], None]

OUTPUT_ITEM_CLASSES = {
    "message": Message,
    "function_call": FunctionCall,
    "function_call_output": FunctionCallOutput,
    "reasoning": ReasoningItem,
    "compaction": Compaction,
}
OUTPUT_ITEM_SCHEMAS = {
    "message": "Message",
    "function_call": "FunctionCall",
    "function_call_output": "FunctionCallOutput",
    "reasoning": "ReasoningBody",
    "compaction": "CompactionBody",
}


def test_event_list_matches_spec(spec: dict[str, Any], samples: SimpleNamespace) -> None:
    stream = spec["paths"]["/responses"]["post"]["responses"]["200"]["content"]["text/event-stream"]
    schemas = spec["components"]["schemas"]
    spec_types = {
        schemas[ref["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["enum"][0]
        for ref in stream["schema"]["oneOf"]
    }
    assert len(spec_types) == 24
    assert set(EVENT_TYPES) == spec_types
    assert set(samples.event_bodies()) == spec_types


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_roundtrip(event_type: str, samples: SimpleNamespace, validate_spec: Validate) -> None:
    schema_name, _ = samples.event_bodies()[event_type]
    sample = samples.event(event_type)
    validate_spec(schema_name, sample)

    event = parse_event(json.dumps(sample).encode())
    assert type(event) is EVENT_TYPES[event_type]
    assert event.to_dict() == sample
    # The same payload as ``str`` and through the dict path.
    assert parse_event(json.dumps(sample)).to_dict() == sample
    assert EVENT_TYPES[event_type].model_validate(sample).to_dict() == sample


def test_parse_events_batch(samples: SimpleNamespace) -> None:
    payloads = [json.dumps(samples.event(t, i)).encode() for i, t in enumerate(sorted(EVENT_TYPES))]
    events = parse_events(payloads)
    assert [e.type for e in events] == sorted(EVENT_TYPES)
    assert [e.to_dict() for e in events] == [json.loads(p) for p in payloads]
    # An unknown event in the batch falls back to per-event parsing.
    payloads.insert(3, b'{"type":"acme:trace","sequence_number":99,"x":1}')
    events = parse_events(payloads)
    assert events[3].type == "acme:trace"
    assert len(events) == 25
    assert parse_events([]) == []


@pytest.mark.parametrize("item_type", sorted(OUTPUT_ITEM_CLASSES))
def test_output_item_roundtrip(item_type: str, samples: SimpleNamespace, validate_spec: Validate) -> None:
    sample = samples.output_items[item_type]()
    validate_spec(OUTPUT_ITEM_SCHEMAS[item_type], sample)
    validate_spec("ItemField", sample)

    adapter: TypeAdapter[OutputItem] = TypeAdapter(OutputItem)
    item = adapter.validate_python(sample)
    assert type(item) is OUTPUT_ITEM_CLASSES[item_type]
    assert item.to_dict() == sample
    assert OUTPUT_ITEM_CLASSES[item_type].model_validate_json(json.dumps(sample)).to_dict() == sample


def test_function_call_output_string_output(validate_spec: Validate, samples: SimpleNamespace) -> None:
    sample = {**samples.function_call_output_item(), "output": "plain"}
    validate_spec("FunctionCallOutput", sample)
    assert FunctionCallOutput.model_validate(sample).to_dict() == sample


def test_response_roundtrip(samples: SimpleNamespace, validate_spec: Validate) -> None:
    sample = samples.response()
    validate_spec("ResponseResource", sample)
    resp = Response.model_validate_json(json.dumps(sample))
    assert resp.to_dict() == sample
    assert [type(i) for i in resp.output] == list(OUTPUT_ITEM_CLASSES.values())


@pytest.mark.parametrize(
    "tool_choice",
    [
        "none",
        "required",
        {"type": "function", "name": "get_weather"},
        {"type": "function"},
        {"type": "allowed_tools", "tools": [{"type": "function", "name": "get_weather"}], "mode": "auto"},
    ],
)
def test_response_tool_choice_variants(
    tool_choice: Any, samples: SimpleNamespace, validate_spec: Validate
) -> None:
    sample = samples.response(tool_choice=tool_choice)
    validate_spec("ResponseResource", sample)
    assert Response.model_validate(sample).to_dict() == sample


@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "json_object"},
        {"type": "json_schema", "name": "answer", "description": None, "schema": None, "strict": True},
    ],
)
def test_response_text_formats(
    fmt: dict[str, Any], samples: SimpleNamespace, validate_spec: Validate
) -> None:
    sample = samples.response(text={"format": fmt})
    validate_spec("ResponseResource", sample)
    assert Response.model_validate(sample).to_dict() == sample


def test_response_json_schema_echo_accepts_object(samples: SimpleNamespace) -> None:
    # The 2026-04-24 schema only allows ``schema: null`` in the echo; real servers echo the object.
    fmt = {
        "type": "json_schema",
        "name": "a",
        "description": "d",
        "schema": {"type": "object"},
        "strict": False,
    }
    resp = Response.model_validate(samples.response(text={"format": fmt}))
    assert resp.text.format.schema_ == {"type": "object"}  # type: ignore[union-attr]
    assert resp.to_dict()["text"]["format"] == fmt


def test_compact_response_roundtrip(samples: SimpleNamespace, validate_spec: Validate) -> None:
    sample = samples.compact_response()
    validate_spec("CompactResource", sample)
    compact = CompactResponse.model_validate_json(json.dumps(sample))
    assert compact.to_dict() == sample
    assert isinstance(compact.output[1], Compaction)


def test_create_body_roundtrip(samples: SimpleNamespace, validate_spec: Validate) -> None:
    sample = samples.create_body()
    validate_spec("CreateResponseBody", sample)
    body = CreateResponseBody.model_validate(sample)
    assert set(body.model_fields_set) == set(sample) == set(CreateResponseBody.model_fields)
    dumped = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
    assert dumped == sample
    assert body.to_dict() == sample
    assert CreateResponseBody.model_validate_json(json.dumps(sample)).to_dict() == sample


@pytest.mark.parametrize("tool_choice", ["auto", {"type": "function", "name": "get_weather"}])
def test_create_body_tool_choice_variants(tool_choice: Any, validate_spec: Validate) -> None:
    sample = {"model": "m", "input": "hi", "tool_choice": tool_choice, "text": {"format": {"type": "text"}}}
    validate_spec("CreateResponseBody", sample)
    assert CreateResponseBody.model_validate(sample).to_dict() == sample


def test_compact_body_roundtrip(samples: SimpleNamespace, validate_spec: Validate) -> None:
    sample = {
        "model": "gpt-test",
        "input": samples.create_body()["input"][:3],
        "previous_response_id": "resp_1",
        "instructions": "Keep it short.",
        "prompt_cache_key": "k",
    }
    validate_spec("CompactResponseMethodPublicBody", sample)
    assert CompactResponseBody.model_validate(sample).to_dict() == sample


def test_websocket_create_roundtrip(validate_spec: Validate) -> None:
    sample = {"type": "response.create", "model": "m", "input": "hi", "store": False}
    validate_spec("WebSocketResponseCreateEvent", sample)
    assert WebSocketResponseCreateEvent.model_validate(sample).to_dict() == sample
    built = WebSocketResponseCreateEvent(model="m", input="hi", store=False)
    assert built.to_dict() == sample
