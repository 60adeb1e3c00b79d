"""The served proxy's ``anthropic`` preset pointed at the fake Anthropic upstream: Open Responses in,
Anthropic Messages out, and back."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from openresponses import ConfigError
from openresponses.proxies import PRESETS, ProxySettings, create_app_from_settings
from openresponses.testing import assert_valid_stream
from openresponses.testing.anthropic import (
    AnthropicServer,
    anthropic_status,
    anthropic_text,
    anthropic_tool_calls,
)
from openresponses.types.events import parse_event

KEY = "sk-ant-api03-PROXYsecret0123456789"
MODEL = "claude-haiku-4-5"


@pytest.fixture
async def upstream(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AnthropicServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    async with AnthropicServer(api_key=KEY) as server:
        yield server


def app(upstream: AnthropicServer) -> Starlette:
    return create_app_from_settings(
        ProxySettings(preset="anthropic", base_url=upstream.base_url, model=MODEL)
    )


@contextlib.asynccontextmanager
async def client_for(application: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy", timeout=10) as client:
            yield client


def sse_events(body: str) -> list[Any]:
    events = []
    for block in body.split("\n\n"):
        data = [line[len("data: ") :] for line in block.split("\n") if line.startswith("data: ")]
        if data and data[0] != "[DONE]":
            events.append(parse_event(data[0]))
    return events


def test_the_preset() -> None:
    preset = PRESETS["anthropic"]
    assert (preset.port, preset.base_url, preset.api) == (8008, "https://api.anthropic.com/v1", "anthropic")
    assert preset.api_key_env == "ANTHROPIC_API_KEY" and preset.key_required
    assert preset.adapter() == "anthropic" and preset.dialect_options["max_tokens"] == 8192


def test_the_preset_needs_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        create_app_from_settings(ProxySettings(preset="anthropic"))


async def test_streams_tool_calls_and_text_through_the_proxy(upstream: AnthropicServer) -> None:
    upstream.push(
        anthropic_tool_calls([("get_weather", {"city": "Paris"})], thinking="Weather first."),
        anthropic_text("It is sunny.", cache_creation_input_tokens=12),
    )
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    async with client_for(app(upstream)) as client:
        reply = await client.post("/v1/responses", json={"input": "Weather?", "tools": tools, "stream": True})
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        events = sse_events(reply.text)
        assert_valid_stream(events)
        final = events[-1].response
        reasoning, call = final.output
        assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Paris"}
        follow = [
            {"role": "user", "content": "Weather?"},
            reasoning.to_dict(),
            call.to_dict(),
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ]
        whole = await client.post("/v1/responses", json={"input": follow, "tools": tools})
    assert whole.status_code == 200
    body = whole.json()
    assert body["output"][0]["content"][0]["text"] == "It is sunny."
    assert body["usage"]["input_tokens"] == 25 + 12 and body["anthropic_stop_reason"] == "end_turn"
    first, second = upstream.requests
    assert (
        first.headers["x-api-key"] == KEY
        and first.body["model"] == MODEL
        and first.body["max_tokens"] == 8192
    )
    assert [block["type"] for block in second.body["messages"][1]["content"]] == ["thinking", "tool_use"]
    assert second.body["messages"][2]["content"][0]["tool_use_id"] == call.call_id


async def test_anthropic_errors_through_the_proxy(upstream: AnthropicServer) -> None:
    upstream.push(anthropic_status(400, message="messages.0: bad thing"))
    async with client_for(app(upstream)) as client:
        bad = await client.post("/v1/responses", json={"input": "Hi"})
        unsupported = await client.post(
            "/v1/responses", json={"input": "Hi", "tools": [{"type": "web_search"}]}
        )
    assert bad.status_code == 400 and "messages.0: bad thing" in bad.json()["error"]["message"]
    assert KEY not in bad.text
    assert unsupported.status_code == 400 and "anthropic adapter" in unsupported.json()["error"]["message"]
    assert len(upstream.requests) == 1
