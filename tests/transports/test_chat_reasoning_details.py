"""OpenRouter's ``reasoning_details`` round trip (PROVIDERS.md trap 4): with
``send_reasoning="reasoning_details"`` the entries come back on the assistant turn exactly as
they were streamed (fragments merged by index, signatures and encrypted blocks kept), which
Claude and Gemini models behind OpenRouter need across tool turns."""

from __future__ import annotations

from typing import Any

from openresponses.store import output_to_input
from openresponses.transports._chat_messages import details_from_envelope
from openresponses.transports._chat_request import chat_request_body
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.types import CreateResponseBody, Response

from .conftest import delta_stream, final_response

TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}


def frames(*deltas: dict[str, Any], finish: str = "tool_calls") -> bytes:
    return delta_stream(*deltas, model="anthropic/claude", finish=finish)


STREAM = frames(
    {"role": "assistant", "reasoning": "Let me ", "reasoning_details": [
        {"type": "reasoning.text", "text": "Let me ", "format": "anthropic-claude-v1", "index": 0}]},
    {"reasoning": "think.", "reasoning_details": [{"type": "reasoning.text", "text": "think.", "index": 0}]},
    {"reasoning_details": [{"type": "reasoning.text", "signature": "c2lnbmF0dXJl", "index": 0}]},
    {"reasoning_details": [{"type": "reasoning.encrypted", "data": "RU5DUllQVEVE", "index": 1}]},
    {"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{}"}}]},
)  # fmt: skip
MERGED = [
    {
        "type": "reasoning.text",
        "text": "Let me think.",
        "format": "anthropic-claude-v1",
        "index": 0,
        "signature": "c2lnbmF0dXJl",
    },
    {"type": "reasoning.encrypted", "data": "RU5DUllQVEVE", "index": 1},
]


def decode(data: bytes, send_reasoning: str) -> Response:
    dialect = ChatCompletionsDialect(send_reasoning=send_reasoning)  # type: ignore[arg-type]
    body = CreateResponseBody.model_validate({"model": "m", "input": "q", "tools": [TOOL]})
    return final_response(data, dialect, body)


def test_the_entries_are_kept_whole_in_the_reasoning_item() -> None:
    response = decode(STREAM, "reasoning_details")
    reasoning, call = response.output
    assert reasoning.type == "reasoning" and call.type == "function_call"
    assert reasoning.content[0].text == "Let me think."  # type: ignore[union-attr, index]
    assert details_from_envelope(reasoning.encrypted_content) == MERGED  # type: ignore[union-attr]


def test_they_go_back_unchanged_on_the_assistant_tool_turn() -> None:
    response = decode(STREAM, "reasoning_details")
    items = [output_to_input(item.to_dict()) for item in response.output]  # raw content: null on input
    history = [
        {"role": "user", "content": "q"},
        *items,
        {"type": "function_call_output", "call_id": "toolu_1", "output": "18C"},
    ]
    body = CreateResponseBody.model_validate({"model": "m", "input": history, "tools": [TOOL]})
    options = ChatCompletionsDialect(send_reasoning="reasoning_details").request_options
    messages = chat_request_body(body, stream=False, options=options)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["reasoning_details"] == MERGED
    assert "reasoning" not in messages[1] and messages[1]["tool_calls"][0]["id"] == "toolu_1"


def test_reasoning_without_entries_goes_back_as_its_plain_text_field() -> None:
    history = [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Thought."}]},
        {"role": "assistant", "content": "A."},
    ]
    body = CreateResponseBody.model_validate({"model": "m", "input": history})
    options = ChatCompletionsDialect(send_reasoning="reasoning_details").request_options
    messages = chat_request_body(body, stream=False, options=options)["messages"]
    assert messages[1] == {"role": "assistant", "content": "A.", "reasoning": "Thought."}


def test_without_the_option_an_encrypted_block_stays_the_items_blob() -> None:
    response = decode(STREAM, "drop")
    reasoning = response.output[0]
    assert reasoning.encrypted_content == "RU5DUllQVEVE"  # type: ignore[union-attr]
    assert details_from_envelope(reasoning.encrypted_content) is None  # type: ignore[union-attr]


def test_a_redacted_block_alone_is_still_carried() -> None:
    data = frames(
        {
            "role": "assistant",
            "reasoning_details": [{"type": "reasoning.encrypted", "data": "QQ==", "index": 0}],
        },
        {"content": "Done."},
        finish="stop",
    )
    reasoning, message = decode(data, "reasoning_details").output
    assert details_from_envelope(reasoning.encrypted_content) == [  # type: ignore[union-attr]
        {"type": "reasoning.encrypted", "data": "QQ==", "index": 0}
    ]
    assert message.type == "message"
