"""Mistral's call-id rule (PROVIDERS.md trap 14): ``call_ids="mistral"`` sends every call id as
nine letters and digits, the same id always mapped the same way, calls and outputs matching."""

from __future__ import annotations

import re
from typing import Any

import pytest

from openresponses import AsyncClient, Provider, RequestValidationError
from openresponses.testing.chat import ChatCompletionsServer, chat_text
from openresponses.transports import _chat_ids
from openresponses.transports._chat_ids import mistral_call_id, mistral_call_ids
from openresponses.transports._chat_request import chat_request_body
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.types import CreateResponseBody

FORM = re.compile(r"[A-Za-z0-9]{9}")
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}


def history(*call_ids: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [{"role": "user", "content": "weather in Paris and Rome?"}]
    for call_id in call_ids:
        items.append({"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": "{}"})
    for call_id in call_ids:
        items.append({"type": "function_call_output", "call_id": call_id, "output": "sunny"})
    return items


def chat(call_ids: str, *ids: str) -> dict[str, Any]:
    dialect = ChatCompletionsDialect(call_ids=call_ids)  # type: ignore[arg-type]
    body = CreateResponseBody.model_validate({"model": "m", "input": history(*ids), "tools": [TOOL]})
    return chat_request_body(body, stream=False, options=dialect.request_options)


def test_ids_of_another_form_get_nine_letters_and_digits_that_still_pair_up() -> None:
    out = chat("mistral", "call_0123456789abcdef", "toolu_01A09q90qw90lq917835lq9")
    (assistant,) = [m for m in out["messages"] if m.get("tool_calls")]
    sent = [call["id"] for call in assistant["tool_calls"]]
    answered = [m["tool_call_id"] for m in out["messages"] if m["role"] == "tool"]
    assert all(FORM.fullmatch(call_id) for call_id in sent)
    assert sent == answered and len(set(sent)) == 2


def test_the_mapping_is_the_same_in_every_request_and_keeps_valid_ids() -> None:
    first = chat("mistral", "call_0123456789abcdef")
    later = chat("mistral", "call_0123456789abcdef", "D681PevKs")  # a later turn: one more call
    ids = [m["tool_call_id"] for m in first["messages"] if m["role"] == "tool"]
    later_ids = [m["tool_call_id"] for m in later["messages"] if m["role"] == "tool"]
    assert later_ids == [ids[0], "D681PevKs"]  # Mistral's own id, already in form: unchanged
    assert mistral_call_id("call_0123456789abcdef") == ids[0]


def test_as_is_by_default() -> None:
    out = chat("as_is", "call_0123456789abcdef")
    assert [m["tool_call_id"] for m in out["messages"] if m["role"] == "tool"] == ["call_0123456789abcdef"]


def test_two_ids_that_would_collide_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_chat_ids, "mistral_call_id", lambda call_id: "AAAAAAAAA")
    messages = [{"role": "assistant", "tool_calls": [{"id": "a"}, {"id": "b"}]}]
    with pytest.raises(RequestValidationError, match="both map to Mistral's id 'AAAAAAAAA'"):
        mistral_call_ids(messages)


def test_an_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="call_ids"):
        ChatCompletionsDialect(call_ids="short")  # type: ignore[arg-type]


async def test_over_the_wire_through_a_provider() -> None:
    async with ChatCompletionsServer([chat_text("Sunny in both.")]) as upstream:
        provider = Provider(
            "mistral", base_url=upstream.base_url, dialect=ChatCompletionsDialect(call_ids="mistral")
        )
        async with AsyncClient(endpoint=provider) as client:
            reply = await client.responses.create(
                model="m", input=history("call_abc", "call_def"), tools=[TOOL]
            )
    assert reply.output_text == "Sunny in both."
    messages = upstream.requests[0].body["messages"]
    sent = [call["id"] for m in messages for call in m.get("tool_calls") or ()]
    assert len(sent) == 2 and all(FORM.fullmatch(call_id) for call_id in sent)
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == sent
