"""The app in process (``httpx.ASGITransport``): bodies, validation, auth, limits, error mapping.

The upstream is a real ``ScriptedServer`` on loopback speaking Open Responses (the ``openai``
preset's native passthrough pointed at it). Streaming behaviour that needs a real socket
(disconnects, latency) is in test_served.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from openresponses.proxies import ProxySettings, create_app_from_settings
from openresponses.testing import (
    ScriptedServer,
    assert_valid_stream,
    failed,
    function_call,
    malformed,
    reset_before_headers,
    reset_mid_stream,
    status,
    text,
    truncated,
)

from .conftest import INBOUND_KEY, UPSTREAM_KEY, Validate, asgi_client, parse_sse

MakeApp = Callable[..., Starlette]
RESPONSE_KEYS = 31


async def test_non_stream_returns_the_whole_response(
    scripted_server: ScriptedServer, make_app: MakeApp, validate_spec: Validate
) -> None:
    scripted_server.push(text("Hi there", reasoning="Greet"))
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "Hello", "temperature": 0.5})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert len(body) == RESPONSE_KEYS
    validate_spec("ResponseResource", body)
    assert body["status"] == "completed"
    assert body["output"][-1]["content"][0]["text"] == "Hi there"
    sent = scripted_server.requests[0]
    assert sent.body == {"model": "m", "input": "Hello", "temperature": 0.5}
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"


async def test_stream_relays_spec_events_then_done(
    scripted_server: ScriptedServer, make_app: MakeApp, validate_spec: Validate
) -> None:
    scripted_server.push(text("One two three", reasoning="Count"))
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "Count", "stream": True})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events, done = parse_sse(reply.text)
    assert done
    assert_valid_stream(events)
    assert events[-1]["type"] == "response.completed"
    validate_spec("ResponseResource", events[-1]["response"])
    assert scripted_server.requests[0].body["stream"] is True


async def test_function_call_stream(scripted_server: ScriptedServer, make_app: MakeApp) -> None:
    scripted_server.push(function_call("get_weather", {"city": "Paris"}))
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "Weather?", "stream": True})
    events, _ = parse_sse(reply.text)
    assert_valid_stream(events)
    item = events[-1]["response"]["output"][0]
    assert item["type"] == "function_call" and json.loads(item["arguments"]) == {"city": "Paris"}


# -- inbound validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": 3, "input": "x"}, "model", "invalid_request"),
        ({"model": "m", "input": "x", "max_output_tokens": 2}, "max_output_tokens", "invalid_request"),
        ({"model": "m", "input": 5}, "input", "invalid_request"),
        ({"model": "m", "tools": [{"type": "function"}]}, "tools.0.name", "invalid_request"),
        ({"model": "m", "metadata": {"a": 1}}, "metadata.a", "invalid_request"),
        ({"model": "m", "input": "x", "stream": "yes"}, "stream", "invalid_request"),
    ],
)
async def test_invalid_bodies_name_the_field_and_send_nothing(
    scripted_server: ScriptedServer,
    make_app: MakeApp,
    validate_spec: Validate,
    body: dict[str, Any],
    param: str,
    code: str,
) -> None:
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json=body)
    assert reply.status_code == 400
    error = reply.json()["error"]
    validate_spec("ErrorPayload", error)
    assert error["type"] == "invalid_request_error" and error["code"] == code
    assert error["param"] == param and param.split(".")[0] in error["message"]
    assert scripted_server.requests == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"", "empty"),
        # Deeper than json's recursion guard: was a 500 (RecursionError).
        (b'{"model": "m", "input": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nests too deeply"),
        (b'{"model": "m", "input": "\xff"}', "not valid JSON"),
    ],
)
async def test_non_json_bodies_are_400(
    scripted_server: ScriptedServer, make_app: MakeApp, content: bytes, fragment: str
) -> None:
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post(
            "/v1/responses", content=content, headers={"content-type": "application/json"}
        )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "invalid_json" and fragment in reply.json()["error"]["message"]
    assert scripted_server.requests == []


@pytest.mark.parametrize(
    "content",
    [
        b'\xef\xbb\xbf{"model": "m", "input": "caf\xc3\xa9"}',  # UTF-8 with a BOM
        '{"model": "m", "input": "café"}'.encode("utf-16"),  # json.loads detects UTF-16 and -32
        '{"model": "m", "input": "café"}'.encode("utf-16-le"),  # without a BOM too
        '{"model": "m", "input": "café"}'.encode("utf-16-be"),
        '{"model": "m", "input": "café"}'.encode("utf-32-le"),
    ],
    ids=["utf-8-bom", "utf-16", "utf-16-le", "utf-16-be", "utf-32-le"],
)
async def test_json_in_other_unicode_encodings_is_read(
    scripted_server: ScriptedServer, make_app: MakeApp, content: bytes
) -> None:
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post(
            "/v1/responses", content=content, headers={"content-type": "application/json"}
        )
    assert reply.status_code == 200, reply.text
    assert "café" in str(scripted_server.requests[0].body["input"])


async def test_body_limit_413_declared_and_streamed(
    scripted_server: ScriptedServer, make_app: MakeApp
) -> None:
    app = make_app(scripted_server.base_url, max_body_bytes=2048)
    big = {"model": "m", "input": "x" * 4096}

    async def chunked() -> Any:  # no content-length: the limit is enforced while reading
        data = json.dumps(big).encode()
        for start in range(0, len(data), 512):
            yield data[start : start + 512]

    async with asgi_client(app) as client:
        declared = await client.post("/v1/responses", json=big)
        streamed = await client.post("/v1/responses", content=chunked())
        small = await client.post("/v1/responses", json={"model": "m", "input": "x"})
    for reply in (declared, streamed):
        assert reply.status_code == 413
        assert (
            reply.json()["error"]["code"] == "request_too_large"
            and "2048" in reply.json()["error"]["message"]
        )
    assert small.status_code == 200
    assert len(scripted_server.requests) == 1


async def test_compact_is_validated_and_forwarded(
    scripted_server: ScriptedServer, make_app: MakeApp, validate_spec: Validate
) -> None:
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        missing = await client.post("/v1/responses/compact", json={"input": "x"})
        reply = await client.post("/v1/responses/compact", json={"model": "m", "input": "Summarise me"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"
    assert reply.status_code == 200
    validate_spec("CompactResource", reply.json())
    assert scripted_server.requests[-1].path == "/v1/responses/compact"


async def test_unknown_routes_and_methods_use_the_error_shape(
    scripted_server: ScriptedServer, make_app: MakeApp, validate_spec: Validate
) -> None:
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        missing = await client.get("/v1/nothing")
        wrong = await client.get("/v1/responses")
        health = await client.get("/health")
    assert missing.status_code == 404 and wrong.status_code == 405
    for reply in (missing, wrong):
        validate_spec("ErrorPayload", reply.json()["error"])
    assert health.status_code == 200 and health.json() == {"status": "ok"}


# -- inbound auth -----------------------------------------------------------------------------


async def test_inbound_key_is_required(
    scripted_server: ScriptedServer,
    make_app: MakeApp,
    monkeypatch: pytest.MonkeyPatch,
    validate_spec: Validate,
) -> None:
    monkeypatch.setenv("PROXY_KEY", INBOUND_KEY)
    app = make_app(scripted_server.base_url, api_key_env="PROXY_KEY")
    body = {"model": "m", "input": "x"}
    async with asgi_client(app) as client:
        none = await client.post("/v1/responses", json=body)
        wrong = await client.post("/v1/responses", json=body, headers={"authorization": "Bearer nope"})
        basic = await client.post(
            "/v1/responses", json=body, headers={"authorization": f"Basic {INBOUND_KEY}"}
        )
        models = await client.get("/v1/models")
        health = await client.get("/health")
        good = await client.post(
            "/v1/responses", json=body, headers={"authorization": f"Bearer {INBOUND_KEY}"}
        )
    for reply in (none, wrong, basic, models):
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == "Bearer"
        validate_spec("ErrorPayload", reply.json()["error"])
        assert reply.json()["error"]["code"] == "invalid_api_key"
        assert INBOUND_KEY not in reply.text
    assert health.status_code == 200  # liveness probes need no key
    assert good.status_code == 200
    assert len(scripted_server.requests) == 1
    # The inbound key is the proxy's, never forwarded: the upstream gets its own key.
    assert scripted_server.requests[0].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_inbound_key_variable_must_be_set(scripted_server: ScriptedServer, upstream_key: str) -> None:
    from openresponses import ConfigError

    settings = ProxySettings(
        preset="openai", base_url="http://127.0.0.1:9/v1", api_key_env="UNSET_PROXY_KEY_VAR"
    )
    with pytest.raises(ConfigError, match="UNSET_PROXY_KEY_VAR"):
        create_app_from_settings(settings)


# -- upstream errors before the first event ---------------------------------------------------


async def test_upstream_status_and_error_body_are_passed_on(
    scripted_server: ScriptedServer, make_app: MakeApp, validate_spec: Validate
) -> None:
    scripted_server.push(
        status(400, message="Unknown model 'zz'.", code_str="model_not_found", param="model"),
        status(429, message="Slow down.", retry_after=7),
    )
    async with asgi_client(make_app(scripted_server.base_url, retries=1)) as client:
        bad = await client.post("/v1/responses", json={"model": "zz", "input": "x"})
        limited = await client.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    assert bad.status_code == 400
    assert bad.json() == {
        "error": {
            "message": "Unknown model 'zz'.",
            "type": "invalid_request",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    validate_spec("ErrorPayload", limited.json()["error"])
    assert limited.json()["error"]["type"] == "too_many_requests"
    assert len(scripted_server.requests) == 2


async def test_transient_errors_are_retried_with_short_waits(
    scripted_server: ScriptedServer, make_app: MakeApp
) -> None:
    scripted_server.push(status(503, retry_after=0))
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        recovered = await client.post("/v1/responses", json={"model": "m", "input": "x"})
        scripted_server.push(status(400))
        client_error = await client.post("/v1/responses", json={"model": "m", "input": "x"})
    assert recovered.status_code == 200
    assert client_error.status_code == 400
    assert len(scripted_server.requests) == 3  # 503 retried once; 400 not retried


async def test_unreachable_upstream_is_502(make_app: MakeApp) -> None:
    app = make_app("http://127.0.0.1:9/v1", retries=1)
    async with asgi_client(app) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x"})
    assert reply.status_code == 502
    assert reply.json()["error"]["code"] == "upstream_unreachable"


async def test_reset_before_headers_is_502_after_retries(
    scripted_server: ScriptedServer, make_app: MakeApp
) -> None:
    scripted_server.push(reset_before_headers(), reset_before_headers())
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    assert reply.status_code == 502 and len(scripted_server.requests) == 2


async def test_failure_before_content_is_an_http_error(
    scripted_server: ScriptedServer, make_app: MakeApp
) -> None:
    # error + response.failed before any content: the stream is not committed yet, so the
    # client gets a status (server_error -> 500), not a 200 stream that fails.
    scripted_server.push(
        failed("Model crashed.", code="model_crashed"), failed("Model crashed.", code="model_crashed")
    )
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    assert reply.status_code == 500
    assert reply.json()["error"]["code"] == "model_crashed"


# -- streams that fail after they started -----------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        (reset_mid_stream(after_events=6), "stream_interrupted"),
        (truncated(after_events=6), "upstream_protocol_error"),
        (malformed(after_events=6), "upstream_protocol_error"),
        (failed("GPU fell over.", code="gpu", after_text="Partial answer"), "gpu"),
    ],
)
async def test_midstream_failure_is_never_completed(
    scripted_server: ScriptedServer, make_app: MakeApp, validate_spec: Validate, scenario: Any, code: str
) -> None:
    scripted_server.push(scenario)
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    assert reply.status_code == 200
    events, done = parse_sse(reply.text)
    assert done
    assert_valid_stream(events)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert not any(e["type"] == "response.completed" for e in events)
    assert events[-2]["error"]["code"] == code
    failed_response = events[-1]["response"]
    validate_spec("ResponseResource", failed_response)
    assert failed_response["status"] == "failed" and failed_response["error"]["code"] == code
    assert failed_response["id"] == events[0]["response"]["id"]
    # What was streamed is kept, marked incomplete where it was cut.
    assert failed_response["output"], "the partial output is kept"


async def test_open_items_are_closed_incomplete(scripted_server: ScriptedServer, make_app: MakeApp) -> None:
    scripted_server.push(reset_mid_stream(after_events=6, text="Hello world, this is partial"))
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    events, _ = parse_sse(reply.text)
    types = [e["type"] for e in events]
    assert types[-5:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "error",
        "response.failed",
    ]
    sent = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert events[-5]["text"] == sent
    assert events[-3]["item"]["status"] == "incomplete"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == sent


# -- secrets ----------------------------------------------------------------------------------


async def test_upstream_key_echoed_in_errors_never_reaches_the_client(
    scripted_server: ScriptedServer, make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"Incorrect API key provided: {UPSTREAM_KEY}. Find your key at https://example.com."
    scripted_server.push(
        status(401, message=echo, code_str="invalid_api_key"),
        status(500, message=echo),
        status(500, message=echo),
        failed(echo, after_text="partial"),
    )
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        unauthorized = await client.post("/v1/responses", json={"model": "m", "input": "x"})
        server_error = await client.post("/v1/responses", json={"model": "m", "input": "x"})
        midstream = await client.post("/v1/responses", json={"model": "m", "input": "x", "stream": True})
    # The proxy's own upstream key was refused: the proxy's configuration, not the caller's key.
    assert unauthorized.status_code == 502 and server_error.status_code == 500
    assert "www-authenticate" not in unauthorized.headers
    error = unauthorized.json()["error"]
    assert error["code"] == "upstream_authentication_error"
    assert "the proxy's upstream key needs fixing, not yours" in error["message"]
    assert "Incorrect API key provided: [redacted]" in error["message"]
    for reply in (unauthorized, server_error, midstream):
        assert UPSTREAM_KEY not in reply.text
        assert all(UPSTREAM_KEY not in value for value in reply.headers.values())
    assert "[redacted]" in midstream.text
    assert UPSTREAM_KEY not in caplog.text


UNREACHABLE = 'base_url = "http://127.0.0.1:9/v1"'


def chain_config(tmp_path: Path, primary: str, *, head: str = "") -> Path:
    """A proxy TOML file: no retries, ``head``, then the chain ``primary`` -> an unreachable backup."""
    config = tmp_path / "proxy.toml"
    config.write_text(
        f"retry = false\n{head}\n[providers.primary]\n{primary}\n[providers.backup]\n{UNREACHABLE}\n"
        '[chains.main]\nproviders = ["primary", "backup"]\n'
    )
    return config


async def test_config_chain_all_failed_lists_providers(
    scripted_server: ScriptedServer, tmp_path: Path, upstream_key: str, validate_spec: Validate
) -> None:
    scripted_server.push(status(503))
    config = chain_config(tmp_path, f'base_url = "{scripted_server.base_url}"\napi_key_env = "UPSTREAM_KEY"')
    app = create_app_from_settings(ProxySettings(config=str(config)))
    async with asgi_client(app) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x"})
        ok = await client.post("/v1/responses", json={"model": "m", "input": "x"})
    assert reply.status_code == 502
    error = reply.json()["error"]
    validate_spec("ErrorPayload", error)
    assert error["code"] == "all_providers_failed"
    assert "[primary] HTTP 503" in error["message"] and "[backup] connection error" in error["message"]
    assert UPSTREAM_KEY not in reply.text
    assert ok.status_code == 200 and len(ok.json()) == RESPONSE_KEYS


async def test_every_breaker_of_a_chain_open_is_a_503_with_retry_after(
    tmp_path: Path, upstream_key: str, validate_spec: Validate
) -> None:
    config = chain_config(tmp_path, UNREACHABLE, head="[circuit_breaker]\nfail_max = 1\nreset_timeout = 30.0")
    app = create_app_from_settings(ProxySettings(config=str(config)))
    async with asgi_client(app) as client:
        tripped = await client.post("/v1/responses", json={"model": "m", "input": "x"})
        rejected = await client.post("/v1/responses", json={"model": "m", "input": "x"})
    assert tripped.status_code == 502  # both unreachable: each breaker opens
    assert rejected.status_code == 503, rejected.text
    error = rejected.json()["error"]
    validate_spec("ErrorPayload", error)
    assert error["code"] == "circuit_open" and "'primary'" in error["message"]
    assert 0 < int(rejected.headers["retry-after"]) <= 30


async def test_a_failing_response_store_is_a_503_not_a_500(
    scripted_server: ScriptedServer, validate_spec: Validate
) -> None:
    # A Redis store nobody answers on (the CLI refuses to start with it: see test_cli).
    settings = ProxySettings(
        preset="vllm", api="responses", base_url=scripted_server.base_url, store="redis://127.0.0.1:9/0"
    )
    async with asgi_client(create_app_from_settings(settings)) as client:
        body = {"model": "m", "input": "x", "previous_response_id": "resp_1"}
        reply = await client.post("/v1/responses", json=body)
    assert reply.status_code == 503
    error = reply.json()["error"]
    validate_spec("ErrorPayload", error)
    assert error["code"] == "store_unavailable"
    assert scripted_server.requests == []


async def test_only_safe_client_headers_are_forwarded(
    scripted_server: ScriptedServer, make_app: MakeApp
) -> None:
    headers = {
        "idempotency-key": "idem-42",
        "cookie": "session=abc",
        "x-api-key": "client-secret",
        "authorization": "Bearer client-token-123456",
    }
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x"}, headers=headers)
    assert reply.status_code == 200
    sent = scripted_server.requests[0].headers
    assert sent["idempotency-key"] == "idem-42"
    assert "cookie" not in sent and "x-api-key" not in sent
    assert sent["authorization"] == f"Bearer {UPSTREAM_KEY}"


async def test_middleware_added_to_the_app_sees_the_responses_route(
    scripted_server: ScriptedServer, make_app: MakeApp
) -> None:
    # POST /v1/responses skips Starlette's routing (change 19 in docs/performance.md): not once
    # the app has middleware of its user's.
    from starlette.middleware.base import BaseHTTPMiddleware

    seen: list[str] = []

    async def note(request: Any, call_next: Any) -> Any:
        seen.append(f"{request.method} {request.url.path}")
        return await call_next(request)

    app = make_app(scripted_server.base_url)
    app.add_middleware(BaseHTTPMiddleware, dispatch=note)
    scripted_server.push(text("Hi"))
    async with asgi_client(app) as client:
        reply = await client.post("/v1/responses", json={"model": "m", "input": "x"})
    assert reply.status_code == 200 and seen == ["POST /v1/responses"]


async def test_an_exception_handler_added_to_the_app_is_used(
    scripted_server: ScriptedServer, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.responses import PlainTextResponse
    from starlette.routing import request_response

    app = make_app(scripted_server.base_url)

    async def broken(request: Any) -> Any:
        raise LookupError("a bug")

    async def mine(request: Any, exc: Exception) -> Any:
        return PlainTextResponse("mine", status_code=503)

    monkeypatch.setattr(app, "_create", broken)
    monkeypatch.setattr(app.router.routes[2], "app", request_response(broken))
    app.add_exception_handler(LookupError, mine)
    reply = await _post_unraised(app)
    assert (reply.status_code, reply.text) == (503, "mine")


async def _post_unraised(app: Any) -> Any:
    """``POST /v1/responses`` in process; an exception the app re-raises is not re-raised here."""
    import httpx

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
        return await client.post("/v1/responses", json={"model": "m", "input": "x"})


async def test_an_error_escaping_the_handler_is_a_500_in_the_spec_shape(
    scripted_server: ScriptedServer, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(scripted_server.base_url)

    async def broken(request: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app, "_create", broken)
    reply = await _post_unraised(app)
    assert reply.status_code == 500
    assert reply.json()["error"]["type"] == "server_error"
    with pytest.raises(RuntimeError, match="a bug"):  # re-raised for the server to log, as Starlette does
        await app({"type": "http", "method": "POST", "path": "/v1/responses", "headers": []}, _nothing, _drop)


async def _nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _drop(message: Any) -> None:
    pass


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        value = {"type": "object", "properties": {"a": value}}
    return value


@pytest.mark.parametrize(
    ("body", "param"),
    [
        # Python's json reads NaN, Infinity and numbers past a float's range; no upstream does.
        ({"metadata": {"a": float("nan")}}, "metadata.a"),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {"maximum": "1e999"}}]},
            "tools[0].parameters.maximum",
        ),
        # Nested past what the serializers take (about 250 levels): was sent upstream, then a 500.
        ({"tools": [{"type": "function", "name": "f", "parameters": _nested(300)}]}, None),
        ({"text": {"format": {"type": "json_schema", "name": "o", "schema": _nested(300)}}}, None),
    ],
    ids=["nan", "overflow", "deep-tool-schema", "deep-format-schema"],
)  # fmt: skip
async def test_bodies_that_are_not_json_everywhere_are_400_before_anything_is_sent(
    scripted_server: ScriptedServer, make_app: MakeApp, body: dict[str, Any], param: str | None
) -> None:
    content = json.dumps({"model": "m", "input": "x", **body}).replace('"1e999"', "1e999").encode()
    async with asgi_client(make_app(scripted_server.base_url)) as client:
        for stream in (False, True):
            data = content[:-1] + (b', "stream": true}' if stream else b"}")
            reply = await client.post(
                "/v1/responses", content=data, headers={"content-type": "application/json"}
            )
            assert reply.status_code == 400, reply.text
            error = reply.json()["error"]
            assert error["code"] == "invalid_request"
            if param is not None:
                assert error["param"] == param
    assert scripted_server.requests == []


def test_header_map_answers_as_starlettes_headers() -> None:
    from starlette.datastructures import Headers

    from openresponses.proxies._http import header_map

    raw = [
        (b"authorization", b"Bearer first"),
        (b"x-openresponses-cache", b"bypass"),
        (b"authorization", b"Bearer second"),
        (b"x-note", "caf\u00e9".encode("latin-1")),
    ]
    mapped, theirs = header_map({"headers": raw}), Headers(raw=raw)
    for name in ("authorization", "x-openresponses-cache", "x-note", "traceparent"):
        assert mapped.get(name) == theirs.get(name)
        assert (name in mapped) == (name in theirs)
