"""The proxy on a real uvicorn (loopback, port 0): our own client end to end, latency, disconnects.

``httpx.ASGITransport`` buffers whole bodies, so first-event latency and client disconnects are
tested here over real sockets, with a ``ScriptedServer`` upstream counting its connections.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette

from openresponses import AsyncClient, ResponseFailedError
from openresponses.middleware import Tracing
from openresponses.proxies import Upstream, create_app
from openresponses.proxies._errors import Redactor
from openresponses.testing import ScriptedServer, assert_valid_stream, failed, stall, status, text

from .conftest import UPSTREAM_KEY, Served, Validate, asgi_client, parse_sse

MakeApp = Callable[..., Starlette]
Serve = Callable[[Starlette], Served]


async def test_our_client_end_to_end(
    scripted_server: ScriptedServer, make_app: MakeApp, serve: Serve, validate_spec: Validate
) -> None:
    scripted_server.push(text("Hello from upstream", reasoning="Greet"), text("Streamed answer", chunks=3))
    with serve(make_app(scripted_server.base_url)) as served:
        async with AsyncClient(base_url=served.base_url, api_key="unused") as client:
            response = await client.responses.create(model="m", input="Hi")
            events: list[Any] = []
            async with client.responses.stream(model="m", input="Hi") as stream:
                async for event in stream:
                    events.append(event)
                final = await stream.get_final_response()
    assert response.output_text == "Hello from upstream"
    validate_spec("ResponseResource", response.to_dict())
    assert final.output_text == "Streamed answer" and final.status == "completed"
    assert_valid_stream(events)
    assert scripted_server.requests[1].body["stream"] is True


async def test_first_event_arrives_while_upstream_still_streams(
    scripted_server: ScriptedServer, make_app: MakeApp, serve: Serve
) -> None:
    scripted_server.push(text(" ".join(["word"] * 8), chunks=8, event_delay=0.03))
    with serve(make_app(scripted_server.base_url)) as served:
        async with (
            httpx.AsyncClient(timeout=10) as http,
            http.stream(
                "POST", served.base_url + "/responses", json={"model": "m", "input": "x", "stream": True}
            ) as reply,
        ):
            started = time.monotonic()
            lines = reply.aiter_lines()
            async for line in lines:
                if line.startswith("data: "):
                    break
            first = time.monotonic() - started
            assert scripted_server.active_streams == 1, "the first event must not wait for the whole stream"
            rest = [line async for line in lines]
    assert first < 1.0
    assert rest[-2:] == ["data: [DONE]", ""] or rest[-1] == "data: [DONE]"


@pytest.mark.parametrize(
    "scenario",
    [stall(after_events=5, text="never finishes"), text(" ".join(["w"] * 200), chunks=200, event_delay=0.02)],
    ids=["stalled-upstream", "slow-upstream"],
)
async def test_client_disconnect_closes_the_upstream(
    scripted_server: ScriptedServer, make_app: MakeApp, serve: Serve, scenario: Any
) -> None:
    scripted_server.push(scenario)
    with serve(make_app(scripted_server.base_url)) as served:
        async with httpx.AsyncClient(timeout=10) as http:
            async with http.stream(
                "POST", served.base_url + "/responses", json={"model": "m", "input": "x", "stream": True}
            ) as reply:
                async for line in reply.aiter_lines():
                    if "response.output_item.added" in line:
                        break  # the client goes away mid-stream
            assert scripted_server.active_streams == 1 or scripted_server.client_disconnects == 1
        # The proxy notices (even with a silent upstream) and closes its upstream connection.
        await scripted_server.wait_until(
            lambda s: s.active_streams == 0 and s.open_connections == 0, timeout=5
        )
    assert scripted_server.client_disconnects == 1


async def test_disconnect_is_noticed_under_asgi_2_4_too(
    scripted_server: ScriptedServer, make_app: MakeApp
) -> None:
    # ASGI 2.4 servers report a gone client only when a write fails; with a silent upstream no
    # write happens, so the proxy must also watch for http.disconnect itself.
    scripted_server.push(stall(after_events=5))
    app = make_app(scripted_server.base_url)
    body = json.dumps({"model": "m", "input": "x", "stream": True}).encode()
    first_chunk = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await first_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/responses",
        "raw_path": b"/v1/responses",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app(scope, receive, send), 5)
        await scripted_server.wait_until(
            lambda s: s.active_streams == 0 and s.open_connections == 0, timeout=5
        )
    assert scripted_server.client_disconnects == 1


async def test_midstream_failure_reaches_our_client_as_failed(
    scripted_server: ScriptedServer, make_app: MakeApp, serve: Serve
) -> None:
    scripted_server.push(failed("Upstream broke.", code="broken", after_text="Half an ans"))
    with serve(make_app(scripted_server.base_url)) as served:
        async with AsyncClient(base_url=served.base_url, api_key="unused") as client:
            with pytest.raises(ResponseFailedError) as caught:
                async with client.responses.stream(model="m", input="x") as stream:
                    async for _ in stream:
                        pass
    assert caught.value.code == "broken"
    partial = caught.value.response
    assert partial is not None and partial.status == "failed"
    assert partial.output_text == "Half an ans"


async def test_proxy_keeps_serving_after_a_client_disconnect(
    scripted_server: ScriptedServer, make_app: MakeApp, serve: Serve
) -> None:
    scripted_server.push(stall(after_events=5))
    with serve(make_app(scripted_server.base_url)) as served:
        async with httpx.AsyncClient(timeout=10) as http:
            async with http.stream(
                "POST", served.base_url + "/responses", json={"model": "m", "input": "x", "stream": True}
            ) as reply:
                await anext(reply.aiter_lines())
            await asyncio.sleep(0.05)
            again = await http.post(served.base_url + "/responses", json={"model": "m", "input": "x"})
    assert again.status_code == 200 and again.json()["status"] == "completed"


async def test_incoming_traceparent_is_continued(scripted_server: ScriptedServer) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = AsyncClient(base_url=scripted_server.base_url, middleware=[Tracing(tracer_provider=provider)])
    app = create_app(Upstream(client=client, models=None, redactor=Redactor([]), label="test"))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = "00f067aa0ba902b7"
    async with asgi_client(app) as http:
        reply = await http.post(
            "/v1/responses",
            json={"model": "m", "input": "x", "stream": True},
            headers={"traceparent": f"00-{trace_id}-{parent}-01"},
        )
    events, done = parse_sse(reply.text)
    assert done and events[-1]["type"] == "response.completed"
    spans = exporter.get_finished_spans()
    assert spans, "the call was traced"
    assert all(f"{span.context.trace_id:032x}" == trace_id for span in spans)
    roots = [span for span in spans if span.parent is not None and f"{span.parent.span_id:016x}" == parent]
    assert len(roots) == 1  # the call span is the caller's child
    # The trace goes on upstream, too.
    assert scripted_server.requests[0].headers["traceparent"].split("-")[1] == trace_id


async def test_spans_never_carry_the_upstream_key(scripted_server: ScriptedServer) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = AsyncClient(
        base_url=scripted_server.base_url,
        api_key=UPSTREAM_KEY,
        middleware=[Tracing(tracer_provider=provider)],
    )
    app = create_app(Upstream(client=client, models=None, redactor=Redactor([UPSTREAM_KEY]), label="test"))
    scripted_server.push(status(401, message=f"Incorrect API key provided: {UPSTREAM_KEY}."))
    async with asgi_client(app) as http:
        reply = await http.post("/v1/responses", json={"model": "m", "input": "x"})
    assert reply.status_code == 502 and UPSTREAM_KEY not in reply.text
    spans = exporter.get_finished_spans()
    assert spans
    for span in spans:
        recorded = [*span.attributes.values()] if span.attributes else []
        for event in span.events:
            recorded.extend((event.attributes or {}).values())
        assert all(UPSTREAM_KEY not in str(value) for value in recorded), span.name


@pytest.mark.parametrize("stream", [True, False], ids=["before-first-content", "non-streaming"])
async def test_client_leaving_before_the_reply_cancels_the_upstream_call(
    scripted_server: ScriptedServer, make_app: MakeApp, serve: Serve, stream: bool
) -> None:
    # A long prefill: lifecycle events and then nothing (stream), or nothing at all for 30 s.
    scripted_server.push(stall(after_events=2) if stream else text("late", delay=30))
    with serve(make_app(scripted_server.base_url)) as served:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=0.3)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post(
                    served.base_url + "/responses", json={"model": "m", "input": "x", "stream": stream}
                )
        # Not after the 60 s first-event limit, nor after the 30 s delay: now.
        await scripted_server.wait_until(
            lambda s: s.open_connections == 0 and s.active_streams == 0, timeout=3
        )
    assert len(scripted_server.requests) == 1
