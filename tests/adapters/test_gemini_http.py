"""The Gemini and Vertex adapters end to end: AsyncClient -> Provider(adapter=...) -> a real
loopback Gemini upstream; the three-turn function-calling loop with thought signatures echoed
(the upstream enforces Gemini 3's rule); Vertex OAuth through google-auth's real refresh path
against a loopback token endpoint; failover to a chat-completions provider; the served proxy."""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import google.auth
import google.auth.credentials
import httpx
import pytest

from openresponses import (
    AsyncClient,
    BadRequestError,
    ConfigError,
    Provider,
    RateLimitError,
    ResponseFailedError,
)
from openresponses.middleware import Failover, Retry, RetryPolicy
from openresponses.middleware.failover import RESTARTED_EVENT
from openresponses.proxies import ProxySettings, create_app_from_settings
from openresponses.testing import assert_valid_stream
from openresponses.testing.chat import ChatCompletionsServer, chat_text
from openresponses.testing.gemini import (
    GeminiServer,
    gemini_blocked,
    gemini_context_length_exceeded,
    gemini_cut,
    gemini_error_in_stream,
    gemini_stall,
    gemini_status,
    gemini_text,
    gemini_tool_calls,
)
from openresponses.transports._gemini_contents import SKIP_SIGNATURE
from openresponses.transports.gemini import GeminiDialect, VertexDialect

