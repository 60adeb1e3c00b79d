"""The chat presets' wire quirks pinned through the served proxy (PROVIDERS.md): TGI's own
structured-output shape (trap 19), reasoning sent back on tool turns (trap 4), OpenRouter's
always-on usage without ``stream_options`` (trap 8) and ``<think>`` splitting per preset (trap 2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses.proxies import PRESETS, ProxySettings, create_app_from_settings
from openresponses.testing import assert_valid_stream
from openresponses.testing.chat import ChatCompletionsServer, chat_text, chat_tool_calls

from .conftest import asgi_client, parse_sse

TOOLS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}]


@pytest.fixture
async def chat_upstream() -> AsyncIterator[ChatCompletionsServer]:
    async with ChatCompletionsServer() as server:
        yield server


@pytest.fixture(autouse=True)
def preset_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys for the presets that refuse to start without one (never sent anywhere but the fake)."""
    for preset in PRESETS.values():
        if preset.key_required and preset.api_key_env:
            monkeypatch.setenv(preset.api_key_env, "sk-test-0123456789")


def preset_app(preset: str, upstream: ChatCompletionsServer, **changes: Any) -> Any:
    settings = ProxySettings(preset=preset, base_url=upstream.base_url, **changes)
    return create_app_from_settings(settings)


def text_of(response: dict[str, Any]) -> str:
    """The output text of a served response body (``output_text`` is the SDK's, not the wire's)."""
    return "".join(
        part["text"] for item in response["output"] if item["type"] == "message" for part in item["content"]
    )


WEATHER_CALL = ("get_weather", '{"city":"Paris"}', "call_1")


async def tool_turn_then_answer(
    client: Any, first: dict[str, Any], **second: Any
) -> tuple[dict[str, Any], Any]:
    """A streamed first turn that calls the weather tool, then its output sent as a continuation
    (``previous_response_id``): the first turn's final response and the second reply."""
    reply = await client.post("/v1/responses", json={"tools": TOOLS, "stream": True, **first})
    events, done = parse_sse(reply.text)
    assert reply.status_code == 200 and done, reply.text
    assert_valid_stream(events)
    response = events[-1]["response"]
    output = {"type": "function_call_output", "call_id": "call_1", "output": "18C"}
    body = {"previous_response_id": response["id"], "tools": TOOLS, "input": [output], **second}
    return response, await client.post("/v1/responses", json=body)


# -- structured output (trap 19) ---------------------------------------------------------------


async def test_huggingface_sends_structured_output_in_tgi_shape(chat_upstream: ChatCompletionsServer) -> None:
    chat_upstream.push(chat_text('{"a": 1}'), chat_text("{}"))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fmt = {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}
    async with asgi_client(preset_app("huggingface", chat_upstream)) as client:
        reply = await client.post("/v1/responses", json={"input": "q", "text": {"format": fmt}})
        loose = await client.post(
            "/v1/responses", json={"input": "q", "text": {"format": {"type": "json_object"}}}
        )
    assert reply.status_code == 200 and text_of(reply.json()) == '{"a": 1}'
    assert loose.status_code == 200
    # TGI reads `value` and rejects OpenAI's `json_schema` key; `strict` is not part of its shape.
    sent = chat_upstream.requests[0].body
    assert sent["response_format"] == {"type": "json_schema", "value": {"name": "answer", "schema": schema}}
    # Its JSON mode needs a grammar: any object.
    assert chat_upstream.requests[1].body["response_format"] == {
        "type": "json_object",
        "value": {"type": "object"},
    }


# -- reasoning round trip (trap 4) -------------------------------------------------------------


@pytest.mark.parametrize("preset", ["ollama", "vllm"])
async def test_reasoning_is_sent_back_on_the_assistant_tool_turn(
    chat_upstream: ChatCompletionsServer, preset: str
) -> None:
    chat_upstream.push(
        chat_tool_calls(
            [("get_weather", '{"city":"Paris"}', "call_1")],
            style="whole",
            reasoning="Need the weather.",
            reasoning_field="reasoning",
        ),
        chat_text("Sunny."),
    )
    async with asgi_client(preset_app(preset, chat_upstream, model="m")) as client:
        first = await client.post("/v1/responses", json={"input": "Weather?", "tools": TOOLS})
        assert first.status_code == 200
        assert [item["type"] for item in first.json()["output"]] == ["reasoning", "function_call"]
        output = {"type": "function_call_output", "call_id": "call_1", "output": "18C"}
        second = await client.post(
            "/v1/responses",
            json={"previous_response_id": first.json()["id"], "tools": TOOLS, "input": [output]},
        )
    assert second.status_code == 200 and text_of(second.json()) == "Sunny."
    messages = chat_upstream.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assistant = messages[1]
    assert assistant["reasoning"] == "Need the weather."  # Ollama's and vLLM's input field
    assert "reasoning_content" not in assistant
    assert [call["id"] for call in assistant["tool_calls"]] == ["call_1"]
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "18C"}


