"""Request encoding for Bedrock Converse: every mapped field, and a named error for the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openresponses import ConfigError, RequestValidationError
from openresponses._pipeline import Request
from openresponses.testing.bedrock import validation_problem
from openresponses.transports._bedrock_messages import reasoning_envelope
from openresponses.transports.bedrock import BedrockConverseDialect, bedrock_runtime_url
from openresponses.types import CreateResponseBody

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
PNG = "iVBORw0KGgo="
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}


def encode(
    dialect: BedrockConverseDialect | None = None, *, stream: bool = True, **body: Any
) -> dict[str, Any]:
    body.setdefault("model", CLAUDE)
    request = Request(body=CreateResponseBody(**body), stream=stream)
    data: dict[str, Any] = json.loads((dialect or BedrockConverseDialect(region="us-east-1")).encode(request))
    return data


def test_path_headers_and_the_model_in_the_path() -> None:
    dialect = BedrockConverseDialect(region="eu-west-1")
    arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-x"
    stream = Request(body=CreateResponseBody(model=arn, input="x"), stream=True)
    whole = Request(body=CreateResponseBody(model=CLAUDE, input="x"), stream=False)
    assert dialect.path(stream) == (
        "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-x"
        "/converse-stream"
    )
    assert dialect.path(whole) == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    assert dialect.headers(stream) == {"accept": "application/vnd.amazon.eventstream"}
    assert dialect.headers(whole) == {"accept": "application/json"}
    assert dialect.default_base_url == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    assert "modelId" not in encode(input="x")


def test_region_from_the_environment_and_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert BedrockConverseDialect().region == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    assert BedrockConverseDialect().region == "ap-southeast-2"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert BedrockConverseDialect().default_base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"
    assert bedrock_runtime_url(openai=True) == "https://bedrock-runtime.eu-central-1.amazonaws.com/openai/v1"
    with pytest.raises(ConfigError, match="not an AWS region"):
        BedrockConverseDialect(region="Europe")


def test_conversation_system_and_inference_config() -> None:
    sent = encode(
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Answer in French."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look:"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                ],
            },
            {"role": "assistant", "content": [{"type": "output_text", "text": "Une image."}]},
            {"role": "user", "content": "And this?"},
            {"role": "user", "content": [{"type": "input_image", "image_url": "s3://bucket/cat.jpeg"}]},
        ],
        max_output_tokens=300,
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
    )
    assert sent["system"] == [{"text": "Be brief."}, {"text": "Answer in French."}]
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [{"text": "Look:"}, {"image": {"format": "png", "source": {"bytes": PNG}}}],
        },
        {"role": "assistant", "content": [{"text": "Une image."}]},
        {
            "role": "user",
            "content": [
                {"text": "And this?"},
                {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.jpeg"}}}},
            ],
        },
    ]
    assert sent["inferenceConfig"] == {
        "maxTokens": 300,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    assert validation_problem(sent) is None


def test_tool_calls_results_and_reasoning_round_trip() -> None:
    signed = reasoning_envelope(text="I should look it up", signature="c2ln")
    redacted = reasoning_envelope(redacted="AAEC")
    sent = encode(
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "reasoning", "summary": [], "encrypted_content": signed},
            {"type": "reasoning", "summary": [], "encrypted_content": redacted},
            {
                "type": "reasoning",
                "summary": [],
                "encrypted_content": "gAAAA-openai-blob",
            },  # not ours: left out
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ""}]},
            {
                "type": "function_call",
                "call_id": "tooluse_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {"type": "function_call", "call_id": "tooluse_2", "name": "get_weather", "arguments": ""},
            {"type": "function_call_output", "call_id": "tooluse_1", "output": "18C"},
            {
                "type": "function_call_output",
                "call_id": "tooluse_2",
                "output": [{"type": "input_text", "text": "n/a"}],
            },
        ],
        tools=[WEATHER],
        tool_choice="auto",
    )
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [
            {"reasoningContent": {"reasoningText": {"text": "I should look it up", "signature": "c2ln"}}},
            {"reasoningContent": {"redactedContent": "AAEC"}},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "tooluse_2", "name": "get_weather", "input": {}}},
        ],
    }
    assert sent["messages"][2] == {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}]}},
            {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "n/a"}]}},
        ],
    }
    assert sent["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER["parameters"]}}}],
        "toolChoice": {"auto": {}},
    }
    assert validation_problem(sent) is None


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("required", {"any": {}}),
        ({"type": "function", "name": "get_weather"}, {"tool": {"name": "get_weather"}}),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
            {"any": {}},
        ),
    ],
)
def test_tool_choice(choice: Any, wire: dict[str, Any]) -> None:
    tools = [{**WEATHER, "description": "Weather", "strict": True}, {**WEATHER, "name": "other"}]
    sent = encode(input="x", tools=tools, tool_choice=choice)
    assert sent["toolConfig"]["toolChoice"] == wire
    first = sent["toolConfig"]["tools"][0]["toolSpec"]
    assert first["description"] == "Weather" and first["strict"] is True


def test_tool_choice_none_offers_no_tools() -> None:
    assert "toolConfig" not in encode(input="x", tools=[WEATHER], tool_choice="none")


def test_reasoning_budgets_per_model_family() -> None:
    claude = encode(input="x", reasoning={"effort": "high"})
    assert claude["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 16384}}
    assert claude["inferenceConfig"]["maxTokens"] == 16384 + 4096
    capped = encode(input="x", reasoning={"effort": "high"}, max_output_tokens=5000)
    assert capped["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 4999
    assert capped["inferenceConfig"]["maxTokens"] == 5000
    nova = encode(model="us.amazon.nova-2-lite-v1:0", input="x", reasoning={"effort": "xhigh"})
    assert nova["additionalModelRequestFields"] == {
        "reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}
    }
    oss = encode(model="openai.gpt-oss-120b-1:0", input="x", reasoning={"effort": "low"})
    assert oss["additionalModelRequestFields"] == {"reasoning_effort": "low"}
    assert "additionalModelRequestFields" not in encode(input="x", reasoning={"effort": "none"})
    custom = BedrockConverseDialect(region="us-east-1", reasoning_budgets={"low": 1024})
    low = encode(custom, input="x", reasoning={"effort": "low"})
    assert low["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 1024
    with pytest.raises(RequestValidationError, match="max_output_tokens 900"):
        encode(input="x", reasoning={"effort": "low"}, max_output_tokens=900)
    with pytest.raises(RequestValidationError, match=r"no known Converse mapping.*meta\.llama"):
        encode(model="meta.llama3-70b-instruct-v1:0", input="x", reasoning={"effort": "low"})


def test_dialect_options_are_sent() -> None:
    dialect = BedrockConverseDialect(
        region="us-east-1",
        additional_model_request_fields={"top_k": 40, "thinking": {"type": "disabled"}},
        guardrail_config={"guardrailIdentifier": "gr-1", "guardrailVersion": "1"},
    )
    sent = encode(dialect, input="x", reasoning={"effort": "low"}, service_tier="priority")
    assert sent["additionalModelRequestFields"]["top_k"] == 40
    assert sent["additionalModelRequestFields"]["thinking"]["type"] == "enabled"  # the translation wins
    assert sent["guardrailConfig"] == {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}
    assert sent["serviceTier"] == {"type": "priority"}
    with pytest.raises(ConfigError, match="reasoning_budgets"):
        BedrockConverseDialect(region="us-east-1", reasoning_budgets={"low": 10})


def test_json_schema_output() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    sent = encode(input="x", text={"format": {"type": "json_schema", "name": "out", "schema": schema}})
    structure = sent["outputConfig"]["textFormat"]
    assert structure["type"] == "json_schema"
    assert json.loads(structure["structure"]["jsonSchema"]["schema"]) == schema
    assert structure["structure"]["jsonSchema"]["name"] == "out"


def test_harmless_fields_are_accepted_and_not_sent() -> None:
    sent = encode(
        input="x",
        store=False,
        metadata={"a": "b"},
        include=["reasoning.encrypted_content"],
        prompt_cache_key="k",
        parallel_tool_calls=True,
        service_tier="auto",
    )
    assert set(sent) == {"messages"}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"previous_response_id": "resp_1"}, "'previous_response_id' needs a response store"),
        ({"background": True}, "field 'background' is not supported"),
        ({"presence_penalty": 0.5}, "no such inference parameter"),
        ({"top_logprobs": 2}, "'top_logprobs'"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls=false"),
        ({"tools": [{"type": "web_search"}]}, "tool type 'web_search'"),
        ({"tool_choice": "required"}, "needs at least one function tool"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}, "'nope' is not among"),
        ({"text": {"format": {"type": "json_object"}}}, "json_schema output only"),
        ({"text": {"verbosity": "low"}}, "text.verbosity"),
        ({"seed": 3}, "field 'seed'"),
        (
            {
                "input": [
                    {"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}
                ]
            },
            "cannot fetch http",
        ),
        (
            {
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": "data:image/bmp;base64,AA=="}],
                    }
                ]
            },
            "image/bmp",
        ),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{nope"}]},
            "not JSON",
        ),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]},
            "JSON object",
        ),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "'item_reference'"),
        ({"input": []}, "empty input"),
        ({"model": None}, "'model' is required"),
    ],
)
def test_what_converse_cannot_carry_is_named(body: dict[str, Any], match: str) -> None:
    body.setdefault("input", "x")
    with pytest.raises(RequestValidationError, match=match) as caught:
        encode(**body)
    assert str(caught.value).startswith("bedrock-converse adapter: ")


def test_tool_choice_none_with_tool_history_is_rejected() -> None:
    with pytest.raises(RequestValidationError, match="tool_choice 'none'"):
        encode(
            input=[
                {"role": "user", "content": "x"},
                {"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "y"},
            ],
            tools=[WEATHER],
            tool_choice="none",
        )


def test_documents_from_file_data() -> None:
    sent = encode(
        input=[
            {
                "role": "user",
                "content": [{"type": "input_file", "filename": "Q3 report (final).pdf", "file_data": PNG}],
            }
        ]
    )
    assert sent["messages"][0]["content"] == [
        {"document": {"format": "pdf", "name": "Q3 report (final)", "source": {"bytes": PNG}}}
    ]


def test_drop_unsupported() -> None:
    dialect = BedrockConverseDialect(region="us-east-1", drop_unsupported={"presence_penalty", "temperature"})
    sent = encode(dialect, input="x", presence_penalty=1.0, temperature=0.5)
    assert "inferenceConfig" not in sent
