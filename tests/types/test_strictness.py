"""Required fields and request constraints are enforced; ergonomic request construction works."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from openresponses.types import (
    AllowedToolsChoice,
    AssistantMessageItemParam,
    CompactionItemParam,
    CompactResponseBody,
    CreateResponseBody,
    FunctionCall,
    FunctionCallItemParam,
    FunctionCallOutputItemParam,
    FunctionToolChoice,
    FunctionToolParam,
    InputImageContent,
    InputTextContent,
    ItemReferenceParam,
    JsonSchemaResponseFormat,
    OutputTextDeltaEvent,
    ReasoningItemParam,
    ReasoningParam,
    Response,
    SystemMessageItemParam,
    TextParam,
    UserMessageItemParam,
    WebSocketResponseCreateEvent,
    parse_event,
)

Validate = Callable[[str, Any], None]


# --------------------------------------------------------------------------- required fields


def test_delta_event_missing_delta_raises() -> None:
    payload = {
        "type": "response.output_text.delta",
        "sequence_number": 1,
        "item_id": "m",
        "output_index": 0,
        "content_index": 0,
    }
    with pytest.raises(ValidationError):
        parse_event(json.dumps(payload).encode())


def test_bad_json_raises() -> None:
    with pytest.raises(ValidationError):
        parse_event(b"{not json")


def test_delta_event_type_is_checked() -> None:
    with pytest.raises(ValidationError):
        OutputTextDeltaEvent.model_validate(
            {"type": "response.refusal.delta", "sequence_number": 1, "item_id": "m", "output_index": 0}
        )


def test_response_missing_tools_raises(samples: SimpleNamespace) -> None:
    sample = samples.response()
    del sample["tools"]
    with pytest.raises(ValidationError):
        Response.model_validate(sample)


@pytest.mark.parametrize("key", ["completed_at", "usage", "error", "safety_identifier", "reasoning"])
def test_response_nullable_keys_are_still_required(key: str, samples: SimpleNamespace) -> None:
    sample = samples.response()
    del sample[key]
    with pytest.raises(ValidationError):
        Response.model_validate(sample)


def test_response_object_key_may_be_omitted(samples: SimpleNamespace) -> None:
    sample = samples.response()
    del sample["object"]
    assert Response.model_validate(sample).object == "response"


# --------------------------------------------------------------------------- request constraints


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_output_tokens": 8},
        {"top_logprobs": 21},
        {"top_logprobs": -1},
        {"max_tool_calls": 0},
        {"metadata": {f"k{i}": "v" for i in range(17)}},
        {"metadata": {"k": "v" * 513}},
        {"prompt_cache_key": "k" * 65},
        {"safety_identifier": "s" * 65},
        {"truncation": "sometimes"},
        {"service_tier": "batch"},
        {"include": ["file_search_call.results"]},
        {"reasoning": {"effort": "extreme"}},
        {"tools": [{"type": "function", "name": "bad name!"}]},
        {"input": [{"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"}]},
    ],
)
def test_create_body_rejects(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CreateResponseBody.model_validate(kwargs)


def test_create_body_limits_accepted() -> None:
    body = CreateResponseBody(
        max_output_tokens=16,
        top_logprobs=20,
        metadata={f"k{i}": "v" * 512 for i in range(16)},
        prompt_cache_key="k" * 64,
    )
    assert body.to_dict()["max_output_tokens"] == 16


def test_compact_body_requires_model() -> None:
    with pytest.raises(ValidationError):
        CompactResponseBody.model_validate({"input": "hi"})


def test_websocket_create_rejects_stream_fields() -> None:
    for key, value in [("stream", True), ("stream_options", {}), ("background", False)]:
        with pytest.raises(ValidationError):
            WebSocketResponseCreateEvent.model_validate({"model": "m", key: value})


# --------------------------------------------------------------------------- serialisation


def test_only_set_fields_are_sent() -> None:
    body = CreateResponseBody(model="m", input="Hello", temperature=None)
    assert body.to_dict() == {"model": "m", "input": "Hello", "temperature": None}
    assert body.model_dump(mode="json", exclude_unset=True, by_alias=True) == body.to_dict()


def test_built_models_dump_their_type(validate_spec: Validate) -> None:
    body = CreateResponseBody(
        model="m",
        input=[
            UserMessageItemParam(
                content=[InputTextContent(text="hi"), InputImageContent(image_url="data:,x")]
            ),
            SystemMessageItemParam(content="be nice"),
            FunctionCallOutputItemParam(call_id="c1", output="ok"),
            ItemReferenceParam(id="msg_1"),
        ],
        tools=[FunctionToolParam(name="f", parameters={"type": "object"})],
        tool_choice=AllowedToolsChoice(tools=[FunctionToolChoice(name="f")]),
        text=TextParam(format=JsonSchemaResponseFormat(name="x", schema={"type": "object"}, strict=True)),
        reasoning=ReasoningParam(effort="low"),
    )
    wire = body.to_dict()
    validate_spec("CreateResponseBody", wire)
    assert wire["input"][0] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}, {"type": "input_image", "image_url": "data:,x"}],
    }
    assert wire["input"][3] == {"type": "item_reference", "id": "msg_1"}
    assert wire["tools"] == [{"type": "function", "name": "f", "parameters": {"type": "object"}}]
    assert wire["tool_choice"] == {"type": "allowed_tools", "tools": [{"type": "function", "name": "f"}]}
    assert wire["text"] == {
        "format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": True}
    }


def test_schema_alias_round_trips() -> None:
    by_name = JsonSchemaResponseFormat(name="x", schema_={"type": "object"})
    by_alias = JsonSchemaResponseFormat.model_validate(
        {"type": "json_schema", "name": "x", "schema": {"type": "object"}}
    )
    assert by_name.schema_ == by_alias.schema_ == {"type": "object"}
    assert (
        by_name.to_dict()
        == by_alias.to_dict()
        == {"type": "json_schema", "name": "x", "schema": {"type": "object"}}
    )
    assert "schema_" not in by_name.model_dump()
    assert JsonSchemaResponseFormat.model_validate(by_name.to_dict()) == by_name


# --------------------------------------------------------------------------- ergonomic input


def test_string_input() -> None:
    body = CreateResponseBody(model="m", input="Hi")
    assert body.input == "Hi"
    assert body.to_dict() == {"model": "m", "input": "Hi"}


def test_dict_inputs_are_dispatched() -> None:
    body = CreateResponseBody.model_validate(
        {
            "input": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello", "phase": "final_answer"},
                {"type": "message", "role": "system", "content": "sys"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "compaction", "encrypted_content": "e"},
                {"type": "reasoning", "summary": []},
                {"id": "msg_9"},
                {"type": None, "id": "msg_10"},
            ]
        }
    )
    assert body.input is not None and not isinstance(body.input, str)
    assert [type(i) for i in body.input] == [
        UserMessageItemParam,
        AssistantMessageItemParam,
        SystemMessageItemParam,
        FunctionCallItemParam,
        CompactionItemParam,
        ReasoningItemParam,
        ItemReferenceParam,
        ItemReferenceParam,
    ]
    wire = body.to_dict()["input"]
    assert wire[0] == {"role": "user", "content": "hi"}
    assert wire[6] == {"id": "msg_9"}  # no ``type`` added: exactly what was set


def test_assistant_phase_is_assistant_only() -> None:
    assert "phase" in AssistantMessageItemParam.model_fields
    assert "phase" not in UserMessageItemParam.model_fields


def test_output_items_from_a_response_become_input(samples: SimpleNamespace, validate_spec: Validate) -> None:
    resp = Response.model_validate(samples.response())
    message, function_call, function_call_output, reasoning, compaction = resp.output
    body = CreateResponseBody(
        model="m",
        input=[
            message,
            function_call,
            function_call_output,
            reasoning,
            compaction,
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
            FunctionCallOutputItemParam(call_id="call_1", output="18C"),
        ],
    )
    assert body.input is not None and not isinstance(body.input, str)
    kinds = [type(i).__name__ for i in body.input]
    assert kinds == [
        "AssistantMessageItemParam",
        "FunctionCallItemParam",
        "FunctionCallOutputItemParam",
        "ReasoningItemParam",
        "CompactionItemParam",
        "FunctionCallOutputItemParam",
        "FunctionCallOutputItemParam",
    ]
    wire = body.to_dict()
    validate_spec("CreateResponseBody", wire)
    assert wire["input"][0] == message.to_dict()  # phase, annotations, logprobs all kept
    assert wire["input"][0]["phase"] == "final_answer"
    assert wire["input"][1] == function_call.to_dict()
    assert "content" not in wire["input"][3]  # raw reasoning cannot be sent back
    assert wire["input"][3]["encrypted_content"] == "gAAAA=="
    assert wire["input"][6] == {"type": "function_call_output", "call_id": "call_1", "output": "18C"}


def test_function_call_instance_as_input() -> None:
    call = FunctionCall(id="fc_1", call_id="call_1", name="f", arguments="{}", status="completed")
    body = CreateResponseBody(input=[call])
    assert body.input is not None and isinstance(body.input[0], FunctionCallItemParam)
    assert body.to_dict()["input"] == [
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "f",
            "arguments": "{}",
            "status": "completed",
        }
    ]


def test_item_reference_without_type() -> None:
    body = CreateResponseBody.model_validate({"input": [{"id": "msg_1"}]})
    assert body.input is not None and isinstance(body.input[0], ItemReferenceParam)
    assert body.input[0].type == "item_reference"


def test_compact_body_accepts_compaction_output(samples: SimpleNamespace) -> None:
    from openresponses.types import CompactResponse

    compact = CompactResponse.model_validate(samples.compact_response())
    body = CreateResponseBody(model="m", input=[*compact.output, {"role": "user", "content": "next"}])
    assert body.input is not None and isinstance(body.input[1], CompactionItemParam)