# -- usage (trap 8) ----------------------------------------------------------------------------


async def test_openrouter_chat_gets_usage_without_stream_options(
    chat_upstream: ChatCompletionsServer,
) -> None:
    chat_upstream.push(chat_text("Hello brave new world", usage="openrouter"))
    app = preset_app("openrouter", chat_upstream, api="chat-completions", model="m")
    async with asgi_client(app) as client:
        reply = await client.post("/v1/responses", json={"input": "Hi there", "stream": True})
    events, done = parse_sse(reply.text)
    assert reply.status_code == 200 and done
    assert_valid_stream(events)
    sent = chat_upstream.requests[0].body
    assert sent["stream"] is True
    assert "stream_options" not in sent  # a deprecated no-op there: usage always comes
    response = events[-1]["response"]
    assert response["status"] == "completed"
    assert response["usage"] is not None and response["usage"]["output_tokens"] == 4


# -- <think> tags (trap 2) ---------------------------------------------------------------------

# presets.py: no reasoning parser upstream (TGI; LM Studio without its app setting; llama.cpp
# --reasoning-format none) splits <think>; OpenRouter and OpenAI (under --api chat-completions) do not.
THINK_TAGS = {"huggingface": True, "lmstudio": True, "llamacpp": True, "openrouter": False, "openai": False}


@pytest.mark.parametrize(("preset", "split"), THINK_TAGS.items())
async def test_think_tags_follow_the_preset(
    chat_upstream: ChatCompletionsServer, preset: str, split: bool
) -> None:
    # "<thi" | "nk>": the tag split across chunks, as a parser-less server streams it.
    chat_upstream.push(
        chat_text("The answer.", reasoning="Step one.", reasoning_field="think_tags", chunks=[4, 3])
    )
    app = preset_app(preset, chat_upstream, api="chat-completions", model="m")
    async with asgi_client(app) as client:
        reply = await client.post("/v1/responses", json={"input": "q", "stream": True})
    events, _ = parse_sse(reply.text)
    assert_valid_stream(events)
    response = events[-1]["response"]
    kinds = [item["type"] for item in response["output"]]
    message = response["output"][-1]["content"][0]["text"]
    if split:
        assert kinds == ["reasoning", "message"]
        assert response["output"][0]["content"] == [{"type": "reasoning_text", "text": "Step one."}]
        assert message == "The answer."
    else:  # an upstream with a reasoning parser: a <think> left in content is the model's own text
        assert kinds == ["message"]
        assert message.startswith("<think>Step one.</think>") and message.endswith("The answer.")


