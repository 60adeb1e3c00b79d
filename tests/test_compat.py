"""0.1.x code keeps running: ``openresponses.client`` over the real client, against a real server."""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from openresponses import AsyncClient, AuthenticationError, Client
from openresponses.client import (
    LEGACY_EVENT_NAMES,
    AsyncOpenResponsesClient,
    OpenResponsesClient,
    StreamEvent,
)
from openresponses.testing import ScriptedServer, function_call, status, text
from openresponses.types import Response, parse_event

pytestmark = pytest.mark.filterwarnings("ignore:openresponses.client:DeprecationWarning")


async def test_the_01x_readme_stream_loop_runs(scripted_server: ScriptedServer) -> None:
    """The 0.1.x README's semantic-streaming example, verbatim but for the print calls."""
    scripted_server.push(text("The sky scatters blue light.", reasoning_text="Rayleigh scattering"))
    client = AsyncOpenResponsesClient(base_url=scripted_server.url)  # 0.1.x: the root, no /v1

    stream = await client.create(model="deepseek/deepseek-r1", input="Why is the sky blue?", stream=True)
    reasoning, answer = [], []
    async for event in stream:
        if event.event == "response.reasoning.delta":
            reasoning.append(event.data["delta"])
        elif event.event == "response.text.delta":
            answer.append(event.data["delta"])

    assert "".join(reasoning) == "Rayleigh scattering"
    assert "".join(answer) == "The sky scatters blue light."
    assert len(answer) > 1  # really streamed in deltas
    sent = scripted_server.requests[0]
    assert sent.path == "/v1/responses"
    assert sent.body["stream"] is True and sent.body["model"] == "deepseek/deepseek-r1"


async def test_the_01x_readme_simple_request_runs(scripted_server: ScriptedServer) -> None:
    scripted_server.push(text("Semantic streaming sends typed events."))
    client = AsyncOpenResponsesClient(base_url=scripted_server.url + "/")
    response = await client.create(model="m", input="Explain semantic streaming.")
    assert isinstance(response, Response)
    messages = [item for item in response.output if item.type == "message"]
    assert len(messages) == 1 and messages[0].content  # the 0.1.x README read item.content
    assert response.output_text == "Semantic streaming sends typed events."
    assert not scripted_server.requests[0].body.get("stream")


def test_construction_warns_with_the_new_names() -> None:
    with pytest.warns(DeprecationWarning) as record:
        AsyncOpenResponsesClient(base_url="http://127.0.0.1:8001")
        OpenResponsesClient("http://127.0.0.1:8001", "sk-key")
    messages = [str(w.message) for w in record]
    assert "use openresponses.AsyncClient(base_url='.../v1')" in messages[0]
    assert "use openresponses.Client(base_url='.../v1')" in messages[1]
    assert all("docs/migrating.md" in m for m in messages)
    assert all(w.filename == __file__ for w in record)  # points at the caller's line


def test_signatures_match_01x() -> None:
    for cls in (AsyncOpenResponsesClient, OpenResponsesClient):
        init = list(inspect.signature(cls.__init__).parameters)
        assert init[:3] == ["self", "base_url", "api_key"]
        create = list(inspect.signature(cls.create).parameters)
        assert create == ["self", "model", "input", "stream", "max_tool_calls"]


async def test_api_key_and_fields_are_sent(scripted_server: ScriptedServer) -> None:
    class InputText(BaseModel):  # shaped like 0.1.x's models
        type: Literal["input_text"] = "input_text"
        text: str

    class MessageItem(BaseModel):
        type: Literal["message"] = "message"
        role: str
        content: Any

    client = AsyncOpenResponsesClient(scripted_server.url, "sk-compat")
    item = MessageItem(role="user", content=[InputText(text="Hi")])
    await client.create(model="m", input=[item], max_tool_calls=3)
    sent = scripted_server.requests[0]
    assert sent.headers["authorization"] == "Bearer sk-compat"
    assert sent.body["max_tool_calls"] == 3
    assert sent.body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    ]
    assert "sk-compat" not in repr(client)


async def test_a_stream_sends_its_request_when_iterated(scripted_server: ScriptedServer) -> None:
    client = AsyncOpenResponsesClient(scripted_server.url)
    stream = await client.create(model="m", input="x", stream=True)
    assert scripted_server.requests == []
    names = [event.event async for event in stream]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert "response.text.delta" in names and "response.output_text.delta" not in names
    await scripted_server.wait_until(lambda s: s.open_connections == 0)  # a client per call, closed


async def test_errors_are_typed(scripted_server: ScriptedServer) -> None:
    scripted_server.push(status(401), status(401))
    client = AsyncOpenResponsesClient(scripted_server.url)
    with pytest.raises(AuthenticationError):
        await client.create(model="m", input="x")
    with pytest.raises(AuthenticationError):
        async for _ in await client.create(model="m", input="x", stream=True):
            pass


async def test_a_configured_client_is_used_and_left_open(scripted_server: ScriptedServer) -> None:
    async with AsyncClient(base_url=scripted_server.base_url) as modern:
        legacy = AsyncOpenResponsesClient(client=modern)
        async for _ in await legacy.create(model="m", input="x", stream=True):
            pass
        assert (await legacy.create(model="m", input="y")).output_text == "Hello"
        assert (await modern.responses.create(model="m", input="z")).output_text == "Hello"  # still open
    assert [r.body["input"] for r in scripted_server.requests] == ["x", "y", "z"]


def test_the_sync_client() -> None:
    server = ScriptedServer([text("One.", reasoning_text="Count"), function_call("f", {"a": 1})])
    with server.run_in_thread():
        client = OpenResponsesClient(base_url=server.url)
        events = list(client.create(model="m", input="x", stream=True))
        assert "".join(e.data["delta"] for e in events if e.event == "response.text.delta") == "One."
        assert "".join(e.data["delta"] for e in events if e.event == "response.reasoning.delta") == "Count"
        response = client.create(model="m", input="y")
        assert [item.type for item in response.output] == ["function_call"]
        with Client(base_url=server.base_url) as modern:
            assert OpenResponsesClient(client=modern).create(model="m", input="z").output_text == "Hello"
    assert [bool(r.body.get("stream")) for r in server.requests] == [True, False, False]


def test_event_names() -> None:
    assert dict(LEGACY_EVENT_NAMES) == {
        "response.output_text.delta": "response.text.delta",
        "response.reasoning_text.delta": "response.reasoning.delta",
    }
    delta = parse_event(
        '{"type":"response.output_text.delta","sequence_number":3,"item_id":"m","output_index":0,'
        '"content_index":0,"delta":"Hi","logprobs":[]}'
    )
    legacy = StreamEvent.from_event(delta)
    assert legacy.event == "response.text.delta"
    assert legacy.data["delta"] == "Hi" and legacy.data["type"] == "response.output_text.delta"
    assert legacy.typed_event is delta  # for migrating a branch at a time
    openai_name = parse_event('{"type":"response.reasoning_text.delta","sequence_number":1,"delta":"hm"}')
    assert StreamEvent.from_event(openai_name).event == "response.reasoning.delta"
    for kept in (
        '{"type":"response.reasoning.delta","sequence_number":1,"item_id":"r","output_index":0,'
        '"content_index":0,"delta":"x"}',
        '{"type":"acme:trace","sequence_number":2}',
    ):
        event = parse_event(kept)
        assert StreamEvent.from_event(event).event == event.type


def test_the_module_warns_nothing_on_import() -> None:
    import importlib

    import openresponses.client

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(openresponses.client)
