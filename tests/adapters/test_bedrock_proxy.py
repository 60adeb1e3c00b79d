"""The served proxy with the two Bedrock presets: ``bedrock`` (Bedrock's own Responses API,
passed through with the Bedrock API key) against a ``ScriptedServer`` standing in for
``/openai/v1``, and ``bedrock-converse`` against the loopback ``BedrockServer`` (SigV4 from the
AWS credential chain, or the API key as a bearer token)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from openresponses import AsyncClient, ConfigError
from openresponses._sse import SSEDecoder
from openresponses.proxies import PRESETS, ProxySettings, create_app_from_settings
from openresponses.testing import ScriptedServer, assert_valid_stream, text
from openresponses.testing.bedrock import (
    TEST_CREDENTIALS,
    BedrockServer,
    bedrock_status,
    bedrock_text,
    bedrock_tool_calls,
)

API_KEY = "ABSKQmVkcm9ja0FQSUtleS1wcm94eS0wMTIzNDU2Nzg5"


@contextlib.asynccontextmanager
async def proxy(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling the proxy app in process, its lifespan run."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy", timeout=10) as client:
            yield client


def sse_events(body: bytes) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    events = decoder.feed(body) + decoder.feed(b"\n\n")
    return [json.loads(e.data) for e in events if e.data and e.data != b"[DONE]"]


def test_the_presets() -> None:
    native, converse = PRESETS["bedrock"], PRESETS["bedrock-converse"]
    assert (native.port, native.api, native.api_key_env) == (8011, "responses", "AWS_BEARER_TOKEN_BEDROCK")
    assert (
        native.base_url == "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1" and native.key_required
    )
    assert (converse.port, converse.api) == (8012, "bedrock-converse")
    assert (
        converse.base_url == "https://bedrock-runtime.us-east-1.amazonaws.com" and not converse.key_required
    )


async def test_the_native_preset_passes_through_with_the_bedrock_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", API_KEY)
    async with ScriptedServer(
        [text("Hi from Bedrock", reasoning="Greet")], prefix="/openai/v1", api_key=API_KEY
    ) as up:
        app = create_app_from_settings(ProxySettings(preset="bedrock", base_url=up.base_url))
        async with (
            proxy(app) as http,
            AsyncClient(base_url="http://proxy/v1", api_key="unused", http_client=http) as client,
        ):
            events: list[Any] = []
            async with client.responses.stream(model="openai.gpt-oss-120b-1:0", input="Hello") as stream:
                async for event in stream:
                    events.append(event)
                final = await stream.get_final_response()
    assert_valid_stream(events)
    assert final.output_text == "Hi from Bedrock"
    sent = up.requests[0]
    assert sent.path == "/openai/v1/responses" and sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["model"] == "openai.gpt-oss-120b-1:0"


def test_the_native_preset_needs_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    with pytest.raises(ConfigError, match="AWS_BEARER_TOKEN_BEDROCK"):
        create_app_from_settings(ProxySettings(preset="bedrock"))


@pytest.fixture
def aws_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The standard AWS chain finds the test credentials in the environment, nothing else."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


async def test_the_converse_preset_signs_and_translates(aws_chain: None) -> None:
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    async with BedrockServer(
        [
            bedrock_tool_calls([("get_weather", '{"city":"Paris"}', "tooluse_1")], reasoning="Look it up"),
            bedrock_text("18C."),
        ]
    ) as up:
        settings = ProxySettings(preset="bedrock-converse", base_url=up.base_url, model="anthropic.claude-x")
        async with (
            proxy(create_app_from_settings(settings)) as http,
            AsyncClient(base_url="http://proxy/v1", api_key="unused", http_client=http) as client,
        ):
            first = await client.responses.create(model="any", input="Weather?", tools=[weather])
            call = next(item for item in first.output if item.type == "function_call")
            history = [
                {"role": "user", "content": "Weather?"},
                *[i.model_dump(exclude_none=True) for i in first.output],
            ]
            history.append({"type": "function_call_output", "call_id": call.call_id, "output": "18C"})
            second = await client.responses.create(model="any", input=history, tools=[weather], stream=True)
            events = [event async for event in second]
    assert_valid_stream(events)
    assert call.call_id == "tooluse_1" and events[-1].response.output_text == "18C."  # type: ignore[union-attr]
    requests = up.bedrock_requests
    assert [r.auth for r in requests] == ["sigv4", "sigv4"]
    assert [r.model_id for r in requests] == ["anthropic.claude-x", "anthropic.claude-x"]
    assert not requests[0].stream and requests[1].stream
    assert requests[1].body["messages"][1]["content"][0] == {
        "reasoningContent": {"reasoningText": {"text": "Look it up", "signature": "EqQBCkYIARgCIkDsig=="}}
    }


async def test_the_converse_preset_uses_the_api_key_when_set(
    aws_chain: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", API_KEY)
    async with BedrockServer([bedrock_text("keyed")], api_key=API_KEY, credentials=None) as up:
        settings = ProxySettings(preset="bedrock-converse", base_url=up.base_url, model="anthropic.claude-x")
        async with proxy(create_app_from_settings(settings)) as client:
            reply = await client.post("/v1/responses", json={"input": "x", "stream": True})
    events = sse_events(reply.content)
    assert events[-1]["type"] == "response.completed" and reply.text.rstrip().endswith("data: [DONE]")
    assert [r.auth for r in up.bedrock_requests] == ["bearer"]


async def test_bedrock_errors_reach_the_proxys_client_typed(aws_chain: None) -> None:
    async with BedrockServer(
        [bedrock_status(400, "ValidationException", "Input is too long for requested model.")]
    ) as up:
        settings = ProxySettings(preset="bedrock-converse", base_url=up.base_url, model="anthropic.claude-x")
        async with proxy(create_app_from_settings(settings)) as client:
            reply = await client.post("/v1/responses", json={"input": "x"})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "context_length_exceeded"
    assert TEST_CREDENTIALS.secret_key not in reply.text


async def test_the_converse_preset_follows_aws_region(
    aws_chain: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openresponses.proxies.upstream import build_upstream

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    upstream = build_upstream(ProxySettings(preset="bedrock-converse", store="none"))
    try:
        assert "https://bedrock-runtime.eu-west-1.amazonaws.com" in upstream.label
    finally:
        await upstream.aclose()
