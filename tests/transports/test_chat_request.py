"""Open Responses request -> Chat Completions request: every field, every rejection, conversation shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openresponses import RequestValidationError
from openresponses._pipeline import Request
from openresponses.transports._chat_messages import reasoning_envelope
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.types import CompactResponseBody, CreateResponseBody, FunctionCall, ReasoningItem


def chat(
    body: dict[str, Any] | CreateResponseBody, *, stream: bool = False, **options: Any
) -> dict[str, Any]:
    dialect = ChatCompletionsDialect(**options)
    model = body if isinstance(body, CreateResponseBody) else CreateResponseBody.model_validate(body)
    request = Request(body=model, stream=stream)
    encoded = json.loads(dialect.encode(request))
    assert encoded == dialect.translate(request)  # encode is exactly the translation, as JSON
    return encoded


def rejected(body: dict[str, Any], **options: Any) -> str:
    with pytest.raises(RequestValidationError) as info:
        chat(body, **options)
    assert isinstance(info.value, ValueError)
    assert info.value.errors and info.value.errors[0]["loc"] is not None
    return str(info.value)


def fc(call_id: str, name: str = "get_weather", arguments: str = "{}") -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def fco(call_id: str, output: Any = "ok") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def tool_call(call_id: str, name: str = "get_weather", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
TIME = {"type": "function", "name": "get_time"}


# --------------------------------------------------------------------------- basics


def test_instructions_become_the_first_system_message_and_a_string_one_user_message() -> None:
    out = chat({"model": "m", "instructions": "Be brief.", "input": "Hi"})
    assert out == {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    }


@pytest.mark.parametrize("empty", [None, "", []])
def test_a_probe_with_empty_input_sends_one_empty_user_message(empty: Any) -> None:
    # max_output_tokens=1 is below the spec minimum (16), but a liveness probe sends it anyway.
    body = CreateResponseBody.model_construct(model="m", input=empty, max_output_tokens=1)
    out = chat(body)
    assert out["messages"] == [{"role": "user", "content": ""}]
    assert out["max_tokens"] == 1


def test_instructions_alone_still_get_a_user_turn() -> None:
    out = chat({"model": "m", "instructions": "sys"})
    assert out["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": ""}]


def test_user_parts_text_and_images_keep_detail() -> None:
    out = chat(
        {
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "low"},
                        {"type": "input_image", "image_url": "https://example.com/a.png"},
                    ],
                }
            ]
        }
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        }
    ]


def test_a_single_text_part_becomes_the_string_form_every_template_understands() -> None:
    out = chat({"input": [{"role": "user", "content": [{"type": "input_text", "text": "hello"}]}]})
    assert out["messages"] == [{"role": "user", "content": "hello"}]


def test_developer_becomes_system_and_system_parts_are_joined_into_a_string() -> None:
    out = chat(
        {
            "input": [
                {"role": "developer", "content": "Use tools."},
                {
                    "role": "system",
                    "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
                },
                user("q"),
            ]
        }
    )
    assert out["messages"] == [
        {"role": "system", "content": "Use tools."},
        {"role": "system", "content": "a\nb"},
        {"role": "user", "content": "q"},
    ]


def test_assistant_text_and_refusal_parts_become_assistant_content() -> None:
    out = chat(
        {
            "input": [
                user("q"),
                {
                    "type": "message",
                    "role": "assistant",
                    "phase": "final_answer",
                    "content": [
                        {"type": "output_text", "text": "Part one. ", "annotations": []},
                        {"type": "refusal", "refusal": "I can't do the rest."},
                    ],
                },
                user("why?"),
            ]
        }
    )
    assert out["messages"][1] == {"role": "assistant", "content": "Part one. I can't do the rest."}


@pytest.mark.parametrize(
    ("part", "name"),
    [
        ({"type": "input_file", "filename": "a.pdf", "file_data": "JVBE"}, "input_file"),
        ({"type": "input_image"}, "input_image"),
        ({"type": "acme:hologram", "data": 1}, "acme:hologram"),
    ],
)
def test_content_parts_chat_cannot_carry_are_rejected_by_name(part: dict[str, Any], name: str) -> None:
    message = rejected({"input": [{"role": "user", "content": [part]}]})
    assert message.startswith("chat-completions adapter: content part")
    assert name in message


# --------------------------------------------------------------------------- tool turns


def test_consecutive_calls_merge_into_one_assistant_message_followed_by_tool_messages() -> None:
    out = chat(
        {
            "input": [
                user("Weather in Paris and the time?"),
                assistant("Checking."),
                fc("call_1", arguments='{"city":"Paris"}'),
                fc("call_2", name="get_time"),
                fco("call_1", "18C"),
                fco(
                    "call_2", [{"type": "input_text", "text": "12:00"}, {"type": "input_text", "text": "CET"}]
                ),
                assistant("18C, noon."),
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": "Weather in Paris and the time?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                tool_call("call_1", arguments='{"city":"Paris"}'),
                tool_call("call_2", "get_time"),
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "12:00\nCET"},
        {"role": "assistant", "content": "18C, noon."},
    ]


def test_items_between_a_call_and_its_output_are_folded_or_moved_after_the_outputs() -> None:
    # Responses allows reasoning, assistant text and user messages between a call and its output;
    # Chat Completions needs the tool messages right after the assistant message (trap 13).
    out = chat(
        {
            "input": [
                fc("call_1"),
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
                user("(user typed while the tool ran)"),
                assistant("stray"),
                fc("call_2"),
                fco("call_1"),
                fc("call_3"),
                fco("call_2"),
                fco("call_3"),
                fc("call_4"),
                fco("call_4"),
            ]
        }
    )
    assert out["messages"] == [
        {
            "role": "assistant",
            "content": "stray",
            "tool_calls": [tool_call("call_1"), tool_call("call_2"), tool_call("call_3")],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        {"role": "tool", "tool_call_id": "call_2", "content": "ok"},
        {"role": "tool", "tool_call_id": "call_3", "content": "ok"},
        {"role": "user", "content": "(user typed while the tool ran)"},
        {"role": "assistant", "content": "", "tool_calls": [tool_call("call_4")]},
        {"role": "tool", "tool_call_id": "call_4", "content": "ok"},
    ]


def test_call_ids_may_repeat_across_turns() -> None:
    # TGI answers every non-stream call with id "0": each turn's call is matched within its turn.
    out = chat({"input": [fc("0"), fco("0", "a"), user("again"), fc("0"), fco("0", "b")]})
    assert [m["role"] for m in out["messages"]] == ["assistant", "tool", "user", "assistant", "tool"]


def test_output_items_from_a_response_can_be_sent_back_as_input() -> None:
    call = FunctionCall(id="fc_1", call_id="call_1", name="get_weather", arguments="{}", status="completed")
    body = CreateResponseBody(input=[user("q"), call, fco("call_1")])  # type: ignore[list-item]
    out = chat(body)
    assert out["messages"][1]["tool_calls"] == [tool_call("call_1")]


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        ([fco("call_9")], "function_call_output call_id 'call_9' has no function_call before it"),
        ([fc("call_1"), user("next")], "function_call 'call_1' has no function_call_output"),
        ([fc("call_1"), fco("call_1"), fco("call_1")], "already answered"),
        ([fc("call_1"), fc("call_1"), fco("call_1")], "appears twice in one turn"),
        ([{"type": "item_reference", "id": "msg_1"}], "input item type 'item_reference'"),
        ([{"id": "msg_1"}], "input item type 'item_reference'"),
        ([{"type": "compaction", "encrypted_content": "x"}], "input item type 'compaction'"),
        ([{"type": "acme:note", "text": "x"}], "input item type 'acme:note'"),
        (
            [fc("call_1"), fco("call_1", [{"type": "input_image", "image_url": "https://x/y.png"}])],
            "input_image",
        ),
    ],
)
def test_input_chat_cannot_express_is_a_clear_error(items: list[Any], fragment: str) -> None:
    message = rejected({"input": items})
    assert message.startswith("chat-completions adapter: ")
    assert fragment in message


# --------------------------------------------------------------------------- reasoning input


REASONING_TURN = [
    user("q"),
    {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Think first."}]},
    fc("call_1"),
    fco("call_1"),
]


def test_reasoning_items_are_dropped_by_default() -> None:
    out = chat({"input": REASONING_TURN})
    assert out["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [tool_call("call_1")]}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_items_are_attached_to_their_assistant_turn_when_asked(field: str) -> None:
    out = chat({"input": REASONING_TURN}, send_reasoning=field)
    assert out["messages"][1][field] == "Think first."


def test_raw_reasoning_carried_in_the_envelope_is_sent_back_verbatim() -> None:
    # Input reasoning items cannot carry `content`: the dialect carries raw reasoning in
    # `encrypted_content`, so a DeepSeek V4 tool turn can send its reasoning_content back.
    item = ReasoningItem(
        id="rs_1",
        summary=[],
        content=[{"type": "reasoning_text", "text": "raw chain"}],  # type: ignore[list-item]
        encrypted_content=reasoning_envelope("raw chain"),
        status="completed",
    )
    body = CreateResponseBody(input=[user("q"), item, fc("call_1"), fco("call_1")])  # type: ignore[list-item]
    out = chat(body, send_reasoning="reasoning_content")
    assert out["messages"][1]["reasoning_content"] == "raw chain"


def test_opaque_encrypted_content_of_another_provider_is_never_sent_as_text() -> None:
    item = {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAB-opaque"}
    out = chat({"input": [user("q"), item, assistant("a")]}, send_reasoning="reasoning")
    assert out["messages"][1] == {"role": "assistant", "content": "a"}


def test_reasoning_alone_is_no_assistant_turn() -> None:
    item = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "s"}]}
    out = chat({"input": [user("q"), item, user("again")]}, send_reasoning="reasoning")
    assert [m["role"] for m in out["messages"]] == ["user", "user"]


# --------------------------------------------------------------------------- tools and tool_choice


def test_function_tools_take_the_chat_shape() -> None:
    out = chat({"input": "q", "tools": [WEATHER, TIME]})
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "get_time"}},
    ]
    assert "tool_choice" not in out


@pytest.mark.parametrize("hosted", ["web_search", "file_search", "code_interpreter", "acme:search"])
def test_hosted_tools_are_an_error_naming_the_type_or_skipped_when_asked(hosted: str) -> None:
    body = {"input": "q", "tools": [{"type": hosted}, WEATHER]}
    message = rejected(body)
    assert f"tool type {hosted!r} is not supported" in message
    out = chat(body, skip_hosted_tools=True)
    assert [tool["function"]["name"] for tool in out["tools"]] == ["get_weather"]


@pytest.mark.parametrize("mode", ["none", "auto", "required"])
def test_tool_choice_strings(mode: str) -> None:
    out = chat({"input": "q", "tools": [WEATHER], "tool_choice": mode})
    assert out.get("tool_choice", "auto") == mode


def test_tool_choice_without_tools_is_not_sent_and_required_without_tools_is_an_error() -> None:
    assert "tool_choice" not in chat({"input": "q", "tool_choice": "none"})
    assert "needs at least one function tool" in rejected({"input": "q", "tool_choice": "required"})
    out = chat(
        {"input": "q", "tools": [{"type": "web_search"}], "tool_choice": "auto"}, skip_hosted_tools=True
    )
    assert "tools" not in out and "tool_choice" not in out


def test_a_named_function_choice() -> None:
    out = chat(
        {"input": "q", "tools": [WEATHER, TIME], "tool_choice": {"type": "function", "name": "get_time"}}
    )
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    assert len(out["tools"]) == 2
    message = rejected(
        {"input": "q", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}
    )
    assert "'nope' is not among the tools" in message


def test_allowed_tools_restrict_the_tools_list_and_keep_the_mode() -> None:
    choice = {
        "type": "allowed_tools",
        "tools": [{"type": "function", "name": "get_time"}],
        "mode": "required",
    }
    out = chat({"input": "q", "tools": [WEATHER, TIME], "tool_choice": choice})
    assert [tool["function"]["name"] for tool in out["tools"]] == ["get_time"]
    assert out["tool_choice"] == "required"
    choice["mode"] = "auto"
    out = chat({"input": "q", "tools": [WEATHER, TIME], "tool_choice": choice})
    assert "tool_choice" not in out and len(out["tools"]) == 1
    choice["tools"] = [{"type": "function", "name": "missing"}]
    assert "allowed_tools 'missing'" in rejected({"input": "q", "tools": [WEATHER], "tool_choice": choice})


def test_parallel_tool_calls_is_sent_only_with_tools() -> None:
    assert (
        chat({"input": "q", "tools": [WEATHER], "parallel_tool_calls": False})["parallel_tool_calls"] is False
    )
    assert "parallel_tool_calls" not in chat({"input": "q", "parallel_tool_calls": False})


# --------------------------------------------------------------------------- options


def test_sampling_and_token_limit() -> None:
    body = {
        "model": "m",
        "input": "q",
        "temperature": 0.2,
        "top_p": 0.9,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.3,
        "max_output_tokens": 64,
    }
    out = chat(body)
    assert {k: out[k] for k in ("temperature", "top_p", "presence_penalty", "frequency_penalty")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.3,
    }
    assert out["max_tokens"] == 64 and "max_completion_tokens" not in out
    out = chat(body, max_tokens_field="max_completion_tokens")
    assert out["max_completion_tokens"] == 64 and "max_tokens" not in out


def test_stop_and_seed_are_accepted_as_extension_fields() -> None:
    out = chat({"input": "q", "stop": ["\n\n", "END"], "seed": 7})
    assert out["stop"] == ["\n\n", "END"] and out["seed"] == 7
    assert chat({"input": "q", "stop": "END"})["stop"] == "END"
    assert "field 'stop' must be a string or a list" in rejected({"input": "q", "stop": 3})
    assert "field 'seed' must be an integer" in rejected({"input": "q", "seed": "7"})


def test_text_formats() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {
        "type": "json_schema",
        "name": "answer",
        "description": "An answer",
        "schema": schema,
        "strict": True,
    }
    out = chat({"input": "q", "text": {"format": fmt, "verbosity": "low"}})
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "description": "An answer", "schema": schema, "strict": True},
    }
    assert out["verbosity"] == "low"
    assert chat({"input": "q", "text": {"format": {"type": "json_object"}}})["response_format"] == {
        "type": "json_object"
    }
    assert "response_format" not in chat({"input": "q", "text": {"format": {"type": "text"}}})
    assert "text.format type 'grammar'" in rejected({"input": "q", "text": {"format": {"type": "grammar"}}})
    assert "verbosity" not in chat(
        {"input": "q", "text": {"verbosity": "low"}}, drop_unsupported={"text.verbosity"}
    )


def test_tgi_structured_output_uses_its_own_shape() -> None:
    schema = {"type": "object"}
    fmt = {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}
    out = chat({"input": "q", "text": {"format": fmt}}, json_schema_style="tgi")
    assert out["response_format"] == {"type": "json_schema", "value": {"name": "answer", "schema": schema}}
    out = chat({"input": "q", "text": {"format": {"type": "json_object"}}}, json_schema_style="tgi")
    assert out["response_format"] == {"type": "json_object", "value": {"type": "object"}}


def test_reasoning_effort() -> None:
    assert chat({"input": "q", "reasoning": {"effort": "high"}})["reasoning_effort"] == "high"
    assert chat({"input": "q", "reasoning": {"effort": "none"}})["reasoning_effort"] == "none"
    message = rejected({"input": "q", "reasoning": {"effort": "high"}}, reasoning_effort=False)
    assert message == "chat-completions adapter: field 'reasoning.effort' is not supported"
    out = chat(
        {"input": "q", "reasoning": {"effort": "high"}},
        reasoning_effort=False,
        drop_unsupported={"reasoning.effort"},
    )
    assert "reasoning_effort" not in out


def test_reasoning_summary_auto_is_accepted_and_explicit_styles_are_not() -> None:
    assert "reasoning_effort" not in chat({"input": "q", "reasoning": {"summary": "auto"}})
    assert "reasoning.summary 'detailed'" in rejected({"input": "q", "reasoning": {"summary": "detailed"}})
    chat({"input": "q", "reasoning": {"summary": "concise"}}, drop_unsupported={"reasoning.summary"})


def test_stream_and_stream_options() -> None:
    out = chat({"input": "q", "stream": True}, stream=True)
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    out = chat({"input": "q", "stream": True}, stream=True, stream_usage=False)
    assert out["stream"] is True and "stream_options" not in out
    # OpenAI rejects stream_options unless streaming.
    out = chat({"input": "q", "stream_options": {"include_obfuscation": False}})
    assert "stream" not in out and "stream_options" not in out


def test_the_harmless_fields_a_codex_style_client_sends_are_accepted_and_not_forwarded() -> None:
    body = {
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "input": "q",
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "conv-1",
        "client_metadata": {"session": "s1"},
        "store": False,
        "metadata": {"k": "v"},
        "safety_identifier": "u-1",
        "service_tier": "auto",
        "truncation": "auto",
        "stream_options": {"include_obfuscation": False},
        "reasoning": {"effort": "medium", "summary": "auto"},
        "parallel_tool_calls": True,
        "tools": [WEATHER],
        "tool_choice": "auto",
    }
    out = chat(body, stream=True)
    assert set(out) == {
        "model",
        "messages",
        "tools",
        "parallel_tool_calls",
        "reasoning_effort",
        "stream",
        "stream_options",
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"background": True}, "chat-completions adapter: field 'background' is not supported"),
        ({"max_tool_calls": 2}, "chat-completions adapter: field 'max_tool_calls' is not supported"),
        ({"top_logprobs": 3}, "chat-completions adapter: field 'top_logprobs' is not supported"),
        ({"logit_bias": {"1": 2}}, "chat-completions adapter: field 'logit_bias' is not supported"),
        ({"text": {"acme_mode": 1}}, "chat-completions adapter: field 'text.acme_mode' is not supported"),
        ({"reasoning": {"budget": 1}}, "chat-completions adapter: field 'reasoning.budget' is not supported"),
    ],
)
def test_unsupported_fields_are_rejected_by_name(body: dict[str, Any], expected: str) -> None:
    assert rejected({"input": "q", **body}).startswith(expected)


def test_defaults_of_unsupported_fields_are_harmless() -> None:
    out = chat({"input": "q", "background": False, "top_logprobs": 0})
    assert set(out) == {"messages"}


def test_previous_response_id_needs_a_response_store() -> None:
    message = rejected({"input": "q", "previous_response_id": "resp_1"})
    assert "previous_response_id" in message and "response store" in message


def test_drop_unsupported_drops_even_translatable_fields_the_preset_names() -> None:
    out = chat(
        {"input": "q", "temperature": 0, "background": True, "top_logprobs": 2},
        drop_unsupported={"temperature", "background", "top_logprobs"},
    )
    assert set(out) == {"messages"}


def test_extra_body_is_added_and_the_translation_wins() -> None:
    out = chat({"model": "m", "input": "q"}, extra_body={"reasoning_format": "parsed", "model": "ignored"})
    assert out["reasoning_format"] == "parsed" and out["model"] == "m"


def test_compact_is_not_supported() -> None:
    request = Request(body=CompactResponseBody(model="m", input="q"), operation="compact")
    with pytest.raises(RequestValidationError, match="does not support /responses/compact"):
        ChatCompletionsDialect().encode(request)


def test_the_dialect_surface() -> None:
    dialect = ChatCompletionsDialect()
    request = Request(body=CreateResponseBody(input="q"))
    assert dialect.name == "chat-completions"
    assert dialect.path(request) == "/chat/completions"
    assert dialect.auth_headers("sk-test-123") == {"authorization": "Bearer sk-test-123"}
    assert dialect.headers(request) == {}
    assert "sk-" not in repr(dialect)
    with pytest.raises(ValueError, match="send_reasoning must be one of"):
        ChatCompletionsDialect(send_reasoning="thinking")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens_field must be one of"):
        ChatCompletionsDialect(max_tokens_field="num_predict")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="drop_unsupported"):
        ChatCompletionsDialect(drop_unsupported="temperature")  # type: ignore[arg-type]


def _fn(name: str) -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}}


def test_an_upstream_that_ignores_tool_choice_gets_only_what_it_can_honour() -> None:
    # PROVIDERS.md trap 17 (Ollama): tool_choice is silently ignored there, so it is never sent.
    tools = [_fn("a"), _fn("b")]
    auto = chat({"input": "x", "tools": tools, "tool_choice": "auto"}, tool_choice_ignored=True)
    assert "tool_choice" not in auto and len(auto["tools"]) == 2
    none = chat({"input": "x", "tools": tools, "tool_choice": "none"}, tool_choice_ignored=True)
    assert "tools" not in none and "tool_choice" not in none  # honoured: no tools to call
    subset = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "b"}]}
    allowed = chat({"input": "x", "tools": tools, "tool_choice": subset}, tool_choice_ignored=True)
    assert [t["function"]["name"] for t in allowed["tools"]] == ["b"] and "tool_choice" not in allowed
    for forced in ("required", {"type": "function", "name": "a"}):
        with pytest.raises(RequestValidationError) as info:
            chat({"input": "x", "tools": tools, "tool_choice": forced}, tool_choice_ignored=True)
        assert info.value.errors[0]["loc"] == ("tool_choice",) and "ignores tool_choice" in str(info.value)
    assert chat({"input": "x", "tools": tools, "tool_choice": "required"})["tool_choice"] == "required"
