"""pydantic-ai ``Agent`` runs over ``OpenResponsesModel`` against the scripted server on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.messages import ModelResponse, TextPart, ThinkingPart, ToolCallPart
from pydantic_ai.models.instrumented import InstrumentationSettings, InstrumentedModel

from openresponses import AsyncClient, RateLimitError
from openresponses.integrations.pydantic_ai import OpenResponsesModel
from openresponses.middleware import Tracing
from openresponses.testing import (
    FunctionCallOutput,
    ReasoningOutput,
    Scenario,
    ScriptedServer,
    function_call,
    json_response,
    status,
    text,
)
from openresponses.testing._spec_schema import spec_schemas


def assert_spec_valid(bodies: list[Any]) -> None:
    assert bodies, "no request was sent"
    for index, body in enumerate(bodies):
        problems = spec_schemas().problems("CreateResponseBody", body)
        assert not problems, f"request {index} is not spec-valid: {problems}\n{body}"


class City(BaseModel):
    name: str
    population: int


def weather_agent(client: AsyncClient, **kwargs: Any) -> Agent[None, str]:
    agent: Agent[None, str] = Agent(
        OpenResponsesModel("m", client=client), instructions="Be brief.", **kwargs
    )

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    return agent


async def test_tool_run_sends_spec_valid_bodies_and_feeds_the_tool_result_back() -> None:
    scenarios = [function_call("get_weather", {"city": "Paris"}, call_id="call_1"), text("Sunny in Paris.")]
    async with ScriptedServer(scenarios) as server, AsyncClient(base_url=server.base_url) as client:
        result = await weather_agent(client).run("Weather in Paris?")
    assert result.output == "Sunny in Paris."
    bodies = [r.body for r in server.requests]
    assert_spec_valid(bodies)
    first, second = bodies
    assert first["instructions"] == "Be brief."
    assert first["tools"][0]["name"] == "get_weather" and first["tools"][0]["type"] == "function"
    assert all(tool.get("strict") is not None for tool in first["tools"] if "strict" in tool)
    assert [item["type"] for item in second["input"]] == ["message", "function_call", "function_call_output"]
    assert second["input"][2] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": "sunny in Paris",
    }
    usage = result.usage
    assert usage.requests == 2 and usage.input_tokens > 0


async def test_streamed_run_drives_text_thinking_and_tool_call_deltas() -> None:
    call = Scenario(
        outputs=(
            ReasoningOutput(summary="Look it up first"),
            FunctionCallOutput("get_weather", '{"city": "Rome"}', call_id="call_r"),
        )
    )
    answer = text("It is sunny in Rome today", reasoning="Answer now", chunks=3)
    async with ScriptedServer([call, answer]) as server, AsyncClient(base_url=server.base_url) as client:
        agent = weather_agent(client)
        async with agent.run_stream("Weather in Rome?") as run:
            deltas = [piece async for piece in run.stream_text(delta=True, debounce_by=None)]
        messages = run.all_messages()
    assert "".join(deltas) == "It is sunny in Rome today" and len(deltas) == 3
    first_reply = messages[1]
    assert isinstance(first_reply, ModelResponse)
    kinds = [type(part) for part in first_reply.parts]
    assert kinds == [ThinkingPart, ToolCallPart]
    thinking, tool_call = first_reply.parts
    assert isinstance(thinking, ThinkingPart) and thinking.content == "Look it up first"
    assert isinstance(tool_call, ToolCallPart) and tool_call.tool_call_id == "call_r"
    assert tool_call.args_as_dict() == {"city": "Rome"}
    final = messages[-1]
    assert isinstance(final, ModelResponse) and final.provider_response_id
    assert [type(p) for p in final.parts] == [ThinkingPart, TextPart]
    bodies = [r.body for r in server.requests]
    assert_spec_valid(bodies)
    # The thinking went back as a reasoning item: content null, summary kept.
    reasoning = [item for item in bodies[1]["input"] if item["type"] == "reasoning"]
    assert reasoning and reasoning[0]["content"] is None
    assert reasoning[0]["summary"] == [{"type": "summary_text", "text": "Look it up first"}]


def _response_with_signed_reasoning() -> dict[str, Any]:
    base = function_call("get_weather", {"city": "Oslo"}, call_id="call_o").response().to_dict()
    reasoning = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Need weather"}],
        "encrypted_content": "opaque-signature",
    }
    base["output"] = [reasoning, *base["output"]]
    return base


async def test_reasoning_signature_round_trips_as_encrypted_content() -> None:
    scenarios = [json_response(_response_with_signed_reasoning()), text("Cold.")]
    async with ScriptedServer(scenarios) as server, AsyncClient(base_url=server.base_url) as client:
        result = await weather_agent(client).run("Weather in Oslo?")
    assert result.output == "Cold."
    bodies = [r.body for r in server.requests]
    assert_spec_valid(bodies)
    reasoning = next(item for item in bodies[1]["input"] if item["type"] == "reasoning")
    assert reasoning == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Need weather"}],
        "content": None,
        "encrypted_content": "opaque-signature",
    }


async def test_structured_output_through_an_output_tool() -> None:
    scenarios = [function_call("final_result", {"name": "Tokyo", "population": 37_000_000}, call_id="c")]
    async with ScriptedServer(scenarios) as server, AsyncClient(base_url=server.base_url) as client:
        agent = Agent(OpenResponsesModel("m", client=client), output_type=City)
        result = await agent.run("Biggest city?")
    assert result.output == City(name="Tokyo", population=37_000_000)
    body = server.requests[0].body
    assert_spec_valid([body])
    assert body["tool_choice"] == "required"  # text cannot end this run
    assert body["tools"][0]["name"] == "final_result"


async def test_structured_output_through_a_json_schema_text_format() -> None:
    scenarios = [text('{"name": "Lagos", "population": 15000000}')]
    async with ScriptedServer(scenarios) as server, AsyncClient(base_url=server.base_url) as client:
        agent = Agent(OpenResponsesModel("m", client=client), output_type=NativeOutput(City))
        result = await agent.run("Biggest city in Nigeria?")
    assert result.output == City(name="Lagos", population=15_000_000)
    body = server.requests[0].body
    assert_spec_valid([body])
    fmt = body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["required"] == ["name", "population"]
    assert "tools" not in body


async def test_errors_keep_their_typed_class() -> None:
    async with (
        ScriptedServer([status(429, retry_after=7)]) as server,
        AsyncClient(base_url=server.base_url) as c,
    ):
        with pytest.raises(RateLimitError) as caught:
            await weather_agent(c).run("Weather?")
    assert caught.value.retry_after == 7


async def test_our_tracing_span_nests_under_pydantic_ais_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = InstrumentationSettings(tracer_provider=provider)
    async with (
        ScriptedServer([text("Hi")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Tracing(tracer_provider=provider)]) as client,
    ):
        agent = Agent(InstrumentedModel(OpenResponsesModel("m", client=client), settings))
        await agent.run("Hello")
    spans = exporter.get_finished_spans()
    ours = next(
        s
        for s in spans
        if s.name == "chat m" and getattr(s.instrumentation_scope, "name", None) == "openresponses"
    )
    assert ours.name == "chat m" and ours.parent is not None
    parent = next(s for s in spans if s.context is not None and s.context.span_id == ours.parent.span_id)
    assert parent.instrumentation_scope is not None and parent.instrumentation_scope.name == "pydantic-ai"
    assert parent.context is not None and ours.context is not None
    assert parent.context.trace_id == ours.context.trace_id


def test_model_needs_a_name_and_one_source() -> None:
    with pytest.raises(ValueError, match="model name"):
        OpenResponsesModel("")
    with pytest.raises(ValueError, match="one of"):
        OpenResponsesModel("m", base_url="http://127.0.0.1:1/v1", config="x.toml")