@pytest.mark.parametrize("preset", ["ollama", "vllm", "huggingface", "llamacpp"])
async def test_a_stream_cut_before_done_is_failed_not_completed(
    chat_upstream: ChatCompletionsServer, preset: str
) -> None:
    # These upstreams always end a stream with [DONE] (PROVIDERS.md trap 10): the body ending
    # after the finish chunk without it lost at least the usage chunk.
    chat_upstream.push(chat_text("Almost.", send_done=False, usage="none"))
    settings = ProxySettings(preset=preset, base_url=chat_upstream.base_url, store="none", retries=1)
    async with asgi_client(create_app_from_settings(settings)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    events, _ = parse_sse(reply.text)
    assert events[-1]["type"] == "response.failed"
    assert "response.completed" not in [e["type"] for e in events]
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "Almost."


async def test_ollama_refuses_a_forced_tool_call_and_drops_parallel_tool_calls(
    chat_upstream: ChatCompletionsServer,
) -> None:
    # Ollama ignores tool_choice and parallel_tool_calls (PROVIDERS.md trap 17).
    chat_upstream.push(chat_text("ok"))
    settings = ProxySettings(preset="ollama", base_url=chat_upstream.base_url, store="none")
    async with asgi_client(create_app_from_settings(settings)) as client:
        forced = await client.post(
            "/v1/responses", json={"model": "m", "input": "x", "tools": TOOLS, "tool_choice": "required"}
        )
        fine = await client.post(
            "/v1/responses", json={"model": "m", "input": "x", "tools": TOOLS, "parallel_tool_calls": False}
        )
    assert forced.status_code == 400 and forced.json()["error"]["param"] == "tool_choice"
    assert fine.status_code == 200
    (sent,) = [r.body for r in chat_upstream.requests]
    assert "parallel_tool_calls" not in sent and "tool_choice" not in sent and sent["tools"]


async def test_huggingface_refuses_tools_with_a_format_before_sending(
    chat_upstream: ChatCompletionsServer,
) -> None:
    # TGI rejects tools and response_format together (PROVIDERS.md trap 18): say so first.
    schema = {"type": "json_schema", "name": "out", "schema": {"type": "object", "properties": {}}}
    settings = ProxySettings(preset="huggingface", base_url=chat_upstream.base_url, store="none")
    async with asgi_client(create_app_from_settings(settings)) as client:
        reply = await client.post(
            "/v1/responses", json={"input": "x", "tools": TOOLS, "text": {"format": schema}}
        )
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "text.format"
    assert chat_upstream.requests == []


# -- DeepSeek (PROVIDERS.md section 8) ----------------------------------------------------------


async def test_deepseek_reads_and_sends_back_reasoning_content_and_its_cache_counts(
    chat_upstream: ChatCompletionsServer,
) -> None:
    # V4 thinking mode: a tool turn's reasoning_content must go back (a 400 otherwise); cache
    # counts come as prompt_cache_hit_tokens; the non-stream body has leading blank lines.
    chat_upstream.push(
        chat_tool_calls(
            [WEATHER_CALL],
            reasoning="Need the weather.",
            reasoning_field="reasoning_content",
            usage_details="deepseek",
        ),
        chat_text("Sunny.", usage_details="deepseek", cached_tokens=3, leading_blank_lines=3),
    )
    async with asgi_client(preset_app("deepseek", chat_upstream)) as client:
        first, second = await tool_turn_then_answer(
            client,
            {"model": "deepseek-v4-flash", "input": "Weather?"},
            model="deepseek-v4-flash",
            temperature=0.2,  # ignored in thinking mode: listed as dropped, not sent
        )
    assert [item["type"] for item in first["output"]] == ["reasoning", "function_call"]
    assert first["output"][0]["content"][0]["text"] == "Need the weather."
    assert second.status_code == 200, second.text
    body = second.json()
    assert text_of(body) == "Sunny." and body["usage"]["input_tokens_details"]["cached_tokens"] == 3
    sent = chat_upstream.requests[1].body
    assert sent["messages"][1]["reasoning_content"] == "Need the weather."
    assert "temperature" not in sent and sent["model"] == "deepseek-v4-flash"
    assert chat_upstream.requests[0].headers["authorization"] == "Bearer sk-test-0123456789"


async def test_deepseek_capacity_cut_is_a_failure_never_a_completed_answer(
    chat_upstream: ChatCompletionsServer,
) -> None:
    chat_upstream.push(chat_text("Half an ans", finish_reason="insufficient_system_resource"))
    async with asgi_client(preset_app("deepseek", chat_upstream)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    events, _ = parse_sse(reply.text)
    assert events[-1]["type"] == "response.failed"
    assert "response.completed" not in [e["type"] for e in events]


async def test_openrouter_chat_sends_its_reasoning_details_back_on_the_tool_turn(
    chat_upstream: ChatCompletionsServer,
) -> None:
    # Trap 4: Claude and Gemini models behind OpenRouter need the entries back, unchanged.
    chat_upstream.push(
        chat_tool_calls(
            [WEATHER_CALL],
            reasoning="Need the weather.",
            reasoning_field="reasoning_details",
            usage="openrouter",
        ),
        chat_text("Sunny.", usage="openrouter"),
    )
    app = preset_app("openrouter", chat_upstream, api="chat-completions", model="anthropic/claude")
    async with asgi_client(app) as client:
        _, second = await tool_turn_then_answer(client, {"input": "Weather?"})
    assert second.status_code == 200, second.text
    assistant = chat_upstream.requests[1].body["messages"][1]
    assert assistant["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Need the weather.", "format": "unknown", "index": 0}
    ]
    assert "reasoning" not in assistant and assistant["tool_calls"][0]["id"] == "call_1"
