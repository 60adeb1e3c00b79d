"""The Anthropic dialect's request side, sans I/O: Open Responses bodies in, Messages bodies out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openresponses import ConfigError, Provider, RequestValidationError
from openresponses._pipeline import Request
from openresponses._provider import dialect_for
from openresponses.transports._anthropic_messages import block_from_envelope, thinking_envelope
from openresponses.transports.anthropic import DEFAULT_ANTHROPIC_VERSION, AnthropicDialect
from openresponses.types import CompactResponseBody, CreateResponseBody

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
TOOL = {"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}


def encode(dialect: AnthropicDialect | None = None, *, stream: bool = False, **body: Any) -> dict[str, Any]:
    body.setdefault("model", "claude-sonnet-4-5")
    request = Request(body=CreateResponseBody.model_validate(body), stream=stream)
    encoded: dict[str, Any] = json.loads((dialect or AnthropicDialect()).encode(request))
    return encoded


def rejected(match: str, dialect: AnthropicDialect | None = None, **body: Any) -> RequestValidationError:
    with pytest.raises(RequestValidationError, match=match) as info:
        encode(dialect, **body)
    assert str(info.value).startswith("anthropic adapter: ")
    return info.value


# -- headers, path, registry ---------------------------------------------------------------------


def test_headers_path_and_auth() -> None:
    dialect = AnthropicDialect()
    request = Request(body=CreateResponseBody(model="m", input="hi"), stream=True)
    assert dialect.path(request) == "/messages"
    assert dialect.auth_headers("sk-ant-x") == {"x-api-key": "sk-ant-x"}
    assert (
        dialect.headers(request)
        == {"anthropic-version": DEFAULT_ANTHROPIC_VERSION}
        == {"anthropic-version": "2023-06-01"}
    )
    custom = AnthropicDialect(version="2024-01-01", betas=["context-1m-2025-08-07", "x-2"], auth="bearer")
    assert custom.headers(request) == {
        "anthropic-version": "2024-01-01",
        "anthropic-beta": "context-1m-2025-08-07,x-2",
    }
    assert custom.auth_headers("tok") == {"authorization": "Bearer tok"}


def test_registry_defaults_and_bad_options() -> None:
    dialect = dialect_for("anthropic", max_tokens=1024)
    assert isinstance(dialect, AnthropicDialect) and dialect.request_options.max_tokens == 1024
    assert dialect.default_base_url == "https://api.anthropic.com/v1"
    assert dialect.gen_ai_provider_name == "anthropic" and "request-id" in dialect.request_id_headers
    provider = Provider("claude", adapter="anthropic", api_key="sk-ant-SECRET-123456")
    assert provider.base_url == "https://api.anthropic.com/v1"
    assert "SECRET" not in repr(provider) and "SECRET" not in repr(provider.transport)
    with pytest.raises(ConfigError, match="unexpected keyword"):
        dialect_for("anthropic", max_token=5)
    for bad in (
        {"version": "latest"},
        {"auth": "basic"},
        {"thinking": "always"},
        {"thinking_text": "full"},
        {"max_tokens": 0},
        {"thinking_budgets": {"medium": 10}},
        {"thinking_budgets": {"huge": 5000}},
        {"betas": "one-beta"},
        {"extra_body": {"x": object()}},
    ):
        with pytest.raises(ValueError, match="AnthropicDialect"):
            AnthropicDialect(**bad)


# -- the conversation ------------------------------------------------------------------------------


def test_minimal_body_has_model_max_tokens_and_messages() -> None:
    assert encode(input="Hi") == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 8192,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    assert encode(input="Hi", stream=True)["stream"] is True
    assert encode(input="Hi", max_output_tokens=300)["max_tokens"] == 300
    assert encode(AnthropicDialect(max_tokens=4096), input="Hi")["max_tokens"] == 4096


def test_system_from_instructions_and_system_and_developer_messages() -> None:
    sent = encode(
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": [{"type": "input_text", "text": "No emoji."}]},
        ],
    )
    assert sent["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Answer in French."},
        {"type": "text", "text": "No emoji."},
    ]
    assert sent["messages"] == [{"role": "user", "content": "Hi"}]


def test_images_and_documents() -> None:
    content = [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "high"},
        {"type": "input_image", "image_url": "https://example.com/cat.jpg"},
        {"type": "input_file", "file_url": "https://example.com/a.pdf", "filename": "a.pdf"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0x"},
        {"type": "input_file", "file_data": "data:text/plain;base64,aGVsbG8="},
    ]
    blocks = encode(input=[{"role": "user", "content": content}])["messages"][0]["content"]
    assert blocks == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}, "title": "a.pdf"},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}},
    ]


@pytest.mark.parametrize(
    ("part", "match"),
    [
        ({"type": "input_image", "file_id": "file-1"}, "without image_url"),
        ({"type": "input_image", "image_url": "data:image/bmp;base64,AAAA"}, "image type 'image/bmp'"),
        ({"type": "input_image", "image_url": "data:image/png;base64,@@@"}, "not valid base64"),
        ({"type": "input_image", "image_url": "ftp://x/y.png"}, "base64 data: URL or an https URL"),
        ({"type": "input_file", "file_id": "file-1"}, "without file_data or file_url"),
        (
            {"type": "input_file", "file_data": "data:application/zip;base64,AAAA"},
            "file type 'application/zip'",
        ),
        ({"type": "input_video", "video_url": "https://x/v.mp4"}, "content part 'input_video'"),
    ],
)
def test_unsupported_user_parts(part: dict[str, Any], match: str) -> None:
    error = rejected(match, input=[{"role": "user", "content": [part]}])
    assert error.errors[0]["loc"] == ("input", 0, "content", 0)


def test_tool_loop_turns_become_tool_use_and_tool_result_blocks() -> None:
    envelope = thinking_envelope({"type": "thinking", "thinking": "Need weather", "signature": "sig-1"})
    sent = encode(
        input=[
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "Need weather"}],
                "encrypted_content": envelope,
            },
            {
                "type": "reasoning",
                "summary": [],
                "encrypted_content": "gAAAA-openai-blob",
            },  # another provider's
            {"role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            {
                "type": "function_call",
                "call_id": "toolu_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {"type": "function_call", "call_id": "toolu_2", "name": "get_weather", "arguments": ""},
            {"role": "user", "content": "Be quick."},  # between the calls and their outputs
            {"type": "function_call_output", "call_id": "toolu_2", "output": "sunny"},
            {
                "type": "function_call_output",
                "call_id": "toolu_1",
                "output": [
                    {"type": "input_text", "text": "rain"},
                    {"type": "input_image", "image_url": "https://x/m.png"},
                ],
            },
        ],
        tools=[TOOL],
    )
    assert sent["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Need weather", "signature": "sig-1"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {"type": "text", "text": "rain"},
                        {"type": "image", "source": {"type": "url", "url": "https://x/m.png"}},
                    ],
                },
                {"type": "text", "text": "Be quick."},
            ],
        },
    ]
    assert sent["tools"] == [
        {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
    ]


def test_redacted_thinking_goes_back_unchanged() -> None:
    block = {"type": "redacted_thinking", "data": "EmwKAhgB..."}
    envelope = thinking_envelope(block)
    assert block_from_envelope(envelope) == block
    assert block_from_envelope("not ours") is None and block_from_envelope('{"type":"other"}') is None
    sent = encode(
        input=[
            {"role": "user", "content": "Hi"},
            {"type": "reasoning", "summary": [], "encrypted_content": envelope},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ]
    )
    assert sent["messages"][1] == {"role": "assistant", "content": [block, {"type": "text", "text": "Hello"}]}


@pytest.mark.parametrize(
    ("items", "match"),
    [
        (
            [{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}],
            "has no function_call_output",
        ),
        (
            [{"type": "function_call_output", "call_id": "c9", "output": "x"}],
            "has no function_call before it",
        ),
        ([{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "[1]"}], "not a JSON object"),
        ([{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{oops"}], "not JSON"),
        ([{"type": "item_reference", "id": "msg_1"}], "item_reference"),
        ([{"type": "compaction", "encrypted_content": "x"}], "compaction"),
        ([{"role": "user", "content": ""}], "without content"),
        ([], "an empty input"),
    ],
)
def test_conversations_anthropic_cannot_take(items: list[dict[str, Any]], match: str) -> None:
    rejected(match, input=items)


# -- tools and options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", None, {"type": "any"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "name": "get_weather"},
            False,
            {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        ),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"input": "Hi", "tools": [TOOL, {**TOOL, "name": "get_time", "strict": True}]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    sent = encode(**body)
    assert sent.get("tool_choice") == expected
    assert sent["tools"][1] == {
        "name": "get_time",
        "description": "Weather",
        "input_schema": {"type": "object"},
        "strict": True,
    }


def test_allowed_tools_sends_only_those() -> None:
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "get_time"}],
    }
    sent = encode(input="Hi", tools=[TOOL, {**TOOL, "name": "get_time"}], tool_choice=choice)
    assert [tool["name"] for tool in sent["tools"]] == ["get_time"] and sent["tool_choice"] == {"type": "any"}
    sent = encode(input="Hi", tools=[{"type": "function", "name": "bare"}])
    assert sent["tools"] == [{"name": "bare", "input_schema": {"type": "object", "properties": {}}}]


def test_sampling_stop_sequences_metadata_and_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    sent = encode(
        input="Hi",
        temperature=0.2,
        top_p=0.9,
        stop=["END", "STOP"],
        top_k=40,
        safety_identifier="user-42",
        text={"format": {"type": "json_schema", "name": "out", "schema": schema}, "verbosity": "medium"},
        store=False,
        metadata={"k": "v"},
        prompt_cache_key="cache-1",
    )
    assert sent["temperature"] == 0.2 and sent["top_p"] == 0.9 and sent["top_k"] == 40
    assert sent["stop_sequences"] == ["END", "STOP"]
    assert sent["metadata"] == {"user_id": "user-42"}
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "store" not in sent and "prompt_cache_key" not in sent
    assert encode(input="Hi", stop="END")["stop_sequences"] == ["END"]
    extra = AnthropicDialect(extra_body={"service_tier": "standard_only", "max_tokens": 1})
    assert encode(extra, input="Hi")["service_tier"] == "standard_only"
    assert encode(extra, input="Hi")["max_tokens"] == 8192  # the translation wins


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"previous_response_id": "resp_1"}, "needs a response store"),
        ({"background": True}, "'background'"),
        ({"max_tool_calls": 2}, "'max_tool_calls'"),
        ({"top_logprobs": 3}, "no logprobs"),
        ({"presence_penalty": 0.5}, "no penalties"),
        ({"temperature": 1.5}, "Anthropic takes 0 to 1"),
        ({"tools": [{"type": "web_search"}]}, "only function tools"),
        ({"tool_choice": "required"}, "needs at least one function tool"),
        ({"tools": [TOOL], "tool_choice": {"type": "function", "name": "nope"}}, "is not among the tools"),
        ({"text": {"format": {"type": "json_object"}}}, "use json_schema"),
        ({"text": {"verbosity": "low"}}, "no verbosity"),
        ({"stop": [1, 2]}, "'stop'"),
        ({"top_k": 0}, "'top_k'"),
        ({"seed": 4}, "field 'seed'"),
        ({"reasoning": {"effort": "low", "mode": "fast"}}, "reasoning.mode"),
        ({"reasoning": {"budget_tokens": 100}}, "at least 1024"),
        ({"model": None}, "requires one"),
    ],
)
def test_fields_anthropic_cannot_carry(body: dict[str, Any], match: str) -> None:
    body = {"input": "Hi", **body}
    if body.get("model", "x") is None:
        del body["model"]
        with pytest.raises(RequestValidationError, match=match):
            AnthropicDialect().encode(Request(body=CreateResponseBody(input="Hi"), stream=False))
        return
    rejected(match, **body)


def test_compact_is_rejected() -> None:
    request = Request(body=CompactResponseBody(model="m", input="x"), stream=False, operation="compact")
    with pytest.raises(RequestValidationError, match="compact"):
        AnthropicDialect().encode(request)


# -- reasoning -> thinking -------------------------------------------------------------------------


def test_effort_becomes_a_thinking_budget_with_room_for_the_answer() -> None:
    sent = encode(input="Hi", reasoning={"effort": "medium", "summary": "auto"})
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert sent["max_tokens"] == 8192 + 8192
    assert "thinking" not in encode(input="Hi", reasoning={"effort": "none"})
    assert "thinking" not in encode(input="Hi", reasoning={"summary": "detailed"})
    # A budget for one request, and a budget capped below an explicit max_output_tokens.
    sent = encode(input="Hi", reasoning={"budget_tokens": 3000})
    assert (
        sent["thinking"] == {"type": "enabled", "budget_tokens": 3000} and sent["max_tokens"] == 8192 + 3000
    )
    sent = encode(input="Hi", reasoning={"effort": "high"}, max_output_tokens=4000)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 3999} and sent["max_tokens"] == 4000
    custom = AnthropicDialect(thinking_budgets={"low": 1500})
    assert encode(custom, input="Hi", reasoning={"effort": "low"})["thinking"]["budget_tokens"] == 1500


def test_adaptive_thinking_sends_effort() -> None:
    dialect = AnthropicDialect(thinking="adaptive")
    sent = encode(dialect, input="Hi", reasoning={"effort": "xhigh"})
    assert sent["thinking"] == {"type": "adaptive"} and sent["output_config"] == {"effort": "max"}
    assert sent["max_tokens"] == 8192


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"max_output_tokens": 1000}, "leaves no room for extended thinking"),
        ({"temperature": 0.5}, "only 1 is allowed"),
        ({"top_p": 0.5}, "top_p below 0.95"),
        ({"top_k": 5}, "'top_k' cannot be combined"),
        ({"tools": [TOOL], "tool_choice": "required"}, "Anthropic allows only auto or none"),
    ],
)
def test_thinking_conflicts_are_named(body: dict[str, Any], match: str) -> None:
    rejected(match, input="Hi", reasoning={"effort": "low"}, **body)
    assert encode(input="Hi", reasoning={"effort": "low"}, temperature=1, top_p=0.97)["temperature"] == 1
