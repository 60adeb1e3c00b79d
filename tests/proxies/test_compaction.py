"""Compaction over Chat-Completions upstreams: ``/v1/responses/compact`` summarised by the model,
the summary carried opaquely in the compaction item and expanded when it comes back."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.applications import Starlette

from openresponses import AsyncClient, Provider
from openresponses.middleware import Stateful
from openresponses.proxies import ProxySettings, SummaryCompaction, create_app_from_settings
from openresponses.proxies.compaction import (
    COMPACTION_PROMPT,
    ENVELOPE_PREFIX,
    SUMMARY_HEADING,
    decode_summary,
    encode_summary,
)
from openresponses.testing.chat import ChatCompletionsServer, chat_status, chat_text
from openresponses.testing.compliance import arun_checks
from openresponses.types import Compaction

from .conftest import Served, Validate, asgi_client

Serve = Callable[[Starlette], Served]
PARTY = [
    {"type": "message", "role": "user", "content": "Plan a party for Ada, who turns seven."},
    {"type": "message", "role": "assistant", "content": "A garden picnic with games and cake."},
    {"type": "message", "role": "user", "content": "Add one indoor activity in case it rains."},
]
SUMMARY = "Ada turns seven; a garden picnic with games and cake is planned; an indoor activity is wanted."


@pytest.fixture
async def chat_upstream() -> AsyncIterator[ChatCompletionsServer]:
    async with ChatCompletionsServer() as server:
        yield server


def chat_app(upstream: ChatCompletionsServer, preset: str = "ollama", **changes: Any) -> Starlette:
    settings = ProxySettings(preset=preset, base_url=upstream.base_url, model="qwen3:8b", **changes)
    return create_app_from_settings(settings)


async def test_compact_then_continue_from_the_window_through_the_served_proxy(
    chat_upstream: ChatCompletionsServer, serve: Serve, validate_spec: Validate
) -> None:
    chat_upstream.push(chat_text(SUMMARY), chat_text("Board games indoors."))
    with serve(chat_app(chat_upstream)) as served:
        async with AsyncClient(base_url=served.base_url, api_key="unused") as client:
            compacted = await client.responses.compact(
                model="m", input=PARTY, instructions="You plan children's parties."
            )
            window = [item.to_dict() for item in compacted.output]
            validate_spec("CompactResource", compacted.to_dict())
            follow = await client.responses.create(
                model="m", input=[*window, {"type": "message", "role": "user", "content": "List them."}]
            )
    (item,) = compacted.output
    assert isinstance(item, Compaction)
    assert item.type == "compaction" and item.id.startswith("cmp_") and item.created_by == "openresponses"
    assert item.encrypted_content.startswith(ENVELOPE_PREFIX)
    assert decode_summary(item.encrypted_content) == SUMMARY
    assert compacted.usage.output_tokens > 0 and compacted.usage.total_tokens > 0
    summarising = chat_upstream.requests[0].body
    assert summarising.get("stream") is not True and summarising["model"] == "qwen3:8b"
    assert summarising["messages"] == [
        {"role": "system", "content": "You plan children's parties."},
        {"role": "user", "content": PARTY[0]["content"]},
        {"role": "assistant", "content": PARTY[1]["content"]},
        {"role": "user", "content": PARTY[2]["content"]},
        {"role": "user", "content": COMPACTION_PROMPT},
    ]
    assert follow.output_text == "Board games indoors." and follow.status == "completed"
    assert chat_upstream.requests[1].body["messages"] == [
        {"role": "system", "content": f"{SUMMARY_HEADING}\n\n{SUMMARY}"},
        {"role": "user", "content": "List them."},
    ]


async def test_compact_with_previous_response_id_and_a_stored_compacted_chain(
    chat_upstream: ChatCompletionsServer,
) -> None:
    chat_upstream.push(chat_text("Hello Ada."), chat_text(SUMMARY), chat_text("Noted."), chat_text("Cake."))
    async with asgi_client(chat_app(chat_upstream)) as client:
        first = (await client.post("/v1/responses", json={"input": "I am Ada."})).json()
        compacted = await client.post(
            "/v1/responses/compact", json={"model": "m", "previous_response_id": first["id"], "input": "Bye."}
        )
        window = compacted.json()["output"]
        # The window starts a new chain (R66), which is stored with the compaction item in it...
        second = (
            await client.post("/v1/responses", json={"input": [*window, {"role": "user", "content": "Hi"}]})
        ).json()
        # ... and continuing that chain expands the summary again.
        third = await client.post(
            "/v1/responses", json={"input": "Dessert?", "previous_response_id": second["id"]}
        )
    assert compacted.status_code == 200, compacted.text
    roles = [m["role"] for m in chat_upstream.requests[1].body["messages"]]
    assert roles == ["user", "assistant", "user", "user"]  # history, new input, the prompt
    assert third.status_code == 200, third.text
    messages = chat_upstream.requests[3].body["messages"]
    assert messages[0] == {"role": "system", "content": f"{SUMMARY_HEADING}\n\n{SUMMARY}"}
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]


async def test_bad_compaction_items_are_a_400_naming_the_field(chat_upstream: ChatCompletionsServer) -> None:
    damaged = {"type": "compaction", "encrypted_content": ENVELOPE_PREFIX + "%%%not-base64"}
    foreign = {"type": "compaction", "encrypted_content": "gAAAAABpM0Yj-opaque-provider-blob="}
    async with asgi_client(chat_app(chat_upstream)) as client:
        bad = await client.post("/v1/responses", json={"input": [{"role": "user", "content": "x"}, damaged]})
        other = await client.post("/v1/responses", json={"input": [foreign]})
        empty = await client.post("/v1/responses/compact", json={"model": "m"})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "input.1.encrypted_content"
    assert "damaged" in bad.json()["error"]["message"]
    assert other.status_code == 400 and "compaction" in other.json()["error"]["message"]
    assert empty.status_code == 200 and empty.json()["output"] == []
    assert chat_upstream.requests == []  # nothing was sent for any of them


async def test_a_failing_summary_call_is_the_upstreams_error(chat_upstream: ChatCompletionsServer) -> None:
    chat_upstream.push(chat_status(503), chat_text(SUMMARY), chat_status(400, message="model too small"))
    async with asgi_client(chat_app(chat_upstream)) as client:
        retried = await client.post("/v1/responses/compact", json={"model": "m", "input": "Long talk."})
        refused = await client.post("/v1/responses/compact", json={"model": "m", "input": "Long talk."})
    assert retried.status_code == 200  # the 503 was retried like any call
    assert refused.status_code == 400 and "model too small" in refused.json()["error"]["message"]


async def test_the_conformance_compaction_check_passes_against_a_chat_preset(
    chat_upstream: ChatCompletionsServer, serve: Serve
) -> None:
    chat_upstream.push(chat_text(SUMMARY), chat_text("Board games and a treasure hunt."))
    with serve(chat_app(chat_upstream, preset="vllm")) as served:
        (result,) = await arun_checks(served.base_url, model="m", filter="compaction")
    assert result.passed, result.detail


async def test_in_process_over_the_adapter(chat_upstream: ChatCompletionsServer) -> None:
    chat_upstream.push(chat_text(SUMMARY), chat_text("Still Ada."))
    provider = Provider("local", base_url=chat_upstream.base_url, adapter="chat-completions", model="m")
    async with AsyncClient(middleware=[Stateful(), SummaryCompaction()], endpoint=provider) as client:
        compacted = await client.responses.compact(model="m", input=PARTY)
        answer = await client.responses.create(
            model="m", input=[*(i.to_dict() for i in compacted.output), {"role": "user", "content": "Who?"}]
        )
    assert answer.output_text == "Still Ada."
    assert chat_upstream.requests[1].body["messages"][0]["content"].endswith(SUMMARY)


def test_the_envelope_is_opaque_versioned_base64_json() -> None:
    content = encode_summary('Ünïcode summary — with "quotes"', model="qwen3:8b")
    assert content.startswith(ENVELOPE_PREFIX) and "=" not in content
    payload = content[len(ENVELOPE_PREFIX) :]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert data == {"v": 1, "summary": 'Ünïcode summary — with "quotes"', "model": "qwen3:8b"}
    assert decode_summary(content) == data["summary"]
    assert decode_summary("gAAAAAB-someone-elses") is None
    wrong_version = ENVELOPE_PREFIX + base64.urlsafe_b64encode(b'{"v": 2, "summary": "x"}').decode()
    with pytest.raises(ValueError, match="version 1"):
        decode_summary(wrong_version)
    with pytest.raises(ValueError, match="max_output_tokens"):
        SummaryCompaction(max_output_tokens=1)
    with pytest.raises(ValueError, match="prompt"):
        SummaryCompaction(prompt="  ")
