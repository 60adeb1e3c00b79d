"""A key no Open Responses model has, nested in an item, a content part, a tool or the text
format, is refused by every translating adapter, naming its path, before anything is sent; the
keys a response's output carries when it is sent back as input are accepted."""

from __future__ import annotations

from typing import Any

import pytest

from openresponses import RequestValidationError
from openresponses.transports._anthropic_request import anthropic_request_body
from openresponses.transports._bedrock_request import ConverseRequestOptions, converse_request_body
from openresponses.transports._chat_request import chat_request_body
from openresponses.transports._gemini_request import gemini_request_body
from openresponses.types import CreateResponseBody

TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}


def chat(body: dict[str, Any]) -> dict[str, Any]:
    return chat_request_body(CreateResponseBody.model_validate({"model": "m", **body}), stream=False)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (
            {"input": [{"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "hi", "cache_control": {"type": "ephemeral"}}
            ]}]},
            ("input", 0, "content", 0, "cache_control"),
        ),
        (
            {"input": [{"type": "message", "role": "user", "content": "hi", "nmae": "x"}]},
            ("input", 0, "nmae"),
        ),
        (
            {"input": "hi", "tools": [TOOL, {**TOOL, "name": "b", "cache_control": {}}]},
            ("tools", 1, "cache_control"),
        ),
        (
            {"input": "hi", "text": {"format": {"type": "json_object", "strcit": 1}}},
            ("text", "format", "strcit"),
        ),
        (
            {
                "input": [
                    {"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "c", "output": "1", "is_error": True},
                ],
                "tools": [TOOL],
            },
            ("input", 1, "is_error"),
        ),
    ],
)  # fmt: skip
def test_an_unknown_nested_key_is_refused_naming_its_path(
    body: dict[str, Any], path: tuple[Any, ...]
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        chat(body)
    dotted = ".".join(str(part) for part in path)
    assert f"field '{dotted}' is not supported" in str(caught.value)
    assert caught.value.errors[0]["loc"] == path


@pytest.mark.parametrize(
    "translate",
    [
        lambda b: anthropic_request_body(b, stream=False),
        lambda b: gemini_request_body(b),
        lambda b: converse_request_body(b, options=ConverseRequestOptions()),
    ],
    ids=["anthropic", "gemini", "bedrock"],
)
def test_every_translating_adapter_refuses_it(translate: Any) -> None:
    body = CreateResponseBody.model_validate(
        {
            "model": "m",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "q", "x_vendor": 1}]}],
        }
    )
    with pytest.raises(RequestValidationError, match=r"'input\.0\.content\.0\.x_vendor' is not supported"):
        translate(body)


def test_a_null_unknown_key_counts_as_absent() -> None:
    out = chat({"input": [{"type": "message", "role": "user", "content": "hi", "name": None}]})
    assert out["messages"] == [{"role": "user", "content": "hi"}]


def test_a_whole_output_sent_back_as_input_is_accepted() -> None:
    # What OpenAI's API returns, as `input += response.output` sends it back.
    output = [
        {
            "type": "reasoning",
            "id": "rs_1",
            "status": "completed",
            "summary": [{"type": "summary_text", "text": "thinking"}],
            "encrypted_content": None,
        },
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "phase": "final_answer",
            "content": [{"type": "output_text", "text": "Let me look.", "annotations": [], "logprobs": []}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{}",
            # The Gemini adapter's thought-signature carrier: another upstream ignores it.
            "encrypted_content": '{"type": "gemini_signature", "signature": "c2ln"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]
    out = chat({"input": [{"role": "user", "content": "weather?"}, *output], "tools": [TOOL]})
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "tool"]
    assert out["messages"][1]["tool_calls"][0]["id"] == "call_1"


def test_keys_sent_back_are_accepted_on_items_only() -> None:
    # `status` is an item's bookkeeping; on a content part it is no field of anything.
    with pytest.raises(RequestValidationError, match=r"'input\.0\.content\.0\.status'"):
        chat({"input": [{"role": "user", "content": [{"type": "input_text", "text": "q", "status": "x"}]}]})


def test_encrypted_content_is_accepted_on_a_function_call_only() -> None:
    with pytest.raises(RequestValidationError, match=r"'input\.0\.encrypted_content'"):
        chat({"input": [{"type": "message", "role": "user", "content": "q", "encrypted_content": "x"}]})
