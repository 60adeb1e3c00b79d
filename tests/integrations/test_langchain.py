"""ChatOpenResponses beyond LangChain's standard suites: conversion round trips, streamed
reasoning (summary, raw text and its signature), a tool-calling loop, metadata and typed errors.
Every request body a test sends is checked against the bundled OpenAPI schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool

from openresponses import (
    AsyncClient,
    Client,
    ConfigError,
    RateLimitError,
    RequestValidationError,
    ResponseFailedError,
)
from openresponses.integrations._langchain_messages import to_input
from openresponses.integrations.langchain import ChatOpenResponses
from openresponses.testing import ScriptedServer, failed, function_call, status, text
from openresponses.testing._spec_schema import spec_schemas

SIGNATURE = "c2lnbmF0dXJl"


def assert_spec_valid(server: ScriptedServer) -> None:
    for request in server.requests:
        assert spec_schemas().problems("CreateResponseBody", request.body) == []


def bodies(server: ScriptedServer) -> list[dict[str, Any]]:
    assert_spec_valid(server)
    return [request.body for request in server.requests]


def reasoning_turn() -> Any:
    return text(
        "Hi there", reasoning="Greet them", reasoning_text="raw thought", reasoning_encrypted=SIGNATURE
    )


# -- conversion ----------------------------------------------------------------------------------


def test_messages_become_spec_items() -> None:
    messages: list[BaseMessage] = [
        SystemMessage("Be brief."),
        HumanMessage(
            [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
                {"type": "image", "base64": "BBBB", "mime_type": "image/jpeg"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "CCCC"}},
                {"type": "image", "url": "https://example.com/cat.png"},
                {"type": "file", "base64": "JVBERg==", "mime_type": "application/pdf", "filename": "a.pdf"},
            ]
        ),
        AIMessage("", tool_calls=[{"name": "look", "args": {"q": "x"}, "id": "call_1", "type": "tool_call"}]),
        ToolMessage("found", tool_call_id="call_1"),
        SystemMessage("Answer in French."),
    ]
    instructions, items = to_input(messages)
    assert instructions == "Be brief."
    user = items[0]["content"]
    assert [part["type"] for part in user] == ["input_text", *["input_image"] * 4, "input_file"]
    assert user[2]["image_url"] == "data:image/jpeg;base64,BBBB"
    assert user[3]["image_url"] == "data:image/gif;base64,CCCC"
    assert user[4]["image_url"] == "https://example.com/cat.png"
    assert user[5]["file_data"] == "data:application/pdf;base64,JVBERg=="
    assert items[1] == {
        "type": "function_call",
        "call_id": "call_1",
        "name": "look",
        "arguments": '{"q": "x"}',
    }
    assert items[2] == {"type": "function_call_output", "call_id": "call_1", "output": "found"}
    assert items[3] == {"type": "message", "role": "system", "content": "Answer in French."}
    body = {"model": "m", "instructions": instructions, "input": items}
    assert spec_schemas().problems("CreateResponseBody", body) == []
    assert to_input(messages, system="developer")[1][0] == {
        "type": "message",
        "role": "developer",
        "content": "Be brief.",
    }


def test_content_the_spec_cannot_carry_is_refused_before_sending() -> None:
    audio = HumanMessage([{"type": "audio", "base64": "UklGRg==", "mime_type": "audio/wav"}])
    with pytest.raises(RequestValidationError, match=r"messages\[0\]\.content\[0\].*audio"):
        to_input([audio])
    with pytest.raises(RequestValidationError, match="no id"):
        to_input([AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": None, "type": "tool_call"}])])


# -- results and streaming -------------------------------------------------------------------------


async def test_invoke_gives_blocks_usage_metadata_and_attempts() -> None:
    async with ScriptedServer([status(500), reasoning_turn()]) as server:
        model = ChatOpenResponses(
            model="m", base_url=server.base_url, max_retries=1, reasoning={"effort": "low"}
        )
        message = await model.ainvoke("Hello")
    assert message.text == "Hi there"
    blocks: list[dict[str, Any]] = [dict(block) for block in message.content_blocks]
    kinds = [(block["type"], block.get("extras", {}).get("kind")) for block in blocks]
    assert kinds == [("reasoning", "summary"), ("reasoning", "text"), ("text", None)]
    assert blocks[0]["extras"]["encrypted_content"] == SIGNATURE
    usage = message.usage_metadata
    assert usage is not None and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_token_details"]["reasoning"] > 0
    assert usage["input_token_details"]["cache_read"] == 0
    meta = message.response_metadata
    assert meta["attempts"] == 2 and meta["provider"] == "default" and meta["status"] == "completed"
    assert meta["model_name"] == "m" and meta["id"] == message.id
    assert_spec_valid(server)


async def test_streamed_reasoning_round_trips_its_signature() -> None:
    async with ScriptedServer([reasoning_turn(), text("Again")]) as server:
        model = ChatOpenResponses(
            model="m", base_url=server.base_url, reasoning={"effort": "low"}, store=False
        )
        full: AIMessageChunk | None = None
        chunks = []
        async for chunk in model.astream("Hello"):
            chunks.append(chunk)
            full = chunk if full is None else full + chunk
        assert full is not None and chunks[-1].chunk_position == "last"
        assert sum(1 for c in chunks if c.usage_metadata) == 1  # usage once, on the last chunk
        blocks = full.content_blocks
        summary = [b for b in blocks if b["type"] == "reasoning" and b["extras"]["kind"] == "summary"]
        raw = [b for b in blocks if b["type"] == "reasoning" and b["extras"]["kind"] == "text"]
        assert summary[0]["reasoning"] == "Greet them" and raw[0]["reasoning"] == "raw thought"
        assert full.text == "Hi there"
        await model.ainvoke([HumanMessage("Hello"), full, HumanMessage("And?")])
    first, second = bodies(server)
    assert "reasoning.encrypted_content" in first["include"]  # store=False: ask for the signature
    reasoning = second["input"][1]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"] == SIGNATURE
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Greet them"}]
    assert reasoning.get("content") is None  # raw reasoning is never sent back
    assert second["input"][2] == {"type": "message", "role": "assistant", "content": "Hi there"}


def test_sync_stream_and_invoke_share_the_behaviour() -> None:
    with ScriptedServer([reasoning_turn(), reasoning_turn()]).run_in_thread() as server:
        model = ChatOpenResponses(model="m", base_url=server.base_url)
        chunks = list(model.stream("Hello"))
        message = model.invoke("Hello")
        model.close()
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.text == message.text == "Hi there"
    assert [b["type"] for b in full.content_blocks] == [b["type"] for b in message.content_blocks]
    assert full.response_metadata["attempts"] == 1


# -- tools -----------------------------------------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


async def test_agent_loop_with_tools() -> None:
    script = [
        function_call("get_weather", {"city": "Paris"}, call_id="call_7"),
        text("It is sunny in Paris."),
    ]
    async with ScriptedServer(script) as server:
        llm = ChatOpenResponses(model="m", base_url=server.base_url).bind_tools(
            [get_weather], tool_choice="any"
        )
        history: list[BaseMessage] = [HumanMessage("Weather in Paris?")]
        for _ in range(3):  # an agent's loop: call tools until the model answers
            reply = await llm.ainvoke(history)
            history.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                history.append(await get_weather.ainvoke(call))
    assert history[-1].text == "It is sunny in Paris."
    first, second = bodies(server)
    assert first["tool_choice"] == "required"
    assert first["tools"][0]["name"] == "get_weather" and "strict" not in first["tools"][0]
    assert [item["type"] for item in second["input"]] == ["message", "function_call", "function_call_output"]
    assert second["input"][2] == {
        "type": "function_call_output",
        "call_id": "call_7",
        "output": "Sunny in Paris",
    }


async def test_streamed_tool_calls_tool_choice_and_invalid_arguments() -> None:
    async with ScriptedServer(
        [function_call("get_weather", {"city": "Rome"}), function_call("get_weather", "{oops")]
    ) as server:
        llm = ChatOpenResponses(model="m", base_url=server.base_url)
        bound = llm.bind_tools([get_weather], tool_choice="get_weather", strict=True)
        full: Any = None
        async for chunk in bound.astream("Rome?"):
            assert isinstance(chunk, AIMessageChunk)
            assert all(c["index"] == 0 for c in chunk.tool_call_chunks)  # keyed by output index
            full = chunk if full is None else full + chunk
        broken = await bound.ainvoke("Again")
    assert full.tool_calls[0]["args"] == {"city": "Rome"}
    assert broken.tool_calls == [] and broken.invalid_tool_calls[0]["args"] == "{oops"
    body = bodies(server)[0]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["tools"][0]["strict"] is True
    with pytest.raises(RequestValidationError, match="not among the bound tools"):
        llm.bind_tools([get_weather], tool_choice="nope")


async def test_structured_output_methods() -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str

    script = [text('{"name": "Oslo"}'), function_call("City", {"name": "Bergen"}), text('{"name": "Rome"}')]
    async with ScriptedServer(script) as server:
        llm = ChatOpenResponses(model="m", base_url=server.base_url)
        assert await llm.with_structured_output(City).ainvoke("x") == City(name="Oslo")
        assert await llm.with_structured_output(City, method="function_calling").ainvoke("x") == City(
            name="Bergen"
        )
        assert await llm.with_structured_output(City, method="json_mode").ainvoke("x") == City(name="Rome")
    formats = [body.get("text", {}).get("format", {}).get("type") for body in bodies(server)]
    assert formats == ["json_schema", None, "json_schema"]
    assert bodies(server)[1]["tool_choice"] == {"type": "function", "name": "City"}


# -- errors and construction ---------------------------------------------------------------------


async def test_errors_keep_their_typed_class() -> None:
    async with ScriptedServer([status(429, retry_after=1), failed("boom", after_text="Hel")]) as server:
        model = ChatOpenResponses(model="m", base_url=server.base_url)
        with pytest.raises(RateLimitError):
            await model.ainvoke("Hello")
        with pytest.raises(ResponseFailedError, match="boom"):
            async for _ in model.astream("Hello"):
                pass
    with ScriptedServer([status(429)]).run_in_thread() as threaded, pytest.raises(RateLimitError):
        ChatOpenResponses(model="m", base_url=threaded.base_url).invoke("Hello")


async def test_built_from_clients_or_a_config_file(tmp_path: Path) -> None:
    async with ScriptedServer(default=text("From a client")) as server:
        async with AsyncClient(base_url=server.base_url) as client:
            only_async = ChatOpenResponses(model="m", client=client)
            assert (await only_async.ainvoke("Hi")).text == "From a client"
            with pytest.raises(ConfigError, match="only an AsyncClient"):
                only_async.invoke("Hi")
        config = tmp_path / "openresponses.toml"
        config.write_text(
            f'[providers.local]\nbase_url = "{server.base_url}"\n\n[chains.main]\nproviders = ["local"]\n'
        )
        from_file = ChatOpenResponses(model="m", config=str(config), chain="main")
        assert (await from_file.ainvoke("Hi")).response_metadata["provider"] == "local"
        await from_file.aclose()
    # Construction problems surface as pydantic's ValidationError (a ValueError) with our message.
    with pytest.raises(ValueError, match="configure those on the client"):
        ChatOpenResponses(
            model="m", client=AsyncClient(base_url="http://127.0.0.1:9/v1"), base_url="http://x/v1"
        )
    with pytest.raises(ValueError, match="needs a client"):
        ChatOpenResponses(model="m", base_url=None)


def test_sync_client_serves_sync_and_async_calls() -> None:
    import asyncio

    with (
        ScriptedServer(default=text("Hi")).run_in_thread() as server,
        Client(base_url=server.base_url) as client,
    ):
        model = ChatOpenResponses(model="m", sync_client=client)
        assert model.invoke("Hi").text == "Hi"
        assert asyncio.run(model.ainvoke("Hi")).text == "Hi"  # LangChain's executor, off the loop


def _recording_clients(model: ChatOpenResponses, monkeypatch: pytest.MonkeyPatch) -> list[AsyncClient]:
    """The async clients ``model`` builds for itself, as it builds them."""
    built: list[AsyncClient] = []
    make = model._new_async

    def recorded() -> AsyncClient:
        built.append(make())
        return built[-1]

    monkeypatch.setattr(model, "_new_async", recorded)
    return built


def test_each_asyncio_run_closes_the_client_it_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import gc
    import warnings

    uvloop = pytest.importorskip("uvloop")  # the proxy extra's loop: the same hooks
    with ScriptedServer(default=text("Hi")).run_in_thread() as server:
        model = ChatOpenResponses(model="m", base_url=server.base_url)
        built = _recording_clients(model, monkeypatch)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for run in (asyncio.run, asyncio.run, uvloop.run, asyncio.run):
                assert run(model.ainvoke("Hi")).text == "Hi"
            gc.collect()
        # One client per loop, each closed as its loop shut down: nothing left open or held.
        assert len(built) == 4 and all(client.is_closed for client in built)
        assert len(model._own_async) == 0
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)], caught


def test_a_loop_closed_by_hand_is_let_go_and_aclose_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import gc
    import warnings

    with ScriptedServer(default=text("Hi")).run_in_thread() as server:
        model = ChatOpenResponses(model="m", base_url=server.base_url)
        built = _recording_clients(model, monkeypatch)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(model.ainvoke("Hi"))
            assert len(model._own_async) == 1
        finally:
            loop.close()  # no shutdown_asyncgens: the client is left to the garbage collector

        async def twice_then_close() -> None:
            await model.ainvoke("Hi")
            await model.ainvoke("Hi")  # the same client on the same loop
            assert len(built) == 2 and len(model._own_async) == 1  # the closed loop's entry dropped
            await model.aclose()
            assert built[1].is_closed and len(model._own_async) == 0
            await model.ainvoke("Hi")  # a fresh one after aclose()
            assert len(built) == 3

        asyncio.run(twice_then_close())
        assert built[2].is_closed  # closed by the loop's shutdown
        assert not built[0].is_closed  # the hand-closed loop's: nobody could close it on its loop
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            built.clear()
            del loop
            gc.collect()  # nothing holds it any more: collected, its socket closed by Python
        assert any(issubclass(w.category, ResourceWarning) for w in caught)


async def test_a_dropped_model_closes_its_client_on_the_running_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import gc

    async with ScriptedServer(default=text("Hi")) as server:
        model = ChatOpenResponses(model="m", base_url=server.base_url)
        built = _recording_clients(model, monkeypatch)
        await model.ainvoke("Hi")
        monkeypatch.undo()  # the patch holds the model
        del model
        gc.collect()
        for _ in range(50):  # the loop runs the generator's finally as a task
            if built[0].is_closed:
                break
            await asyncio.sleep(0.01)
        assert built[0].is_closed


async def test_a_loop_that_tracks_no_async_generators_still_closes_on_aclose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    async with ScriptedServer(default=text("Hi")) as server:
        model = ChatOpenResponses(model="m", base_url=server.base_url)
        built = _recording_clients(model, monkeypatch)
        hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=None, finalizer=None)  # as a loop without the protocol
        try:
            await model.ainvoke("Hi")
        finally:
            sys.set_asyncgen_hooks(*hooks)
        assert not built[0].is_closed
        await model.aclose()
        assert built[0].is_closed and len(model._own_async) == 0


def test_api_key_is_never_shown() -> None:
    model = ChatOpenResponses(model="m", base_url="http://127.0.0.1:9/v1", api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(model) and "sk-secret-123" not in str(model.model_dump())


# -- the docs page -----------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "langchain.md"


@pytest.mark.parametrize(
    "index", range(len(re.findall(r"```python\n", DOCS.read_text()))) if DOCS.exists() else []
)
def test_docs_examples_run(index: int) -> None:
    source = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)[index]
    exec(compile(source, f"{DOCS.name}[{index}]", "exec"), {"__name__": "__docs__"})
