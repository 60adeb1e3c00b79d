"""Fixtures for the type tests: the OpenAPI document, a JSON-Schema validator and spec-valid samples."""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from openresponses.testing._spec_schema import SpecSchemas, load_spec


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    return load_spec()


@pytest.fixture(scope="session")
def validate_spec(spec: dict[str, Any]) -> Callable[[str, Any], None]:
    """``validate_spec("ResponseResource", sample)`` raises if *sample* violates the spec schema.

    The library's own loader (the conformance checker's), so the tests pin what users run.
    """
    schemas = SpecSchemas(spec)

    def validate(schema_name: str, instance: Any) -> None:
        assert schema_name in spec["components"]["schemas"], schema_name
        schemas.validate(schema_name, instance)

    return validate


# --------------------------------------------------------------------------- samples


def usage() -> dict[str, Any]:
    return {
        "input_tokens": 12,
        "output_tokens": 30,
        "total_tokens": 42,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 8},
    }


def logprob() -> dict[str, Any]:
    return {
        "token": "Hi",
        "logprob": -0.25,
        "bytes": [72, 105],
        "top_logprobs": [{"token": "Hello", "logprob": -1.5, "bytes": [72, 101, 108, 108, 111]}],
    }


def output_text(text: str = "Hello!", *, with_extras: bool = False) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "output_text", "text": text, "annotations": []}
    if with_extras:
        part["annotations"] = [
            {
                "type": "url_citation",
                "url": "https://example.com",
                "start_index": 0,
                "end_index": 5,
                "title": "Example",
            }
        ]
        part["logprobs"] = [logprob()]
    return part


def message_item(
    *, id: str = "msg_1", text: str = "Hello!", status: str = "completed", phase: str | None = "final_answer"
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": [output_text(text, with_extras=True), {"type": "refusal", "refusal": "no"}],
    }
    if phase is not None:
        item["phase"] = phase
    return item


def function_call_item() -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"location":"Paris"}',
        "status": "completed",
    }


def function_call_output_item() -> dict[str, Any]:
    return {
        "type": "function_call_output",
        "id": "fco_1",
        "call_id": "call_1",
        "output": [
            {"type": "input_text", "text": "18C"},
            {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"},
            {"type": "input_file", "filename": "a.txt", "file_url": "https://example.com/a.txt"},
        ],
        "status": "completed",
    }


def reasoning_item() -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Thinking about weather"}],
        "content": [{"type": "reasoning_text", "text": "raw thoughts"}],
        "encrypted_content": "gAAAA==",
        "status": "completed",
    }


def compaction_item() -> dict[str, Any]:
    return {"type": "compaction", "id": "cmp_1", "encrypted_content": "enc==", "created_by": "server"}


OUTPUT_ITEM_SAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    "message": message_item,
    "function_call": function_call_item,
    "function_call_output": function_call_output_item,
    "reasoning": reasoning_item,
    "compaction": compaction_item,
}


def response(**overrides: Any) -> dict[str, Any]:
    """A spec-valid ``ResponseResource`` with all 31 keys."""
    base: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "completed_at": 1_700_000_005,
        "status": "completed",
        "incomplete_details": None,
        "model": "gpt-test",
        "previous_response_id": None,
        "instructions": "Be brief.",
        "output": [factory() for factory in OUTPUT_ITEM_SAMPLES.values()],
        "error": None,
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
                "strict": True,
            },
            {"type": "function", "name": "noop", "description": None, "parameters": None, "strict": None},
        ],
        "tool_choice": "auto",
        "truncation": "disabled",
        "parallel_tool_calls": True,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "top_p": 1,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "top_logprobs": 0,
        "temperature": 0.7,
        "reasoning": {"effort": "medium", "summary": None},
        "usage": usage(),
        "max_output_tokens": 1024,
        "max_tool_calls": None,
        "store": True,
        "background": False,
        "service_tier": "default",
        "metadata": {"user": "u1"},
        "safety_identifier": None,
        "prompt_cache_key": "pck",
    }
    base.update(overrides)
    return base


