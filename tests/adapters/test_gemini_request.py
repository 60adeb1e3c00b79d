"""The Gemini dialects' request side, sans I/O: paths, auth headers, the camelCase body, the
contents turns, thought signatures echoed, call ids mapped, and every field Gemini cannot carry
rejected with a RequestValidationError naming it before anything is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from openresponses import ConfigError, Provider, RequestValidationError
from openresponses._pipeline import Request
from openresponses._provider import dialect_for
from openresponses.transports._gemini_contents import SKIP_SIGNATURE, parse_envelope, signature_envelope
from openresponses.transports.gemini import GEMINI_BASE_URL, GeminiDialect, VertexDialect
from openresponses.types import CompactResponseBody, CreateResponseBody

CORE_ONLY = Path(__file__).resolve().parents[1] / "cli" / "core_only"


def request(stream: bool = True, **body: Any) -> Request:
    body.setdefault("model", "gemini-2.5-flash")
    return Request(CreateResponseBody.model_validate(body), stream=stream)


def encode(dialect: GeminiDialect | None = None, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((dialect or GeminiDialect()).encode(request(**body)))
    return result


def call_env(signature: str | None = None, gemini_id: str | None = None) -> str:
    return signature_envelope("call", signature, call_id=gemini_id)


# -- paths, headers, adapter plumbing -------------------------------------------------------------


def test_gemini_paths_and_key_header() -> None:
    dialect = GeminiDialect()
    assert dialect.path(request()) == "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert dialect.path(request(stream=False)) == "/models/gemini-2.5-flash:generateContent"
    assert dialect.path(request(model="models/gemini-3-pro-preview")) == (
        "/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
    )
    assert dialect.path(request(model="tunedModels/my-tune-1", stream=False)) == (
        "/tunedModels/my-tune-1:generateContent"
    )
    assert dialect.auth_headers("AIza-key") == {"x-goog-api-key": "AIza-key"}
    assert dialect.default_base_url == GEMINI_BASE_URL == "https://generativelanguage.googleapis.com/v1beta"
    assert (dialect.name, dialect.gen_ai_provider_name) == ("gemini", "gcp.gemini")


@pytest.mark.parametrize("model", ["gemini?key=x", "../admin", "a b", "models/../x", "gemini:generate"])
def test_model_names_that_would_bend_the_url_are_rejected(model: str) -> None:
    with pytest.raises(RequestValidationError, match="not a valid Gemini model name"):
        GeminiDialect().path(request(model=model))


def test_model_is_required_and_compact_unsupported() -> None:
    with pytest.raises(RequestValidationError, match="field 'model' is required"):
        GeminiDialect().encode(Request(CreateResponseBody.model_validate({"input": "x"}), stream=True))
    compact = Request(CompactResponseBody.model_validate({"model": "m", "input": "x"}), operation="compact")
    with pytest.raises(RequestValidationError, match="compact is not supported"):
        GeminiDialect().encode(compact)


def test_vertex_urls_regional_and_global(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_LOCATION", raising=False)
    regional = VertexDialect(project="my-proj", location="europe-west4")
    assert regional.default_base_url == "https://europe-west4-aiplatform.googleapis.com/v1"
    assert regional.path(request(model="gemini-2.5-pro")) == (
        "/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro"
        ":streamGenerateContent?alt=sse"
    )
    assert regional.path(request(model="publishers/google/models/gemini-2.5-pro", stream=False)).endswith(
        "/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent"
    )
    tuned = "projects/other/locations/us-central1/endpoints/1234"
    assert regional.path(request(model=tuned, stream=False)) == f"/{tuned}:generateContent"
    glob = VertexDialect(project="my-proj")
    assert glob.location == "global" and glob.default_base_url == "https://aiplatform.googleapis.com/v1"
    assert (glob.name, glob.gen_ai_provider_name) == ("vertex", "gcp.vertex_ai")
    assert "my-proj" in repr(glob) and "ADC" in repr(glob)


def test_vertex_reads_the_documented_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-east5")
    dialect = dialect_for("vertex")
    assert isinstance(dialect, VertexDialect)
    assert (dialect.project, dialect.location) == ("env-proj", "us-east5")
    provider = Provider("v", adapter="vertex")
    assert provider.base_url == "https://us-east5-aiplatform.googleapis.com/v1"


def test_vertex_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(ConfigError, match="GOOGLE_CLOUD_PROJECT"):
        VertexDialect()
    with pytest.raises(ConfigError, match="not a Vertex AI location"):
        VertexDialect(project="p-1234", location="us-central1/../x")
    with pytest.raises(ConfigError, match="not a Google Cloud project id"):
        VertexDialect(project="Bad Project")
    with pytest.raises(ConfigError, match="credentials or token_provider"):
        VertexDialect(project="p-1234", credentials=object(), token_provider=lambda: "t")


def test_provider_defaults_to_the_public_endpoint() -> None:
    provider = Provider("g", adapter="gemini", api_key="AIza-test")
    assert provider.base_url == GEMINI_BASE_URL and provider.adapter == "gemini"


def test_dialect_options_are_checked() -> None:
    with pytest.raises(ValueError, match="thinking_style"):
        GeminiDialect(thinking_style="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="schema_field"):
        GeminiDialect(schema_field="xml")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unexpected keyword"):
        dialect_for("gemini", reasoning_field="auto")


# -- the body -------------------------------------------------------------------------------------


def test_camel_case_body_with_generation_config() -> None:
    body = encode(
        input="Hi",
        instructions="Be brief.",
        temperature=0.3,
        top_p=0.9,
        max_output_tokens=256,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        stop=["END"],
        seed=7,
        top_k=40,
        text={"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}},
    )
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "temperature": 0.3,
            "topP": 0.9,
            "presencePenalty": 0.1,
            "frequencyPenalty": 0.2,
            "maxOutputTokens": 256,
            "stopSequences": ["END"],
            "seed": 7,
            "topK": 40,
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object"},
        },
    }
    assert "model" not in body and "stream" not in body  # both are in the URL


def test_json_object_and_openapi_schema_style() -> None:
    assert encode(text={"format": {"type": "json_object"}})["generationConfig"] == {
        "responseMimeType": "application/json"
    }
    old = GeminiDialect(schema_field="openapi")
    body = encode(
        old,
        text={"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}},
        tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}}],
    )
    assert body["generationConfig"]["responseSchema"] == {"type": "object"}
    assert body["tools"] == [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}]


@pytest.mark.parametrize(
    ("model", "effort", "expected"),
    [
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024}),
        ("gemini-2.5-pro", "high", {"thinkingBudget": 24576}),
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
        ("gemini-3-pro-preview", "high", {"thinkingLevel": "high"}),
        ("models/gemini-3-flash-preview", "medium", {"thinkingLevel": "medium"}),
        ("gemini-3-flash-preview", "none", {"thinkingLevel": "minimal"}),
    ],
)
def test_reasoning_effort_to_thinking_config(model: str, effort: str, expected: dict[str, Any]) -> None:
    body = encode(model=model, reasoning={"effort": effort})
    assert body["generationConfig"]["thinkingConfig"] == expected


def test_reasoning_summary_asks_for_thoughts_and_styles_can_be_forced() -> None:
    body = encode(reasoning={"summary": "auto"})
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True}
    forced = encode(GeminiDialect(thinking_style="level"), reasoning={"effort": "low"})
    assert forced["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "low"}
    budget = encode(GeminiDialect(thinking_style="budget"), model="gemini-3-pro", reasoning={"effort": "low"})
    assert budget["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024}


TOOLS = [
    {"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
    {"type": "function", "name": "get_time", "parameters": {"type": "object"}, "strict": True},
]


@pytest.mark.parametrize(
    ("choice", "config", "names"),
    [
        ("auto", None, ["get_weather", "get_time"]),
        ("none", {"mode": "NONE"}, ["get_weather", "get_time"]),
        ("required", {"mode": "ANY"}, ["get_weather", "get_time"]),
        (
            {"type": "function", "name": "get_time"},
            {"mode": "ANY", "allowedFunctionNames": ["get_time"]},
            ["get_weather", "get_time"],
        ),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_time"}],
            },
            {"mode": "ANY", "allowedFunctionNames": ["get_time"]},
            ["get_weather", "get_time"],
        ),
        (
            {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]},
            None,
            ["get_weather"],
        ),
    ],
)
def test_tools_and_tool_choice(choice: Any, config: dict[str, Any] | None, names: list[str]) -> None:
    body = encode(input="x", tools=TOOLS, tool_choice=choice)
    declarations = body["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == names
    assert declarations[0].get("parametersJsonSchema") == {"type": "object"}
    assert "strict" not in json.dumps(declarations)
    if config is None:
        assert "toolConfig" not in body
    else:
        assert body["toolConfig"] == {"functionCallingConfig": config}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"background": True}, "'background'"),
        ({"previous_response_id": "resp_1"}, "'previous_response_id'"),
        ({"max_tool_calls": 3}, "'max_tool_calls'"),
        ({"top_logprobs": 3}, "'top_logprobs'"),
        ({"tools": [{"type": "web_search"}]}, "tool type 'web_search'"),
        ({"tool_choice": "required"}, "tool_choice 'required'"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "name": "nope"}}, "'nope'"),
        ({"text": {"verbosity": "low"}}, "'text.verbosity'"),
        ({"text": {"format": {"type": "grammar"}}}, "text.format type 'grammar'"),
        ({"reasoning": {"effort": "low", "budget": 9}}, "'reasoning.budget'"),
        ({"logit_bias": {"1": 2}}, "'logit_bias'"),
        ({"stop": ["a", "b", "c", "d", "e", "f"]}, "'stop'"),
        ({"seed": "7"}, "'seed'"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "'item_reference'"),
        ({"input": [{"type": "compaction", "encrypted_content": "x"}]}, "'compaction'"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/img"}]}]},
            "no recognisable file type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
            "input_file",
        ),
    ],
)
def test_what_gemini_cannot_carry_is_rejected_by_name(body: dict[str, Any], field: str) -> None:
    body.setdefault("input", "x")
    with pytest.raises(RequestValidationError, match=f"gemini adapter: .*{field}") as caught:
        encode(**body)
    assert caught.value.errors and caught.value.errors[0]["type"] in ("unsupported", "type_error")


def test_harmless_client_fields_are_accepted_not_forwarded() -> None:
    body = encode(input="x", store=False, metadata={"a": "b"}, include=["reasoning.encrypted_content"],
                  prompt_cache_key="k", safety_identifier="u", service_tier="auto", truncation="disabled",
                  parallel_tool_calls=True)  # fmt: skip
    assert body == {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}


# -- contents ---------------------------------------------------------------------------------------


def test_roles_system_messages_and_media() -> None:
    body = encode(
        instructions="Rules.",
        input=[
            {"role": "developer", "content": "Dev note."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look:"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
                    {"type": "input_image", "image_url": "gs://bucket/cat.jpg"},
                    {"type": "input_file", "filename": "doc.pdf", "file_data": "JVBERi0="},
                ],
            },
            {"role": "assistant", "content": [{"type": "output_text", "text": "A cat."}]},
            {"role": "system", "content": "Late system text."},
            {"role": "user", "content": "Thanks"},
        ],
    )
    assert body["systemInstruction"] == {
        "parts": [{"text": "Rules."}, {"text": "Dev note."}, {"text": "Late system text."}]
    }
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Look:"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.jpg"}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
            ],
        },
        {"role": "model", "parts": [{"text": "A cat."}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]


def test_empty_input_still_sends_a_user_turn() -> None:
    assert encode(input=[])["contents"] == [{"role": "user", "parts": [{"text": ""}]}]


def test_function_calls_and_outputs_by_name_and_order_with_signatures() -> None:
    body = encode(
        input=[
            {"role": "user", "content": "Weather and time?"},
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "Two lookups."}],
                "encrypted_content": signature_envelope("thought", "U0lHLXRob3VnaHQ="),
            },
            {
                "type": "function_call",
                "call_id": "call_a",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
                "encrypted_content": call_env("U0lHLWNhbGw="),
            },
            {"type": "function_call", "call_id": "call_b", "name": "get_time", "arguments": ""},
            # Answered out of order: Gemini matches by order, so they are put back in call order.
            {"type": "function_call_output", "call_id": "call_b", "output": "12:00"},
            {"type": "function_call_output", "call_id": "call_a", "output": '{"temp": 21}'},
        ]
    )
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather and time?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Two lookups.", "thought": True, "thoughtSignature": "U0lHLXRob3VnaHQ="},
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "U0lHLWNhbGw=",
                },
                {"functionCall": {"name": "get_time", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}},
            ],
        },
    ]


def test_gemini_call_ids_go_back_and_minted_ones_do_not() -> None:
    body = encode(
        input=[
            {"role": "user", "content": "x"},
            {"type": "function_call", "call_id": "fc-7", "name": "f", "arguments": "{}",
             "encrypted_content": call_env("c2ln", gemini_id="fc-7")},
            {"type": "function_call_output", "call_id": "fc-7", "output": "[1, 2]"},
        ]
    )  # fmt: skip
    model, answer = body["contents"][1], body["contents"][2]
    assert model["parts"][0]["functionCall"] == {"name": "f", "args": {}, "id": "fc-7"}
    assert answer["parts"][0]["functionResponse"] == {
        "name": "f",
        "response": {"output": [1, 2]},
        "id": "fc-7",
    }


def test_foreign_calls_get_the_documented_skip_signature() -> None:
    items = [
        {"role": "user", "content": "x"},
        # Produced by another vendor (an Anthropic-style opaque blob is not ours: never sent).
        {"type": "function_call", "call_id": "toolu_1", "name": "f", "arguments": "{}",
         "encrypted_content": "EqQBCkgIAR"},
        {"type": "function_call", "call_id": "toolu_2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "a"},
        {"type": "function_call_output", "call_id": "toolu_2", "output": "b"},
    ]  # fmt: skip
    parts = encode(input=items)["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == SKIP_SIGNATURE == "skip_thought_signature_validator"
    assert "thoughtSignature" not in parts[1]  # only the first call of a step is signed
    unsigned = encode(GeminiDialect(foreign_signature=None), input=items)["contents"][1]["parts"]
    assert all("thoughtSignature" not in part for part in unsigned)


def test_text_signature_goes_back_on_the_text_and_foreign_reasoning_is_dropped() -> None:
    body = encode(
        input=[
            {"role": "user", "content": "x"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Claude thought"}],
             "encrypted_content": "ErUBCkYIBxgCKkD"},
            {"role": "assistant", "content": "Answer."},
            {"type": "reasoning", "summary": [], "encrypted_content": signature_envelope("text", "dGV4dA==")},
            {"role": "user", "content": "More"},
        ]
    )  # fmt: skip
    assert body["contents"][1] == {
        "role": "model",
        "parts": [{"text": "Answer.", "thoughtSignature": "dGV4dA=="}],
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"type": "function_call_output", "call_id": "c9", "output": "x"}], "no function_call before it"),
        ([{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}],
         "has no function_call_output"),
        ([{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "[1]"},
          {"type": "function_call_output", "call_id": "c1", "output": "x"}], "must be a JSON object"),
        ([{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{"},
          {"type": "function_call_output", "call_id": "c1", "output": "x"}], "not valid JSON"),
        ([{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
          {"type": "function_call_output", "call_id": "c1", "output": "x"},
          {"type": "function_call_output", "call_id": "c1", "output": "y"}], "already answered"),
    ],
)  # fmt: skip
def test_call_bookkeeping_errors(items: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(RequestValidationError, match=message):
        encode(input=[{"role": "user", "content": "x"}, *items])


def test_envelopes_round_trip_and_foreign_blobs_are_not_ours() -> None:
    envelope = parse_envelope(signature_envelope("call", "c2ln", call_id="fc-1"))
    assert envelope is not None and (envelope.part, envelope.signature, envelope.call_id) == (
        "call",
        "c2ln",
        "fc-1",
    )
    for blob in (
        None,
        "",
        "EqQBCkgIAR",
        '{"type":"openresponses.chat-completions.reasoning","text":"x"}',
        "{bad",
    ):
        assert parse_envelope(blob) is None


def test_without_google_auth_only_adc_needs_the_vertex_extra() -> None:
    """On a machine without google-auth the adapters import and a token provider works; loading
    Application Default Credentials fails with one line naming the extra."""
    snippet = textwrap.dedent(
        """
        import asyncio
        from openresponses.transports.gemini import GeminiDialect, VertexDialect
        GeminiDialect()
        injected = VertexDialect(project="p-123", token_provider=lambda: "ya29.t")
        print(asyncio.run(injected.sign("POST", "https://x", {}, b"")))
        try:
            asyncio.run(VertexDialect(project="p-123").sign("POST", "https://x", {}, b""))
        except ImportError as exc:
            print(type(exc).__name__, exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(CORE_ONLY), "OPENRESPONSES_TEST_HIDE": "google.auth"}
    result = subprocess.run(
        [sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert first == "{'authorization': 'Bearer ya29.t'}"
    assert second == (
        "MissingExtraError Vertex AI authentication needs the 'vertex' extra: "
        "pip install 'openresponses-python[vertex]' (no module named 'google.auth')"
    )
