"""OpenAI Agents SDK ``Agent`` runs over ``OpenResponsesProvider`` against the scripted server.

The SDK's own tracing is disabled for these runs (nothing leaves the machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.retry import ModelRetryAdviceRequest
from openai.types.responses import ResponseCompletedEvent, ResponseFunctionToolCall, ResponseTextDeltaEvent
from pydantic import BaseModel

from openresponses import AsyncClient, RateLimitError
from openresponses.integrations._agents_convert import sdk_event
from openresponses.integrations.agents import OpenResponsesModel, OpenResponsesProvider
from openresponses.testing import ScriptedServer, function_call, json_response, status, text
from openresponses.testing._spec_schema import spec_schemas


def assert_spec_valid(bodies: list[Any]) -> None:
    assert bodies, "no request was sent"
    for index, body in enumerate(bodies):
        problems = spec_schemas().problems("CreateResponseBody", body)
        assert not problems, f"request {index} is not spec-valid: {problems}\n{body}"


@pytest.fixture(autouse=True)
def no_sdk_tracing() -> Iterator[None]:
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


AGENT = Agent(name="weather", instructions="Be brief.", model="m", tools=[get_weather])


def config(client: AsyncClient) -> RunConfig:
    return RunConfig(model_provider=OpenResponsesProvider(client=client), tracing_disabled=True)


async def test_tool_calling_run() -> None:
    scenarios = [function_call("get_weather", {"city": "Paris"}, call_id="call_p"), text("Sunny in Paris.")]
    async with ScriptedServer(scenarios) as server, AsyncClient(base_url=server.base_url) as client:
        result = await Runner.run(AGENT, "Weather in Paris?", run_config=config(client))
    assert result.final_output == "Sunny in Paris."
    bodies = [r.body for r in server.requests]
    assert_spec_valid(bodies)
    first, second = bodies
    assert first["instructions"] == "Be brief." and first["input"][0]["type"] == "message"
    tool = first["tools"][0]
    assert tool["name"] == "get_weather" and tool["strict"] is True
    kinds = [item["type"] for item in second["input"]]
    assert kinds == ["message", "function_call", "function_call_output"]
    assert second["input"][1]["call_id"] == second["input"][2]["call_id"] == "call_p"
    assert second["input"][2]["output"] == "sunny in Paris"
    assert result.context_wrapper.usage.requests == 2


async def test_streamed_run_yields_the_sdks_event_types() -> None:
    scenarios = [function_call("get_weather", {"city": "Rome"}), text("Sunny in Rome.", reasoning="Answer")]
    async with ScriptedServer(scenarios) as server, AsyncClient(base_url=server.base_url) as client:
        run = Runner.run_streamed(AGENT, "Weather in Rome?", run_config=config(client))
        raw = [event.data async for event in run.stream_events() if event.type == "raw_response_event"]
    assert run.final_output == "Sunny in Rome."
    deltas = [event.delta for event in raw if isinstance(event, ResponseTextDeltaEvent)]
    assert "".join(deltas) == "Sunny in Rome."
    completed = [event for event in raw if isinstance(event, ResponseCompletedEvent)]
    assert len(completed) == 2
    call = completed[0].response.output[0]
    assert isinstance(call, ResponseFunctionToolCall) and call.call_id
    bodies = [r.body for r in server.requests]
    assert_spec_valid(bodies)
    assert bodies[1]["stream"] is True
    assert bodies[1]["input"][2] == {
        "type": "function_call_output",
        "call_id": call.call_id,
        "output": "sunny in Rome",
    }


def _response(output: list[dict[str, Any]]) -> dict[str, Any]:
    base = text("x").response().to_dict()
    base["output"] = output
    return base


async def test_a_missing_call_id_is_filled_stably_and_reasoning_goes_back_spec_valid() -> None:
    reply = _response(
        [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Look it up"}],
                "content": [{"type": "reasoning_text", "text": "raw thoughts"}],
                "encrypted_content": "opaque-signature",
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "",
                "name": "get_weather",
                "arguments": '{"city": "Oslo"}',
                "status": "completed",
            },
        ]
    )
    scenarios = [json_response(reply), text("Cold.")]
    async with ScriptedServer(scenarios) as server, AsyncClient(base_url=server.base_url) as client:
        result = await Runner.run(AGENT, "Weather in Oslo?", run_config=config(client))
    assert result.final_output == "Cold."
    bodies = [r.body for r in server.requests]
    assert_spec_valid(bodies)
    items = bodies[1]["input"]
    reasoning = next(item for item in items if item["type"] == "reasoning")
    assert reasoning["content"] is None and reasoning["encrypted_content"] == "opaque-signature"
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Look it up"}]
    call = next(item for item in items if item["type"] == "function_call")
    output = next(item for item in items if item["type"] == "function_call_output")
    assert call["call_id"] == output["call_id"] == "call_fc_1"


def test_streamed_call_ids_agree_between_item_events_and_the_final_response() -> None:
    item = {
        "type": "function_call",
        "id": "fc_9",
        "call_id": "",
        "name": "f",
        "arguments": "",
        "status": "in_progress",
    }
    added = sdk_event(
        {"type": "response.output_item.added", "output_index": 0, "sequence_number": 2, "item": item}
    )
    final = _response([{**item, "arguments": "{}", "status": "completed"}])
    done = sdk_event({"type": "response.completed", "sequence_number": 5, "response": final})
    assert added.item.call_id == "call_fc_9"  # type: ignore[union-attr]
    assert done.response.output[0].call_id == "call_fc_9"  # type: ignore[union-attr]


class Forecast(BaseModel):
    city: str
    sunny: bool


async def test_structured_output_sends_a_strict_json_schema_format() -> None:
    agent = Agent(name="f", model="m", output_type=Forecast)
    scenarios = [text('{"city": "Lima", "sunny": true}')]
    async with ScriptedServer(scenarios) as server, AsyncClient(base_url=server.base_url) as client:
        result = await Runner.run(agent, "Forecast for Lima?", run_config=config(client))
    assert result.final_output == Forecast(city="Lima", sunny=True)
    body = server.requests[0].body
    assert_spec_valid([body])
    assert body["text"]["format"]["type"] == "json_schema" and body["text"]["format"]["strict"] is True


async def test_errors_keep_their_class_and_feed_retry_advice() -> None:
    async with (
        ScriptedServer([status(429, retry_after=3)]) as server,
        AsyncClient(base_url=server.base_url) as c,
    ):
        with pytest.raises(RateLimitError) as caught:
            await Runner.run(AGENT, "Weather?", run_config=config(c))
        model = OpenResponsesModel("m", client=c)
        advice = model.get_retry_advice(ModelRetryAdviceRequest(error=caught.value, attempt=1, stream=False))
    assert advice is not None
    assert advice.suggested is True and advice.retry_after == 3 and advice.replay_safety == "safe"
    assert advice.normalized is not None and advice.normalized.status_code == 429
    assert (
        model.get_retry_advice(ModelRetryAdviceRequest(error=ValueError("x"), attempt=1, stream=False))
        is None
    )


async def test_provider_needs_a_model_name() -> None:
    async with ScriptedServer() as server, AsyncClient(base_url=server.base_url) as client:
        provider = OpenResponsesProvider(client=client, default_model="fallback")
        assert isinstance(provider.get_model(None), OpenResponsesModel)
        assert provider.get_model(None).model == "fallback"  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="default_model"):
            OpenResponsesProvider(client=client).get_model(None)