def compact_response() -> dict[str, Any]:
    return {
        "id": "cmp_resp_1",
        "object": "response.compaction",
        "output": [message_item(phase=None), compaction_item()],
        "created_at": 1_700_000_000,
        "usage": usage(),
    }


def _part_fields(**extra: Any) -> dict[str, Any]:
    return {"item_id": "msg_1", "output_index": 0, "content_index": 0, **extra}


def _summary_fields(**extra: Any) -> dict[str, Any]:
    return {"item_id": "rs_1", "output_index": 0, "summary_index": 0, **extra}


def event_bodies() -> dict[str, tuple[str, dict[str, Any]]]:
    """Event type -> (spec schema name, fields other than ``type`` / ``sequence_number``)."""
    in_progress = response(status="in_progress", completed_at=None, output=[], usage=None)
    failed = response(
        status="failed", output=[], usage=None, error={"code": "server_error", "message": "boom"}
    )
    incomplete = response(
        status="incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        output=[message_item(status="incomplete")],
    )
    return {
        "response.created": ("ResponseCreatedStreamingEvent", {"response": in_progress}),
        "response.queued": ("ResponseQueuedStreamingEvent", {"response": response(status="queued")}),
        "response.in_progress": ("ResponseInProgressStreamingEvent", {"response": in_progress}),
        "response.completed": ("ResponseCompletedStreamingEvent", {"response": response()}),
        "response.failed": ("ResponseFailedStreamingEvent", {"response": failed}),
        "response.incomplete": ("ResponseIncompleteStreamingEvent", {"response": incomplete}),
        "response.output_item.added": (
            "ResponseOutputItemAddedStreamingEvent",
            {"output_index": 0, "item": {**message_item(status="in_progress"), "content": []}},
        ),
        "response.output_item.done": (
            "ResponseOutputItemDoneStreamingEvent",
            {"output_index": 1, "item": function_call_item()},
        ),
        "response.content_part.added": (
            "ResponseContentPartAddedStreamingEvent",
            _part_fields(part=output_text("")),
        ),
        "response.content_part.done": (
            "ResponseContentPartDoneStreamingEvent",
            _part_fields(part=output_text("Hello!", with_extras=True)),
        ),
        "response.output_text.delta": (
            "ResponseOutputTextDeltaStreamingEvent",
            _part_fields(delta="Hel", logprobs=[logprob()], obfuscation="xyz"),
        ),
        "response.output_text.done": (
            "ResponseOutputTextDoneStreamingEvent",
            _part_fields(text="Hello!", logprobs=[logprob()]),
        ),
        "response.output_text.annotation.added": (
            "ResponseOutputTextAnnotationAddedStreamingEvent",
            _part_fields(annotation_index=0, annotation=output_text(with_extras=True)["annotations"][0]),
        ),
        "response.refusal.delta": ("ResponseRefusalDeltaStreamingEvent", _part_fields(delta="I can")),
        "response.refusal.done": ("ResponseRefusalDoneStreamingEvent", _part_fields(refusal="I can't.")),
        "response.function_call_arguments.delta": (
            "ResponseFunctionCallArgumentsDeltaStreamingEvent",
            {"item_id": "fc_1", "output_index": 0, "delta": '{"loc', "obfuscation": "ab"},
        ),
        "response.function_call_arguments.done": (
            "ResponseFunctionCallArgumentsDoneStreamingEvent",
            {"item_id": "fc_1", "output_index": 0, "arguments": '{"location":"Paris"}'},
        ),
        "response.reasoning.delta": (
            "ResponseReasoningDeltaStreamingEvent",
            {**_part_fields(delta="hmm", obfuscation="q"), "item_id": "rs_1"},
        ),
        "response.reasoning.done": (
            "ResponseReasoningDoneStreamingEvent",
            {**_part_fields(text="hmm, ok"), "item_id": "rs_1"},
        ),
        "response.reasoning_summary_part.added": (
            "ResponseReasoningSummaryPartAddedStreamingEvent",
            _summary_fields(part={"type": "summary_text", "text": ""}),
        ),
        "response.reasoning_summary_part.done": (
            "ResponseReasoningSummaryPartDoneStreamingEvent",
            _summary_fields(part={"type": "summary_text", "text": "Summary"}),
        ),
        "response.reasoning_summary_text.delta": (
            "ResponseReasoningSummaryDeltaStreamingEvent",
            _summary_fields(delta="Sum", obfuscation="zz"),
        ),
        "response.reasoning_summary_text.done": (
            "ResponseReasoningSummaryDoneStreamingEvent",
            _summary_fields(text="Summary"),
        ),
        "error": (
            "ErrorStreamingEvent",
            {
                "error": {
                    "type": "server_error",
                    "code": None,
                    "message": "Something broke",
                    "param": None,
                    "headers": {"retry-after": "1"},
                }
            },
        ),
    }


