"""The proxy over a Chat-Completions upstream (``ChatCompletionsServer``): translation end to end,
vendor error shapes, ``GET /v1/models``, and state (``previous_response_id``) in memory, SQLite
and Redis shared between two proxy processes' worth of apps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from openresponses import (
    APIStatusError,
    AsyncClient,
    EventStream,
    Handler,
    Provider,
    Reply,
    Request,
    ResponseFailedError,
)
from openresponses.proxies import ProxySettings, create_app_from_settings
from openresponses.proxies._http import ReplyThen
from openresponses.testing import ScriptedServer, assert_valid_stream
from openresponses.testing.chat import (
    ChatCompletionsServer,
    chat_cut,
    chat_error_in_stream,
    chat_status,
    chat_text,
    chat_tool_calls,
)

from .conftest import Served, Validate, asgi_client, parse_sse

HF_KEY = "hf_SECRETtoken0123456789abcdef"
Serve = Callable[[Starlette], Served]


@pytest.fixture
async def chat_upstream() -> AsyncIterator[ChatCompletionsServer]:
    async with ChatCompletionsServer() as server:
        yield server


def ollama_app(upstream: ChatCompletionsServer, **changes: Any) -> Starlette:
    settings = ProxySettings(preset="ollama", base_url=upstream.base_url, model="qwen3:8b", **changes)
    return create_app_from_settings(settings)


async def test_our_client_streams_through_a_chat_upstream(
    chat_upstream: ChatCompletionsServer, serve: Serve, validate_spec: Validate
) -> None:
    chat_upstream.push(
        chat_text(
            "Paris is the capital.", reasoning="Recall geography", reasoning_field="reasoning", chunks=[6, 6]
        ),
        chat_text("Plain answer", reasoning_field="reasoning"),
    )
    with serve(ollama_app(chat_upstream)) as served:
        async with AsyncClient(base_url=served.base_url, api_key="unused") as client:
            events: list[Any] = []
            async with client.responses.stream(model="anything", input="Capital of France?") as stream:
                async for event in stream:
                    events.append(event)
                final = await stream.get_final_response()
            whole = await client.responses.create(model="anything", input="Again")
    assert_valid_stream(events)
    assert final.output_text == "Paris is the capital."
    reasoning = final.output[0]
    assert reasoning.type == "reasoning"
    assert whole.output_text == "Plain answer"
    validate_spec("ResponseResource", whole.to_dict())
    sent = chat_upstream.requests[0].body
    assert sent["model"] == "qwen3:8b" and sent["stream"] is True
    assert sent["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert sent["stream_options"] == {"include_usage": True}


async def test_tool_calls_are_translated(chat_upstream: ChatCompletionsServer) -> None:
    chat_upstream.push(chat_tool_calls([("get_weather", '{"city":"Paris"}'), ("get_time", '{"tz":"CET"}')]))
    tools = [
        {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}}
        for name in ("get_weather", "get_time")
    ]
    async with asgi_client(ollama_app(chat_upstream)) as client:
        reply = await client.post(
            "/v1/responses", json={"input": "Weather and time?", "tools": tools, "stream": True}
        )
    events, done = parse_sse(reply.text)
    assert done
    assert_valid_stream(events)
    calls = [item for item in events[-1]["response"]["output"] if item["type"] == "function_call"]
    assert [(c["name"], c["arguments"]) for c in calls] == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_time", '{"tz":"CET"}'),
    ]


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        (chat_cut(after_chunks=3), "upstream_protocol_error"),  # Ollama: EOF, no finish_reason
        (chat_error_in_stream(after_chunks=3, style="openrouter"), None),
        (chat_error_in_stream(after_chunks=3, style="tgi"), None),
    ],
    ids=["cut", "openrouter-error-chunk", "tgi-error-then-done"],
)
async def test_chat_stream_failures_end_failed(
    chat_upstream: ChatCompletionsServer, validate_spec: Validate, scenario: Any, code: str | None
) -> None:
    chat_upstream.push(scenario)
    async with asgi_client(ollama_app(chat_upstream)) as client:
        reply = await client.post("/v1/responses", json={"input": "x", "stream": True})
    assert reply.status_code == 200
    events, done = parse_sse(reply.text)
    assert done
    assert_valid_stream(events)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert "response.completed" not in {e["type"] for e in events}
    validate_spec("ResponseResource", events[-1]["response"])
    if code is not None:
        assert events[-2]["error"]["code"] == code


async def test_failed_stream_reaches_our_client_as_failed(
    chat_upstream: ChatCompletionsServer, serve: Serve
) -> None:
    chat_upstream.push(chat_cut(after_chunks=3, how="reset"))
    with serve(ollama_app(chat_upstream)) as served:
        async with AsyncClient(base_url=served.base_url, api_key="unused") as client:
            with pytest.raises(ResponseFailedError) as caught:
                async with client.responses.stream(model="m", input="x") as stream:
                    async for _ in stream:
                        pass
    assert caught.value.response is not None and caught.value.response.status == "failed"


@pytest.mark.parametrize(
    ("scenario", "status", "fragment"),
    [
        (chat_status(404, message="model 'zz' not found"), 404, "model 'zz' not found"),
        (
            chat_status(422, style="tgi", message="Input validation error: inputs too long"),
            422,
            "inputs too long",
        ),
        (chat_status(400, style="vllm_flat", message="bad temperature"), 400, "bad temperature"),
        (chat_status(502, style="html"), 502, ""),
    ],
    ids=["openai", "tgi", "vllm-flat", "html"],
)
async def test_vendor_error_shapes_become_spec_errors(
    chat_upstream: ChatCompletionsServer, validate_spec: Validate, scenario: Any, status: int, fragment: str
) -> None:
    chat_upstream.push(scenario, scenario)
    async with asgi_client(ollama_app(chat_upstream)) as client:
        reply = await client.post("/v1/responses", json={"input": "x"})
    assert reply.status_code == status
    error = reply.json()["error"]
    validate_spec("ErrorPayload", error)
    assert fragment in error["message"]
    assert "<html>" not in error["message"]


async def test_huggingface_key_stays_in_the_proxy(
    chat_upstream: ChatCompletionsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_KEY)
    echo = {"error": f"Authorization header is invalid: Bearer {HF_KEY}", "error_type": "authentication"}
    chat_upstream.push(chat_status(401, body=echo), chat_text("ok"))
    app = create_app_from_settings(ProxySettings(preset="huggingface", base_url=chat_upstream.base_url))
    async with asgi_client(app) as client:
        denied = await client.post("/v1/responses", json={"input": "x"})
        fine = await client.post("/v1/responses", json={"input": "x", "reasoning": {"effort": "high"}})
        models = await client.get("/v1/models")
    assert denied.status_code == 502 and denied.json()["error"]["code"] == "upstream_authentication_error"
    for reply in (denied, fine, models):
        assert HF_KEY not in reply.text
    assert fine.status_code == 200
    sent = chat_upstream.requests[1]
    assert sent.headers["authorization"] == f"Bearer {HF_KEY}"
    assert sent.body["model"] == "tgi"  # TGI needs a model name and ignores it
    assert "reasoning_effort" not in sent.body  # listed as dropped by the preset
    assert models.status_code == 200 and models.json()["data"][0]["id"] == "fake-model"
    assert chat_upstream.requests[-1].headers["authorization"] == f"Bearer {HF_KEY}"


async def test_a_key_echoed_in_the_request_id_header_stays_in_the_proxy(
    chat_upstream: ChatCompletionsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server may echo the caller's credential anywhere, the request id header included; the
    # proxy passes that id back (x-upstream-request-id) and the attempt span records it.
    key = "sk-echoed-REQUESTID-0123456789"
    monkeypatch.setenv("ECHO_UPSTREAM_KEY", key)
    echoed = {"x-request-id": f"req-{key}"}
    chat_upstream.push(
        chat_status(429, retry_after=0, headers=echoed),
        chat_status(429, retry_after=0, headers=echoed),
        chat_text("ok", headers=echoed),
        chat_text("ok", headers=echoed),
    )
    settings = ProxySettings(
        preset="vllm", base_url=chat_upstream.base_url, model="m", upstream_api_key_env="ECHO_UPSTREAM_KEY"
    )
    async with asgi_client(create_app_from_settings(settings)) as client:
        failed = await client.post("/v1/responses", json={"input": "x"})
        fine = await client.post("/v1/responses", json={"input": "x"})
        streamed = await client.post("/v1/responses", json={"input": "x", "stream": True})
    assert failed.status_code == 429 and fine.status_code == 200 and streamed.status_code == 200
    assert failed.headers["x-upstream-request-id"].startswith("req-[redacted]")
    for reply in (failed, fine, streamed):
        assert key not in reply.text and key not in str(reply.headers)
    assert chat_upstream.requests[0].headers["authorization"] == f"Bearer {key}"  # it was sent


async def test_the_in_process_adapter_cleans_the_request_id_too(chat_upstream: ChatCompletionsServer) -> None:
    key = "sk-echoed-INPROCESS-0123456789"
    echoed = {"x-request-id": f"req-{key}"}
    chat_upstream.push(
        chat_text("ok", headers=echoed), chat_status(400, headers=echoed), chat_text("s", headers=echoed)
    )
    seen: list[str | None] = []

    async def record(request: Request, call_next: Handler) -> Reply:
        reply = await call_next(request)
        if isinstance(reply, EventStream):
            seen.append(reply.request_id)  # what Tracing puts on the attempt span
        return reply

    provider = Provider(
        "vllm", base_url=chat_upstream.base_url, adapter="chat-completions", api_key=key, middleware=[record]
    )
    async with AsyncClient(endpoint=provider) as client:
        reply = await client.responses.create(model="m", input="x")
        with pytest.raises(APIStatusError) as info:
            await client.responses.create(model="m", input="x")
        async with client.responses.stream(model="m", input="x") as stream:
            async for _ in stream:
                pass
    assert reply.request_id is not None and reply.request_id.startswith("req-[redacted]")
    assert info.value.request_id is not None and info.value.request_id.startswith("req-[redacted]")
    assert key not in repr(info.value) and key not in str(info.value.headers)
    assert len(seen) == 1 and seen[0] is not None and seen[0].startswith("req-[redacted]")


@pytest.mark.parametrize("stream", [False, True])
async def test_a_probe_with_max_output_tokens_1_works(
    chat_upstream: ChatCompletionsServer, stream: bool
) -> None:
    # Codex-style clients probe with empty input and max_output_tokens=1 (the spec's minimum is
    # 16; a Chat Completions upstream takes any max_tokens from 1).
    chat_upstream.push(chat_text("k", finish_reason="length"), chat_text("x"))
    async with asgi_client(ollama_app(chat_upstream)) as client:
        probe = await client.post(
            "/v1/responses", json={"input": [], "max_output_tokens": 1, "stream": stream}
        )
        zero = await client.post("/v1/responses", json={"input": "x", "max_output_tokens": 0})
        text = await client.post("/v1/responses", json={"input": "x", "max_output_tokens": "1"})
    assert probe.status_code == 200, probe.text
    body = parse_sse(probe.text)[0][-1]["response"] if stream else probe.json()
    assert body["status"] == "incomplete" and body["max_output_tokens"] == 1
    sent = chat_upstream.requests[0].body
    assert sent["max_tokens"] == 1 and sent["messages"] == [{"role": "user", "content": ""}]
    for refused in (zero, text):
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "max_output_tokens"
    assert len(chat_upstream.requests) == 1


async def test_a_native_upstream_keeps_the_spec_minimum(scripted_server: ScriptedServer) -> None:
    settings = ProxySettings(preset="vllm", api="responses", base_url=scripted_server.base_url, store="none")
    async with asgi_client(create_app_from_settings(settings)) as client:
        reply = await client.post("/v1/responses", json={"input": "", "max_output_tokens": 1})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "max_output_tokens"
    assert scripted_server.requests == []


async def test_output_items_sent_back_raw_are_accepted(chat_upstream: ChatCompletionsServer) -> None:
    # The OpenAI-SDK pattern: input = previous input + response.output + the next turn, as JSON.
    chat_upstream.push(
        chat_text("Paris.", reasoning="Recall geography", reasoning_field="reasoning"),
        chat_text("About 2 million."),
    )
    async with asgi_client(ollama_app(chat_upstream, store="none")) as client:
        first = (await client.post("/v1/responses", json={"input": "Capital of France?"})).json()
        assert first["output"][0]["type"] == "reasoning" and first["output"][0]["content"]
        turn = [{"role": "user", "content": "Capital of France?"}, *first["output"]]
        second = await client.post(
            "/v1/responses", json={"input": [*turn, {"role": "user", "content": "Size?"}]}
        )
        bad = await client.post(
            "/v1/responses", json={"input": [{"type": "message", "role": "user", "content": 5}]}
        )
    assert second.status_code == 200, second.text
    messages = chat_upstream.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "Paris."
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["param"] == "input.0.content"
    assert "tagged-union" not in error["message"] and "constrained-str" not in error["message"]


async def test_without_trace_the_callers_trace_context_is_passed_on(
    chat_upstream: ChatCompletionsServer,
) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    chat_upstream.push(chat_text("a"), chat_text("b"), chat_text("c"))
    async with asgi_client(ollama_app(chat_upstream, store="none")) as client:
        await client.post(
            "/v1/responses", json={"input": "x"}, headers={"traceparent": parent, "tracestate": "k=v"}
        )
        await client.post("/v1/responses", json={"input": "x"}, headers={"traceparent": "garbage\tvalue"})
        await client.post("/v1/responses", json={"input": "x"})
    first, malformed, none = (r.headers for r in chat_upstream.requests)
    assert first["traceparent"] == parent and first["tracestate"] == "k=v"
    assert "traceparent" not in malformed and "traceparent" not in none


async def test_models_passthrough_errors(chat_upstream: ChatCompletionsServer) -> None:
    app = create_app_from_settings(ProxySettings(preset="vllm", base_url="http://127.0.0.1:9/v1"))
    async with asgi_client(app) as client:
        reply = await client.get("/v1/models")
    assert reply.status_code == 502 and reply.json()["error"]["code"] == "upstream_unreachable"


# -- state ------------------------------------------------------------------------------------


async def test_previous_response_id_is_expanded_by_the_proxy(chat_upstream: ChatCompletionsServer) -> None:
    chat_upstream.push(chat_text("Nice to meet you, Ada."), chat_text("Your name is Ada."))
    async with asgi_client(ollama_app(chat_upstream)) as client:
        first = (await client.post("/v1/responses", json={"input": "My name is Ada."})).json()
        second = await client.post(
            "/v1/responses",
            json={"input": "What is my name?", "previous_response_id": first["id"], "stream": True},
        )
        unknown = await client.post("/v1/responses", json={"input": "x", "previous_response_id": "resp_nope"})
    events, _ = parse_sse(second.text)
    assert events[-1]["response"]["previous_response_id"] == first["id"]
    history = chat_upstream.requests[1].body["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["content"] == "Nice to meet you, Ada."
    assert "previous_response_id" not in chat_upstream.requests[1].body
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "previous_response_not_found"
    assert unknown.json()["error"]["param"] == "previous_response_id"


async def test_a_served_chain_continues_at_once_on_another_connection(
    chat_upstream: ChatCompletionsServer, serve: Serve
) -> None:
    """The memory store is written after the reply (``CallContext.after_reply``), before the proxy
    reads anything else: a follow-up sent the moment the reply arrives, on a second connection,
    finds it every time."""
    rounds = 20
    for number in range(rounds):
        chat_upstream.push(chat_text(f"Noted {number}."), chat_text(f"It was {number}."))
    with serve(ollama_app(chat_upstream)) as served:
        async with (
            AsyncClient(base_url=served.base_url, api_key="x") as one,
            AsyncClient(base_url=served.base_url, api_key="x") as other,
        ):
            for number in range(rounds):
                first = await one.responses.create(model="m", input=f"Remember {number}.")
                second = await other.responses.create(
                    model="m", input="Which?", previous_response_id=first.id
                )
                assert second.previous_response_id == first.id
    sent = [request.body["messages"] for request in chat_upstream.requests[1::2]]
    assert [messages[1]["content"] for messages in sent] == [f"Noted {n}." for n in range(rounds)]


async def test_work_after_the_reply_runs_even_when_sending_fails(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    def fails() -> None:
        ran.append("fails")
        raise RuntimeError("bug")

    async def send(message: Any) -> None:
        raise OSError("the client is gone")

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    work = [fails, lambda: ran.append("second")]
    reply = ReplyThen(b"{}", work, media_type="application/json")
    with caplog.at_level(logging.ERROR, logger="openresponses.proxy"), pytest.raises(OSError):
        await reply({"type": "http"}, receive, send)
    assert ran == ["fails", "second"]  # each ran once, in order, though one failed
    assert work == []  # cleared: the work refers to the call it stores
    assert "work after the reply failed" in caplog.text


async def test_store_false_is_respected(chat_upstream: ChatCompletionsServer) -> None:
    async with asgi_client(ollama_app(chat_upstream)) as client:
        first = (await client.post("/v1/responses", json={"input": "Remember 7.", "store": False})).json()
        follow = await client.post(
            "/v1/responses", json={"input": "Number?", "previous_response_id": first["id"]}
        )
    assert first["store"] is False
    assert follow.status_code == 404


async def test_store_none_rejects_previous_response_id(chat_upstream: ChatCompletionsServer) -> None:
    async with asgi_client(ollama_app(chat_upstream, store="none")) as client:
        reply = await client.post("/v1/responses", json={"input": "x", "previous_response_id": "resp_1"})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "previous_response_id"
    assert chat_upstream.requests == []


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_shared_store_continues_a_chain_on_another_worker(
    chat_upstream: ChatCompletionsServer, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    store = (
        f"sqlite:{tmp_path / 'responses.db'}" if kind == "sqlite" else request.getfixturevalue("redis_url")
    )
    chat_upstream.push(chat_text("Stored on worker one."), chat_text("Continued on worker two."))
    # Two apps, as two uvicorn workers would build them from the same settings.
    settings = ProxySettings(
        preset="ollama", base_url=chat_upstream.base_url, model="qwen3:8b", store=store, workers=2
    )
    one, two = create_app_from_settings(settings), create_app_from_settings(settings)
    async with asgi_client(one) as first_worker:
        first = (await first_worker.post("/v1/responses", json={"input": "Hello"})).json()
    assert first["store"] is True
    async with asgi_client(two) as second_worker:
        second = await second_worker.post(
            "/v1/responses", json={"input": "Go on", "previous_response_id": first["id"]}
        )
    assert second.status_code == 200
    assert [m["role"] for m in chat_upstream.requests[1].body["messages"]] == ["user", "assistant", "user"]


async def test_the_cache_flag_answers_repeats_without_the_upstream(
    chat_upstream: ChatCompletionsServer, tmp_path: Any
) -> None:
    chat_upstream.push(chat_text("Paris."))
    app = ollama_app(chat_upstream, cache=f"sqlite:{tmp_path / 'cache.db'}")
    async with asgi_client(app) as http:
        body = {"model": "m", "input": "What is the capital of France?"}
        first = await http.post("/v1/responses", json=body)
        again = await http.post("/v1/responses", json={**body, "stream": True})
    assert [first.headers["x-cache-status"], again.headers["x-cache-status"]] == ["MISS", "HIT"]
    assert first.json()["output"][0]["content"][0]["text"] == "Paris."
    events, _ = parse_sse(again.text)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["openresponses:cache"]["layer"] == "exact"
    assert len(chat_upstream.requests) == 1  # the repeat never reached the upstream


def test_the_cache_flag_is_checked() -> None:
    from openresponses import ConfigError

    with pytest.raises(ConfigError, match="--cache"):
        ProxySettings(preset="ollama", cache="none").validate()
    with pytest.raises(ConfigError, match="--cache"):
        ProxySettings(preset="ollama", cache="bogus").validate()
    with pytest.raises(ConfigError, match="each worker would cache apart"):
        ProxySettings(preset="ollama", cache="memory", workers=2, store="sqlite:/tmp/x.db").validate()


async def test_an_unknown_nested_key_is_a_400_naming_its_path_and_nothing_is_sent(
    chat_upstream: ChatCompletionsServer,
) -> None:
    # Models keep unknown keys; the translation would read past them (a vendor's cache_control,
    # a typo): refused before the upstream is called, the path in `param`.
    part = {"type": "input_text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    async with asgi_client(ollama_app(chat_upstream)) as client:
        reply = await client.post(
            "/v1/responses", json={"input": [{"type": "message", "role": "user", "content": [part]}]}
        )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == "input.0.content.0.cache_control"
    assert "'input.0.content.0.cache_control' is not supported" in error["message"]
    assert chat_upstream.requests == []


async def test_an_upstream_refusing_the_proxys_key_is_a_502_not_the_callers_401(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The caller's key to the proxy is right; the proxy's key to the upstream is not. A 401 (with
    # WWW-Authenticate) would tell the caller to fix a key that is not theirs.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-upstream-key-0123456789")
    monkeypatch.setenv("PROXY_INBOUND_KEY", "sk-inbound-key-0123456789")
    async with ChatCompletionsServer(api_key="sk-right-upstream-key-0123456789") as upstream:
        settings = ProxySettings(
            preset="openai",
            api="chat-completions",
            base_url=upstream.base_url,
            api_key_env="PROXY_INBOUND_KEY",
        )
        headers = {"authorization": "Bearer sk-inbound-key-0123456789"}
        async with asgi_client(create_app_from_settings(settings)) as client:
            plain = await client.post("/v1/responses", json={"model": "m", "input": "x"}, headers=headers)
            streamed = await client.post(
                "/v1/responses", json={"model": "m", "input": "x", "stream": True}, headers=headers
            )
            models = await client.get("/v1/models", headers=headers)
            caller_wrong = await client.post(
                "/v1/responses", json={"model": "m", "input": "x"}, headers={"authorization": "Bearer nope"}
            )
    for reply in (plain, streamed, models):
        assert reply.status_code == 502, reply.text
        assert "www-authenticate" not in reply.headers
        error = reply.json()["error"]
        assert error["code"] == "upstream_authentication_error" and error["type"] == "server_error"
        assert "not yours" in error["message"]
        assert "sk-wrong-upstream-key-0123456789" not in reply.text
    assert caller_wrong.status_code == 401 and caller_wrong.json()["error"]["code"] == "invalid_api_key"
