"""Gemini's OpenAI-compatible endpoint puts a tool call's thought signature in the call's
``extra_content`` and answers 400 on the next turn without it (PROVIDERS.md trap 4): the chat
dialect keeps it on the function call item, and ``call_extra_content=True`` sends it back."""

from __future__ import annotations

import json
from typing import Any

from openresponses import AsyncClient, Provider
from openresponses._pipeline import Request
from openresponses.store import output_to_input
from openresponses.testing.chat import ChatCompletionsServer, chat_raw, chat_text
from openresponses.transports._chat_request import chat_request_body
from openresponses.transports._chat_stream import chat_completion_to_response
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.types import CreateResponseBody, Response

from .conftest import delta_stream, final_response

TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
EXTRA = {"google": {"thought_signature": "c2lnbmF0dXJlLW9mLWEtdGhvdWdodA=="}}
CALL = {
    "index": 0,
    "id": "function-call-1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    "extra_content": EXTRA,
}


WHOLE = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "gemini-3-pro",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [{k: v for k, v in CALL.items() if k != "index"}],
            },
        }
    ],
}


def streamed(*deltas: dict[str, Any]) -> bytes:
    return delta_stream(*deltas, model="gemini-3-pro")


def decode(data: bytes) -> Response:
    body = CreateResponseBody.model_validate({"model": "m", "input": "q", "tools": [TOOL]})
    return final_response(data, ChatCompletionsDialect(), body)


def next_turn(response: Response, **options: Any) -> dict[str, Any]:
    items = [output_to_input(item.to_dict()) for item in response.output]
    history = [{"role": "user", "content": "q"}, *items]
    history.append({"type": "function_call_output", "call_id": "function-call-1", "output": "18C"})
    body = CreateResponseBody.model_validate({"model": "m", "input": history, "tools": [TOOL]})
    opts = ChatCompletionsDialect(**options).request_options
    return chat_request_body(body, stream=False, options=opts)["messages"][1]


def test_a_streamed_calls_extra_content_is_kept_and_sent_back_whole() -> None:
    response = decode(streamed({"role": "assistant", "tool_calls": [CALL]}))
    (call,) = response.output
    assert call.type == "function_call" and call.call_id == "function-call-1"
    assistant = next_turn(response, call_extra_content=True)
    assert assistant["tool_calls"][0]["extra_content"] == EXTRA


def test_extra_content_on_a_later_fragment_is_kept_too() -> None:
    head = {**CALL, "function": {"name": "get_weather", "arguments": ""}}
    del head["extra_content"]
    tail = {"index": 0, "function": {"arguments": '{"city":"Paris"}'}, "extra_content": EXTRA}
    response = decode(streamed({"role": "assistant", "tool_calls": [head]}, {"tool_calls": [tail]}))
    assert next_turn(response, call_extra_content=True)["tool_calls"][0]["extra_content"] == EXTRA


def test_a_whole_bodys_calls_carry_it_the_same_way() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{k: v for k, v in CALL.items() if k != "index"}],
    }
    body = {"id": "c", "object": "chat.completion", "created": 1, "model": "gemini-3-pro",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}  # fmt: skip
    response = chat_completion_to_response(json.dumps(body).encode())
    assert next_turn(response, call_extra_content=True)["tool_calls"][0]["extra_content"] == EXTRA


def test_without_the_option_nothing_extra_is_sent() -> None:
    response = decode(streamed({"role": "assistant", "tool_calls": [CALL]}))
    assert "extra_content" not in next_turn(response)["tool_calls"][0]


async def test_over_the_wire_through_a_provider_two_turns() -> None:
    raw = chat_raw([json.dumps(WHOLE).encode()], headers={"content-type": "application/json"}, chunked=False)
    async with ChatCompletionsServer([raw, chat_text("Sunny.")]) as upstream:
        dialect = ChatCompletionsDialect(call_extra_content=True)
        async with AsyncClient(
            endpoint=Provider("gemini", base_url=upstream.base_url, dialect=dialect)
        ) as client:
            first = await client.responses.create(model="gemini-3-pro", input="Weather?", tools=[TOOL])
            items = [output_to_input(item.to_dict()) for item in first.output]
            output = {"type": "function_call_output", "call_id": "function-call-1", "output": "18C"}
            second = await client.responses.create(
                model="gemini-3-pro",
                input=[{"role": "user", "content": "Weather?"}, *items, output],
                tools=[TOOL],
            )
    assert second.output_text == "Sunny."
    sent = upstream.requests[1].body["messages"][1]["tool_calls"][0]
    assert sent["extra_content"] == EXTRA and sent["id"] == "function-call-1"


async def test_it_survives_previous_response_id_through_the_store() -> None:
    from openresponses.middleware import Stateful

    raw = chat_raw([json.dumps(WHOLE).encode()], headers={"content-type": "application/json"}, chunked=False)
    async with ChatCompletionsServer([raw, chat_text("Sunny.")]) as upstream:
        dialect = ChatCompletionsDialect(call_extra_content=True)
        provider = Provider("gemini", base_url=upstream.base_url, dialect=dialect)
        async with AsyncClient(endpoint=provider, middleware=[Stateful()]) as client:
            first = await client.responses.create(model="gemini-3-pro", input="Weather?", tools=[TOOL])
            output = {"type": "function_call_output", "call_id": "function-call-1", "output": "18C"}
            await client.responses.create(
                model="gemini-3-pro", previous_response_id=first.id, input=[output], tools=[TOOL]
            )
    assert upstream.requests[1].body["messages"][1]["tool_calls"][0]["extra_content"] == EXTRA


def test_a_native_upstream_never_gets_our_carriers() -> None:
    from openresponses.transports._dialect import OpenResponsesDialect

    ours = '{"type":"openresponses.chat-completions.call","extra_content":{}}'
    foreign = '{"type":"acme.state","x":1}'
    items = [
        {"role": "user", "content": "q"},
        {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}", "encrypted_content": ours},
        {
            "type": "function_call",
            "call_id": "b",
            "name": "f",
            "arguments": "{}",
            "encrypted_content": foreign,
        },
        {"type": "function_call_output", "call_id": "a", "output": "1"},
        {"type": "function_call_output", "call_id": "b", "output": "2"},
    ]
    body = CreateResponseBody.model_validate({"model": "m", "input": items, "tools": [TOOL]})
    sent = json.loads(OpenResponsesDialect().encode(Request(body=body)))
    assert "encrypted_content" not in sent["input"][1]
    assert sent["input"][2]["encrypted_content"] == foreign  # not ours: sent as given
    plain = CreateResponseBody.model_validate({"model": "m", "input": items[:1]})
    assert (
        OpenResponsesDialect().encode(Request(body=plain))
        == plain.model_dump_json(exclude_unset=True, by_alias=True).encode()
    )