def event(event_type: str, sequence_number: int = 7) -> dict[str, Any]:
    _, body = event_bodies()[event_type]
    return {"type": event_type, "sequence_number": sequence_number, **copy.deepcopy(body)}


def create_body() -> dict[str, Any]:
    """A spec-valid ``CreateResponseBody`` with every field set."""
    return {
        "model": "gpt-test",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in this image?"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,iVBORw0KGgo=",
                        "detail": "auto",
                    },
                    {"type": "input_file", "filename": "a.pdf", "file_data": "JVBERi0="},
                ],
            },
            {"type": "message", "role": "system", "content": "You are terse."},
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Use tools."}],
            },
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_0",
                "status": "completed",
                "phase": "commentary",
                "content": [output_text("Checking.", with_extras=True), {"type": "refusal", "refusal": "no"}],
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": "{}",
                "id": "fc_1",
                "status": "completed",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "18C", "status": "completed"},
            {
                "type": "function_call_output",
                "call_id": "call_2",
                "output": [
                    {"type": "input_text", "text": "see video"},
                    {"type": "input_video", "video_url": "https://example.com/v.mp4"},
                ],
            },
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "s"}],
                "encrypted_content": "enc",
                "content": None,
            },
            {"type": "compaction", "encrypted_content": "cmp", "id": "cmp_1"},
            {"id": "msg_00"},
            {"type": "item_reference", "id": "msg_01"},
        ],
        "previous_response_id": "resp_0",
        "include": ["reasoning.encrypted_content", "message.output_text.logprobs"],
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
                "strict": True,
            }
        ],
        "tool_choice": {
            "type": "allowed_tools",
            "tools": [{"type": "function", "name": "get_weather"}],
            "mode": "required",
        },
        "metadata": {"team": "search", "run": "42"},
        "text": {
            "format": {
                "type": "json_schema",
                "name": "answer",
                "description": "An answer",
                "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                "strict": True,
            },
            "verbosity": "low",
        },
        "temperature": 0.2,
        "top_p": 0.9,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.3,
        "parallel_tool_calls": False,
        "stream": True,
        "stream_options": {"include_obfuscation": False},
        "background": False,
        "max_output_tokens": 2048,
        "max_tool_calls": 3,
        "reasoning": {"effort": "xhigh", "summary": "detailed"},
        "safety_identifier": "user-1234",
        "prompt_cache_key": "cache-key",
        "truncation": "auto",
        "instructions": "Answer in French.",
        "store": False,
        "service_tier": "flex",
        "top_logprobs": 5,
    }


@pytest.fixture(scope="session")
def samples() -> SimpleNamespace:
    """Factories for spec-valid sample dicts (fresh copies on every call)."""
    return SimpleNamespace(
        usage=usage,
        logprob=logprob,
        output_text=output_text,
        message_item=message_item,
        function_call_item=function_call_item,
        function_call_output_item=function_call_output_item,
        reasoning_item=reasoning_item,
        compaction_item=compaction_item,
        output_items=OUTPUT_ITEM_SAMPLES,
        response=response,
        compact_response=compact_response,
        event_bodies=event_bodies,
        event=event,
        create_body=create_body,
    )
