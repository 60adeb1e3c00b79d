"""The served proxy's WebSocket route: our client over a real uvicorn, a Chat-Completions upstream."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import connect as raw_connect

from openresponses import AsyncClient, AuthenticationError, BadRequestError
from openresponses.proxies import ProxySettings, create_app_from_settings
from openresponses.proxies._ws import ResponsesSocket
from openresponses.proxies.upstream import build_upstream
from openresponses.testing import assert_valid_stream
from openresponses.testing.chat import ChatCompletionsServer, chat_status, chat_text, chat_tool_calls

from ..proxies.conftest import Served

INBOUND = "proxy-inbound-key-9876543210"


@pytest.fixture
async def chat_upstream() -> AsyncIterator[ChatCompletionsServer]:
    async with ChatCompletionsServer() as server:
        yield server


@pytest.fixture
def serve() -> Iterator[Callable[[Starlette], Served]]:
    started: list[Served] = []

    def start(app: Starlette) -> Served:
        served = Served(app)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.thread.is_alive():
            served.__exit__(None, None, None)


def settings_for(upstream: ChatCompletionsServer, **changes: Any) -> ProxySettings:
    return ProxySettings(preset="ollama", base_url=upstream.base_url, model="qwen3:8b", **changes)


async def test_turns_through_the_chat_translation_with_continuation(
    chat_upstream: ChatCompletionsServer, serve: Callable[[Starlette], Served]
) -> None:
    chat_upstream.push(
        chat_tool_calls([("get_weather", '{"city": "Paris"}')]),
        chat_text("Sunny in Paris."),
    )
    app = create_app_from_settings(settings_for(chat_upstream))
    with serve(app) as served:
        async with AsyncClient(base_url=served.base_url, api_key="unused") as client:  # noqa: SIM117
            async with client.responses.connect(model="any", store=False) as conn:
                stream = await conn.create(input="Weather in Paris?")
                events = [event async for event in stream]
                first = await stream.get_final_response()
                call = first.output[-1]
                assert call.type == "function_call"
                output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
                stream = await conn.create(input=[output], continue_=True)
                second_events = [event async for event in stream]
                second = await stream.get_final_response()
    assert_valid_stream(events)
    assert_valid_stream(second_events)
    assert second.output_text == "Sunny in Paris."
    assert second.previous_response_id == first.id
    # The proxy expanded the chain from connection memory: the upstream saw the whole history.
    messages = chat_upstream.requests[-1].body["messages"]
    assert [m["role"] for m in messages][-3:] == ["user", "assistant", "tool"]
    assert conn.reconnects == 0


async def test_unknown_id_with_store_false_and_upstream_errors_are_envelopes(
    chat_upstream: ChatCompletionsServer, serve: Callable[[Starlette], Served]
) -> None:
    chat_upstream.push(chat_status(400, message="bad things"))
    app = create_app_from_settings(settings_for(chat_upstream))
    with serve(app) as served:
        async with AsyncClient(base_url=served.base_url) as client:  # noqa: SIM117
            async with client.responses.connect(model="any", store=False) as conn:
                with pytest.raises(BadRequestError) as caught:
                    await conn.create(input="x", previous_response_id="resp_nope")
                assert caught.value.code == "previous_response_not_found"
                with pytest.raises(BadRequestError):
                    await conn.create(input="y")
                answer = await (await conn.create(input="z")).get_final_response()
    assert answer.output_text == "Hello"


async def test_warm_up_and_raw_protocol_errors(
    chat_upstream: ChatCompletionsServer, serve: Callable[[Starlette], Served]
) -> None:
    app = create_app_from_settings(settings_for(chat_upstream))
    with serve(app) as served:
        url = served.base_url.replace("http://", "ws://") + "/responses"
        async with raw_connect(url) as ws:
            await ws.send(
                json.dumps({"type": "response.create", "model": "m", "input": "hi", "generate": False})
            )
            created = json.loads(await ws.recv())
            completed = json.loads(await ws.recv())
            assert (created["type"], completed["type"]) == ("response.created", "response.completed")
            assert completed["response"]["output"] == []
            await ws.send(json.dumps({"type": "response.create", "model": "m", "stream": True}))
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and error["status"] == 400 and error["error"]["param"] == "stream"
            await ws.send("{not json")
            assert json.loads(await ws.recv())["error"]["code"] == "invalid_json"
            await ws.send(json.dumps({"type": "session.update"}))
            assert json.loads(await ws.recv())["error"]["param"] == "type"
            warm_id = completed["response"]["id"]
            await ws.send(
                json.dumps(
                    {
                        "type": "response.create",
                        "model": "m",
                        "input": "go",
                        "store": False,
                        "previous_response_id": warm_id,
                    }
                )
            )
            events = []
            while not events or events[-1]["type"] != "response.completed":
                events.append(json.loads(await ws.recv()))
            assert events[-1]["response"]["previous_response_id"] == warm_id
    assert chat_upstream.requests[-1].body["messages"][-2:] == [
        {"role": "user", "content": "hi"},
        {"role": "user", "content": "go"},
    ]


async def test_inbound_key_and_the_lifetime_limit(chat_upstream: ChatCompletionsServer) -> None:
    upstream = build_upstream(settings_for(chat_upstream))
    socket = ResponsesSocket(upstream, api_key=INBOUND, max_age=0.5)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await upstream.aclose()  # on the server's loop, where its pooled connections live

    app = Starlette(routes=[WebSocketRoute("/v1/responses", socket.handle)], lifespan=lifespan)
    with Served(app) as served:
        async with AsyncClient(base_url=served.base_url, api_key="wrong-key-0123456789") as client:
            with pytest.raises(AuthenticationError):
                await client.responses.connect(model="m").open()
        async with AsyncClient(base_url=served.base_url, api_key=INBOUND) as client:  # noqa: SIM117
            async with client.responses.connect(model="m", store=False) as conn:
                await (await conn.create(input="a")).get_final_response()
                await asyncio.sleep(0.6)
                # The proxy sent the limit and closed the idle socket: the next turn opens a new one,
                # where a store=false chain cannot continue (R62) ...
                with pytest.raises(BadRequestError) as caught:
                    await conn.create(input="b", continue_=True)
                assert caught.value.code == "previous_response_not_found"
                # ... and a new chain with the full context can.
                answer = await (await conn.create(input="b")).get_final_response()
    assert answer.output_text == "Hello"
    assert conn.reconnects == 1