KEY = "AIzaSyTEST-gemini-key-0123456789abcdef"
TOKEN = "ya29.test-access-token-0123456789"
TOOLS = [
    {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
    {"type": "function", "name": "get_time", "parameters": {"type": "object"}},
]


@pytest.fixture
async def gemini() -> AsyncIterator[GeminiServer]:
    async with GeminiServer(api_key=KEY) as server:
        yield server


def provider(server: GeminiServer, **options: Any) -> Provider:
    options.setdefault("model", "gemini-2.5-flash")
    return Provider("gemini", base_url=server.base_url, adapter="gemini", api_key=KEY, **options)


async def test_stream_and_whole_body(gemini: GeminiServer) -> None:
    gemini.push(
        gemini_text("Paris is the capital.", thoughts="Recall.", thought_signature="U0lH", cached_tokens=3),
        gemini_text("Plain answer"),
    )
    async with AsyncClient(endpoint=provider(gemini)) as client:
        events: list[Any] = []
        async with client.responses.stream(
            model="ignored",
            input="Capital of France?",
            instructions="Be brief.",
            reasoning={"summary": "auto"},
        ) as stream:
            async for event in stream:
                events.append(event)
            final = await stream.get_final_response()
        whole = await client.responses.create(model="ignored", input="Again")
    assert_valid_stream(events)
    assert final.output_text == "Paris is the capital." and final.output[0].type == "reasoning"
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 3
    assert whole.output_text == "Plain answer" and whole.status == "completed"
    first, second = gemini.requests
    assert first.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert second.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert first.headers["x-goog-api-key"] == KEY and "authorization" not in first.headers
    assert first.body == {
        "contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"thinkingConfig": {"includeThoughts": True}},
    }


async def test_three_turn_function_calling_loop_echoes_signatures() -> None:
    """Gemini 3 rule: each model turn's first functionCall must come back with its signature."""
    async with GeminiServer(api_key=KEY, require_signatures=True) as upstream:
        upstream.push(
            gemini_tool_calls([("get_weather", {"city": "Paris"})], thoughts="Need weather.",
                              thought_signature="VEhPVUdIVC0x", signature="Q0FMTC0x"),
            gemini_tool_calls([("get_time", {"tz": "CET"})], signature="Q0FMTC0y"),
            gemini_text("Sunny, 21C, and it is noon.", text_signature="VEVYVC0z"),
        )  # fmt: skip
        async with AsyncClient(endpoint=provider(upstream, model="gemini-3-pro-preview")) as client:
            history: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
            outputs = {"get_weather": '{"temp": 21}', "get_time": "12:00"}
            for turn in range(3):
                response = await client.responses.create(model="m", input=history, tools=TOOLS)
                history += [item.to_dict() for item in response.output]
                calls = [item for item in response.output if item.type == "function_call"]
                if turn < 2:
                    assert len(calls) == 1 and response.status == "completed"
                    history.append(
                        {
                            "type": "function_call_output",
                            "call_id": calls[0].call_id,
                            "output": outputs[calls[0].name],
                        }
                    )
            assert response.output_text == "Sunny, 21C, and it is noon."
            history.append({"role": "user", "content": "Thanks!"})
            await client.responses.create(model="m", input=history, tools=TOOLS)
    bodies = [r.body for r in upstream.requests]
    assert len(bodies) == 4 and upstream.models == ["gemini-3-pro-preview"] * 4
    second = bodies[1]["contents"]
    assert second[1] == {
        "role": "model",
        "parts": [
            {"text": "Need weather.", "thought": True, "thoughtSignature": "VEhPVUdIVC0x"},
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "Q0FMTC0x",
            },
        ],
    }
    assert second[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}],
    }
    third = bodies[2]["contents"]
    assert third[3]["parts"] == [
        {"functionCall": {"name": "get_time", "args": {"tz": "CET"}}, "thoughtSignature": "Q0FMTC0y"}
    ]
    assert third[4]["parts"] == [{"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}}]
    last = bodies[3]["contents"]
    assert last[5] == {
        "role": "model",
        "parts": [{"text": "Sunny, 21C, and it is noon.", "thoughtSignature": "VEVYVC0z"}],
    }
    assert last[6] == {"role": "user", "parts": [{"text": "Thanks!"}]}


async def test_without_the_echo_gemini_3_would_refuse() -> None:
    """The fake upstream enforces the rule, so the loop test above cannot pass by accident."""
    async with GeminiServer(api_key=KEY, require_signatures=True) as upstream:
        history = [
            {"role": "user", "content": "x"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ]
        no_skip = Provider("g", base_url=upstream.base_url, api_key=KEY, model="gemini-3-pro-preview",
                           dialect=GeminiDialect(foreign_signature=None))  # fmt: skip
        async with AsyncClient(endpoint=no_skip) as client:
            with pytest.raises(BadRequestError, match="missing a `thought_signature`"):
                await client.responses.create(model="m", input=history)
        async with AsyncClient(endpoint=provider(upstream)) as client:
            reply = await client.responses.create(model="m", input=history)  # foreign call: skip signature
        assert reply.status == "completed"
        assert upstream.requests[-1].body["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


async def test_a_rejected_key_never_reaches_the_error(gemini: GeminiServer) -> None:
    wrong = "AIzaSyWRONG-key-that-is-echoed-0123456789"
    bad = Provider(
        "gemini", base_url=gemini.base_url, adapter="gemini", api_key=wrong, model="gemini-2.5-flash"
    )
    async with AsyncClient(endpoint=bad) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.responses.create(model="m", input="x")
    error = caught.value
    assert error.code == "invalid_api_key" and not error.retryable
    for text in (str(error), repr(error), json.dumps(error.body), *getattr(error, "__notes__", ())):
        assert wrong not in text


async def test_errors_before_and_inside_the_stream(gemini: GeminiServer) -> None:
    gemini.push(
        gemini_status(429, retry_delay="3s"),
        gemini_context_length_exceeded(),
        gemini_error_in_stream(after_chunks=2, code=500),
        gemini_blocked("SAFETY"),
        gemini_text("Partial answer", finish_reason="MAX_TOKENS"),
    )
    async with AsyncClient(endpoint=provider(gemini)) as client:
        with pytest.raises(RateLimitError) as limited:
            await client.responses.create(model="m", input="x", stream=True)
        assert limited.value.retry_after == 3.0 and limited.value.retryable
        with pytest.raises(BadRequestError) as long:
            await client.responses.create(model="m", input="x", stream=True)
        assert long.value.code == "context_length_exceeded"
        events: list[Any] = []
        with pytest.raises(ResponseFailedError) as failed:
            async with client.responses.stream(model="m", input="x") as stream:
                async for event in stream:
                    events.append(event)
        assert failed.value.retryable and failed.value.code == "server_error"
        assert failed.value.response is not None and failed.value.response.status == "failed"
        assert_valid_stream(events, complete=False)
        refused = await client.responses.create(model="m", input="x")
        assert refused.output[0].content[0].type == "refusal"
        cut_short = await client.responses.create(model="m", input="x")
        assert cut_short.status == "incomplete" and cut_short.output_text == "Partial answer"


async def test_retry_then_success_on_the_same_provider(gemini: GeminiServer) -> None:
    gemini.push(gemini_status(503), gemini_text("Recovered"))
    retried = provider(gemini, middleware=[Retry(RetryPolicy(attempts=2, base_delay=0.01))])
    async with AsyncClient(endpoint=retried) as client:
        reply = await client.responses.create(model="m", input="x")
    assert reply.output_text == "Recovered" and len(gemini.requests) == 2


@pytest.mark.parametrize(
    ("scenario", "midstream"),
    [
        (gemini_status(429, retry_after=30), "raise"),
        (gemini_status(503, message="The model is overloaded. Please try again later."), "raise"),
        (gemini_context_length_exceeded(), "raise"),
        (gemini_error_in_stream(after_chunks=0, code=429), "raise"),
        (gemini_cut(after_chunks=2), "restart"),
        (gemini_cut(after_chunks=2, style="reset"), "restart"),
        (gemini_stall(after_chunks=0), "raise"),
    ],
    ids=["429-retry-after", "503-overloaded", "context-length", "in-stream-quota", "cut", "reset", "stall"],
)
async def test_failover_from_gemini_to_a_chat_provider(
    gemini: GeminiServer, scenario: Any, midstream: str
) -> None:
    gemini.push(scenario)
    async with ChatCompletionsServer([chat_text("Served by chat")]) as chat:
        backup = Provider("chat", base_url=chat.base_url, adapter="chat-completions", model="fake-model")
        chain = Failover([provider(gemini), backup], midstream=midstream, first_token_timeout=1.0)  # type: ignore[arg-type]
        async with AsyncClient(endpoint=chain) as client:
            events: list[Any] = []
            async with client.responses.stream(model="m", input="Tell me") as stream:
                async for event in stream:
                    events.append(event)
                final = await stream.get_final_response()
        assert final.output_text == "Served by chat" and stream.provider == "chat"
        if midstream == "restart":
            assert RESTARTED_EVENT in [e.type for e in events]
        else:
            assert_valid_stream(events)
        assert chat.requests[0].body["messages"] == [{"role": "user", "content": "Tell me"}]
    await gemini.wait_until(lambda s: s.open_connections == 0)


async def test_a_content_filter_refusal_is_not_failed_over(gemini: GeminiServer) -> None:
    gemini.push(gemini_status(400, message="Request blocked due to safety settings."))
    async with ChatCompletionsServer([chat_text("Served by chat")]) as chat:
        backup = Provider("chat", base_url=chat.base_url, adapter="chat-completions", model="fake-model")
        async with AsyncClient(endpoint=Failover([provider(gemini), backup])) as client:
            with pytest.raises(BadRequestError) as caught:
                await client.responses.create(model="m", input="x")
        assert caught.value.code == "content_filter" and chat.requests == []


# -- Vertex AI ------------------------------------------------------------------------------------


async def test_vertex_with_an_injected_token_provider() -> None:
    issued: list[str] = []

    async def token() -> str:
        issued.append(TOKEN)
        return TOKEN

    async with GeminiServer(
        api="vertex", access_token=TOKEN, project="my-proj", location="europe-west4"
    ) as vertex:
        vertex.push(gemini_text("From Vertex"), gemini_tool_calls([("get_time", {})], partial=True, ids=True))
        dialect = VertexDialect(project="my-proj", location="europe-west4", token_provider=token)
        chain = Provider("vertex", base_url=vertex.base_url, model="gemini-2.5-pro", dialect=dialect)
        async with AsyncClient(endpoint=chain) as client:
            reply = await client.responses.create(model="m", input="x", stream=True)
            events = [event async for event in reply]
            called = await client.responses.create(model="m", input="x", tools=TOOLS[1:])
    assert_valid_stream(events)
    assert events[-1].response.output_text == "From Vertex"
    assert called.output[0].call_id == "fc-0" and called.output[0].name == "get_time"
    assert issued == [TOKEN, TOKEN]  # a fresh token per request
    assert vertex.requests[0].path == (
        "/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent"
    )
    assert vertex.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(dialect) and TOKEN not in repr(chain)


async def test_vertex_static_token_as_the_key_is_sent_as_is() -> None:
    async with GeminiServer(api="vertex", access_token=TOKEN) as vertex:
        dialect = VertexDialect(project="my-proj", token_provider=lambda: "never-used-token")
        static = Provider(
            "vertex", base_url=vertex.base_url, api_key=TOKEN, model="gemini-2.5-pro", dialect=dialect
        )
        async with AsyncClient(endpoint=static) as client:
            assert (await client.responses.create(model="m", input="x")).status == "completed"
    assert vertex.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


class RecordingCredentials(google.auth.credentials.Credentials):
    """google-auth credentials whose refresh (blocking, as the real ones) is counted, not sent."""

    def __init__(self) -> None:
        super().__init__()
        self.refreshes: list[str] = []
        self._quota_project_id = "billing-proj"

    def refresh(self, request: Any) -> None:
        self.refreshes.append(threading.current_thread().name)
        time.sleep(0.05)  # a slow token endpoint: concurrent requests must share one refresh
        self.token = TOKEN
        self.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(hours=1)


async def test_vertex_application_default_credentials_refresh_once(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = RecordingCredentials()
    seen: list[Any] = []

    def default(scopes: Any = None, **kwargs: Any) -> tuple[Any, str]:
        seen.append(scopes)
        return credentials, "adc-project"

    monkeypatch.setattr(google.auth, "default", default)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-proj")
    async with GeminiServer(api="vertex", access_token=TOKEN, project="my-proj", location="global") as vertex:
        chain = Provider("vertex", base_url=vertex.base_url, adapter="vertex", model="gemini-2.5-flash")
        async with AsyncClient(endpoint=chain) as client:
            replies = await asyncio.gather(*(client.responses.create(model="m", input="x") for _ in range(4)))
            again = await client.responses.create(model="m", input="x")
    assert all(r.status == "completed" for r in [*replies, again])
    assert seen == [["https://www.googleapis.com/auth/cloud-platform"]]  # loaded once, with the scope
    assert len(credentials.refreshes) == 1 and credentials.refreshes[0] != threading.main_thread().name
    assert {r.headers["authorization"] for r in vertex.requests} == {f"Bearer {TOKEN}"}
    assert {r.headers["x-goog-user-project"] for r in vertex.requests} == {"billing-proj"}
    credentials.expiry = datetime.datetime(2000, 1, 1)  # expired: the next request refreshes again
    async with GeminiServer(api="vertex", access_token=TOKEN) as vertex:
        dialect = VertexDialect(project="my-proj", credentials=credentials)
        async with AsyncClient(
            endpoint=Provider("v", base_url=vertex.base_url, dialect=dialect, model="g")
        ) as client:
            await client.responses.create(model="m", input="x")
    assert len(credentials.refreshes) == 2


async def test_vertex_without_credentials_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    async with GeminiServer(api="vertex") as vertex:
        chain = Provider(
            "vertex", base_url=vertex.base_url, dialect=VertexDialect(project="my-proj"), model="g"
        )
        async with AsyncClient(endpoint=chain) as client:
            with pytest.raises(ConfigError, match="application-default login"):
                await client.responses.create(model="m", input="x")
    assert vertex.requests == []  # nothing was sent


async def test_vertex_rejected_token_is_an_authentication_error() -> None:
    async with GeminiServer(api="vertex", access_token=TOKEN) as vertex:
        dialect = VertexDialect(project="my-proj", token_provider=lambda: "ya29.expired-token-000")
        chain = Provider("vertex", base_url=vertex.base_url, dialect=dialect, model="g")
        async with AsyncClient(endpoint=chain) as client:
            with pytest.raises(Exception) as caught:
                await client.responses.create(model="m", input="x")
    assert getattr(caught.value, "status_code", None) == 401
    assert "ya29.expired-token-000" not in str(caught.value)


# -- the served proxy -----------------------------------------------------------------------------


async def proxy_post(settings: ProxySettings, body: dict[str, Any]) -> httpx.Response:
    app = create_app_from_settings(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy", timeout=10) as client:
            return await client.post("/v1/responses", json=body)


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


async def test_the_gemini_preset_serves_a_gemini_upstream(
    gemini: GeminiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    gemini.push(gemini_tool_calls([("get_weather", {"city": "Paris"})], signature="Q0FMTA=="), gemini_cut())
    settings = ProxySettings(preset="gemini", base_url=gemini.base_url, model="gemini-2.5-flash")
    reply = await proxy_post(settings, {"input": "Weather?", "tools": TOOLS, "stream": True})
    assert reply.status_code == 200
    events = sse_events(reply.text)
    assert_valid_stream(events)
    call = events[-1]["response"]["output"][0]
    assert (call["name"], call["arguments"]) == ("get_weather", '{"city":"Paris"}')
    assert "Q0FMTA==" in call["encrypted_content"]
    assert gemini.requests[0].headers["x-goog-api-key"] == KEY
    cut = sse_events((await proxy_post(settings, {"input": "x", "stream": True})).text)
    assert [e["type"] for e in cut[-2:]] == ["error", "response.failed"]
    assert "response.completed" not in {e["type"] for e in cut}


async def test_the_vertex_preset_reads_project_and_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-east5")
    async with GeminiServer(api="vertex", project="env-proj", location="us-east5") as vertex:
        # A static token through the proxy's upstream key variable: no Google credentials needed.
        monkeypatch.setenv("VERTEX_TOKEN", TOKEN)
        settings = ProxySettings(
            preset="vertex",
            base_url=vertex.base_url,
            model="gemini-2.5-pro",
            upstream_api_key_env="VERTEX_TOKEN",
        )
        reply = await proxy_post(settings, {"input": "x"})
    assert reply.status_code == 200 and reply.json()["output"][0]["content"][0]["text"] == "Hello"
    assert vertex.requests[0].path.startswith(
        "/v1/projects/env-proj/locations/us-east5/publishers/google/models/"
    )
    assert vertex.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_calls_signature_survives_previous_response_id_through_the_store() -> None:
    """Through Stateful the history is rebuilt from the stored output (output_to_input): the
    function call's envelope must come back with it, not the foreign-history placeholder."""
    from openresponses.middleware import Stateful

    async with GeminiServer(api_key=KEY, require_signatures=True) as upstream:
        upstream.push(
            gemini_tool_calls([("get_weather", {"city": "Paris"})], signature="Q0FMTC0x"),
            gemini_text("Sunny."),
        )
        endpoint = provider(upstream, model="gemini-3-pro-preview")
        async with AsyncClient(endpoint=endpoint, middleware=[Stateful()]) as client:
            first = await client.responses.create(model="m", input="Weather in Paris?", tools=TOOLS)
            (call,) = [item for item in first.output if item.type == "function_call"]
            output = {"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 21}'}
            second = await client.responses.create(
                model="m", previous_response_id=first.id, input=[output], tools=TOOLS
            )
    assert second.output_text == "Sunny."
    model_turn = upstream.requests[1].body["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == "Q0FMTC0x"
