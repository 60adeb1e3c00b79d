"""SemanticCache against a scripted upstream: the layers, the isolation rules, the storage rules."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from openresponses import EventStream, Request, RequestValidationError, ResponseFailedError
from openresponses.cache import CACHE_FIELD, MemoryStore
from openresponses.middleware import SemanticCache
from openresponses.testing import FakeClock, Script, failed, function_call, incomplete, text
from openresponses.types import Response


async def answer(cache: SemanticCache, request: Request, upstream: Script) -> Response:
    reply = await cache(request, upstream)
    if isinstance(reply, EventStream):
        async for _ in reply:
            pass
        final = reply.snapshot()
        assert final is not None
        return final
    assert isinstance(reply, Response)
    return reply


async def test_exact_hit_never_calls_upstream(make_request: Any, recorder: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("Paris."))
    first = await answer(cache, make_request(), upstream)
    assert CACHE_FIELD not in (first.model_extra or {})
    second = await answer(cache, make_request(recorder=recorder), upstream)
    assert upstream.calls == 1
    assert second.output_text == "Paris."
    marker = (second.model_extra or {})[CACHE_FIELD]
    assert marker["layer"] == "exact" and marker["similarity"] == 1.0
    assert second.id != first.id and second.output[0].id != first.output[0].id
    assert second.provider == "cache"
    assert recorder.last.hit and recorder.last.status == "HIT" and recorder.last.layer == "exact"


async def test_normalisation_string_and_message_input_share_a_key(make_request: Any) -> None:
    cache = SemanticCache(semantic=False)
    upstream = Script(text("Paris."))
    await answer(cache, make_request("What is the capital of France?"), upstream)
    as_items = [
        {"role": "user", "content": [{"type": "input_text", "text": "What is the capital of France? "}]}
    ]
    hit = await answer(cache, make_request(as_items, metadata={"trace": "x"}, store=False), upstream)
    assert upstream.calls == 1
    assert (hit.model_extra or {})[CACHE_FIELD]["layer"] == "exact"


async def test_semantic_hit_on_a_reworded_prompt(make_request: Any, recorder: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("Paris."))
    await answer(cache, make_request("What is the capital of France?"), upstream)
    hit = await answer(
        cache, make_request("Which city is the capital of France?", recorder=recorder), upstream
    )
    assert upstream.calls == 1
    marker = (hit.model_extra or {})[CACHE_FIELD]
    assert marker["layer"] == "semantic" and cache.threshold <= marker["similarity"] < 1.0
    assert recorder.last.status == "SEMANTIC-HIT" and recorder.last.similarity == marker["similarity"]


@pytest.mark.parametrize(
    "other",
    [
        "Tell me a joke about penguins.",  # unrelated
        "What is the capital of Germany?",  # one entity swapped
    ],
)
async def test_miss_on_a_different_question(make_request: Any, recorder: Any, other: str) -> None:
    cache = SemanticCache()
    upstream = Script(text("Paris."), text("Something else."))
    await answer(cache, make_request("What is the capital of France?"), upstream)
    reply = await answer(cache, make_request(other, recorder=recorder), upstream)
    assert upstream.calls == 2 and reply.output_text == "Something else."
    assert recorder.last.status == "MISS" and not recorder.last.hit


async def test_numbers_must_match_for_a_semantic_hit(make_request: Any) -> None:
    # Near-identical wording: only the numbers guard stops this one.
    cache = SemanticCache(threshold=0.5)
    upstream = Script(text("4"), text("5"))
    await answer(cache, make_request("What is 2 + 2?"), upstream)
    reply = await answer(cache, make_request("What is 2 + 3?"), upstream)
    assert upstream.calls == 2 and reply.output_text == "5"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"instructions": "Answer in French."}, {"instructions": "Answer in German."}),
        ({"model": "m"}, {"model": "other-model"}),
        (
            {"tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]},
            {"tools": [{"type": "function", "name": "search", "parameters": {"type": "object"}}]},
        ),
        ({"tool_choice": "auto"}, {"tool_choice": "none"}),
        ({"text": {"format": {"type": "text"}}}, {"text": {"format": {"type": "json_object"}}}),
        ({"temperature": 0}, {"top_p": 0.5, "temperature": 0}),
        ({"reasoning": {"effort": "low"}}, {"reasoning": {"effort": "high"}}),
    ],
)
async def test_no_hit_across_fixed_parts(
    make_request: Any, first: dict[str, Any], second: dict[str, Any]
) -> None:
    cache = SemanticCache()
    upstream = Script(text("A"), text("B"))
    prompt = "What is the capital of France?"
    await answer(cache, make_request(prompt, **first), upstream)
    reply = await answer(cache, make_request(prompt, **second), upstream)
    assert upstream.calls == 2 and reply.output_text == "B"


async def test_no_hit_across_earlier_turns(make_request: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("A"), text("B"), text("C"))

    def turns(earlier: str) -> list[dict[str, Any]]:
        return [
            {"role": "user", "content": earlier},
            {"role": "assistant", "content": "Sure."},
            {"role": "user", "content": "And what is its population?"},
        ]

    await answer(cache, make_request(turns("Tell me about Paris.")), upstream)
    reply = await answer(cache, make_request(turns("Tell me about Lagos.")), upstream)
    assert upstream.calls == 2 and reply.output_text == "B"
    hit = await answer(cache, make_request(turns("Tell me about Paris.")), upstream)
    assert upstream.calls == 2 and hit.output_text == "A"


async def test_no_hit_across_namespaces(make_request: Any) -> None:
    store = MemoryStore()
    tenant_a = SemanticCache(store, namespace="tenant-a")
    tenant_b = SemanticCache(store, namespace="tenant-b")
    upstream = Script(text("A"), text("B"))
    await answer(tenant_a, make_request(), upstream)
    reply = await answer(tenant_b, make_request(), upstream)
    assert upstream.calls == 2 and reply.output_text == "B"


async def test_per_call_credentials_are_separate_namespaces(make_request: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("A"), text("B"))
    alice = {"authorization": "Bearer sk-alice-0000000000000000"}
    bob = {"Authorization": "Bearer sk-bob-00000000000000000000"}
    await answer(cache, make_request(headers=alice), upstream)
    assert (await answer(cache, make_request(headers=bob), upstream)).output_text == "B"
    hit = await answer(cache, make_request(headers=alice), upstream)
    assert upstream.calls == 2 and hit.output_text == "A"


@pytest.mark.parametrize(
    "scenario",
    [failed(after_text="Par"), incomplete("Paris is"), function_call("lookup", {"city": "Paris"})],
    ids=["failed", "incomplete", "function_call"],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_only_completed_answers_are_stored(make_request: Any, scenario: Any, stream: bool) -> None:
    cache = SemanticCache()
    upstream = Script(scenario, text("Paris."))
    with contextlib.suppress(ResponseFailedError):
        await answer(cache, make_request(stream=stream), upstream)
    reply = await answer(cache, make_request(stream=stream), upstream)
    assert upstream.calls == 2 and reply.output_text == "Paris."
    assert len(cache.store) == 1  # type: ignore[arg-type]


async def test_function_calls_are_stored_when_allowed(make_request: Any) -> None:
    cache = SemanticCache(cache_tool_calls=True)
    upstream = Script(function_call("lookup", {"city": "Paris"}, call_id="call_1"))
    first = await answer(cache, make_request(), upstream)
    again = await answer(cache, make_request(), upstream)
    assert upstream.calls == 1
    assert again.output[0].type == "function_call"
    assert again.output[0].call_id != first.output[0].call_id  # type: ignore[union-attr]


async def test_abandoned_and_cancelled_streams_are_not_stored(make_request: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("Paris is the capital.", chunks=4), text("Paris."), text("Paris."))
    reply = await cache(make_request(stream=True), upstream)
    assert isinstance(reply, EventStream)
    async for event in reply:
        if event.type == "response.output_text.delta":
            break  # the caller walks away mid-answer
    await reply.aclose()
    assert len(cache.store) == 0  # type: ignore[arg-type]
    # A stream dropped without being closed (garbage) stores nothing either.
    dropped = await cache(make_request(stream=True), upstream)
    assert isinstance(dropped, EventStream)
    await dropped.prime()
    del dropped
    assert len(cache.store) == 0  # type: ignore[arg-type]
    await answer(cache, make_request(stream=True), upstream)
    assert len(cache.store) == 1  # type: ignore[arg-type]


async def test_sampled_requests_bypass_unless_allowed(make_request: Any, recorder: Any) -> None:
    upstream = Script(text("A"), text("B"), text("C"))
    cache = SemanticCache()
    await answer(cache, make_request(temperature=0.7), upstream)
    await answer(cache, make_request(temperature=0.7, recorder=recorder), upstream)
    assert upstream.calls == 2
    assert recorder.last.status == "BYPASS" and recorder.last.reason == "sampled"
    allowing = SemanticCache(allow_sampled=True)
    await answer(allowing, make_request(temperature=0.7), upstream)
    assert (await answer(allowing, make_request(temperature=0.7), upstream)).output_text == "C"
    assert upstream.calls == 3


async def test_previous_response_id_bypasses(make_request: Any, recorder: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("A"), text("B"))
    await answer(cache, make_request(previous_response_id="resp_1"), upstream)
    await answer(cache, make_request(previous_response_id="resp_1", recorder=recorder), upstream)
    assert upstream.calls == 2 and recorder.last.reason == "previous_response_id"


async def test_bypass_and_refresh_headers(make_request: Any, recorder: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("old"), text("bypassed"), text("new"))
    await answer(cache, make_request(), upstream)
    bypass = {"x-openresponses-cache": "bypass"}
    assert (
        await answer(cache, make_request(headers=bypass, recorder=recorder), upstream)
    ).output_text == "bypassed"
    assert recorder.last.status == "BYPASS"
    assert "x-openresponses-cache" not in upstream.requests[-1].headers  # never sent upstream
    refresh = {"X-OpenResponses-Cache": "refresh"}
    assert (
        await answer(cache, make_request(headers=refresh, recorder=recorder), upstream)
    ).output_text == "new"
    assert recorder.last.status == "REFRESH"
    assert (await answer(cache, make_request(), upstream)).output_text == "new"  # refreshed entry
    assert upstream.calls == 3


async def test_cache_control_header(make_request: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("A"), text("B"))
    await answer(cache, make_request(), upstream)
    reply = await answer(cache, make_request(headers={"Cache-Control": "no-cache"}), upstream)
    assert reply.output_text == "B" and upstream.calls == 2


async def test_bad_control_header_is_a_typed_error(make_request: Any) -> None:
    upstream = Script(text("A"))
    with pytest.raises(RequestValidationError, match="x-openresponses-cache"):
        await SemanticCache()(make_request(headers={"x-openresponses-cache": "sometimes"}), upstream)
    assert upstream.calls == 0


async def test_ttl_expiry(make_request: Any) -> None:
    clock = FakeClock()
    cache = SemanticCache(MemoryStore(clock=clock.now), ttl=60, clock=clock.now)
    upstream = Script(text("A"), text("B"))
    await answer(cache, make_request(), upstream)
    await clock.sleep(59)
    assert (await answer(cache, make_request(), upstream)).output_text == "A"
    await clock.sleep(2)
    assert (await answer(cache, make_request(), upstream)).output_text == "B"
    assert upstream.calls == 2


async def test_lru_bound(make_request: Any) -> None:
    cache = SemanticCache(max_entries=2, semantic=False)
    upstream = Script(text("1"), text("2"), text("3"), text("1 again"))
    await answer(cache, make_request("one"), upstream)
    await answer(cache, make_request("two"), upstream)
    await answer(cache, make_request("one"), upstream)  # a hit: "one" is now the most recent
    await answer(cache, make_request("three"), upstream)  # evicts "two", the least recently used
    assert len(cache.store) == 2  # type: ignore[arg-type]
    assert (await answer(cache, make_request("one"), upstream)).output_text == "1"
    assert upstream.calls == 3


async def test_invalidation_by_key_and_namespace(make_request: Any) -> None:
    cache = SemanticCache(namespace="tenant")
    upstream = Script(text("A"), text("B"), text("C"))
    await answer(cache, make_request(), upstream)
    hit = await answer(cache, make_request(), upstream)
    key = (hit.model_extra or {})[CACHE_FIELD]["key"]
    assert await cache.invalidate(key) == 1
    assert (await answer(cache, make_request(), upstream)).output_text == "B"
    assert await cache.invalidate(namespace="tenant") == 1
    assert (await answer(cache, make_request(), upstream)).output_text == "C"


class BrokenStore(MemoryStore):
    async def get(self, namespace: str, key: str) -> Any:
        raise OSError("disk on fire")

    async def put(self, entry: Any) -> None:
        raise OSError("disk on fire")


async def test_a_failing_store_is_a_miss_never_an_error(make_request: Any, caplog: Any) -> None:
    cache = SemanticCache(BrokenStore())
    upstream = Script(text("A"), text("B"))
    assert (await answer(cache, make_request(), upstream)).output_text == "A"
    assert (await answer(cache, make_request(stream=True), upstream)).output_text == "B"
    assert "disk on fire" in caplog.text


async def test_a_failing_embedder_leaves_the_exact_layer(make_request: Any) -> None:
    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("embedder down")

    cache = SemanticCache(embedder=broken)
    upstream = Script(text("A"))
    await answer(cache, make_request(), upstream)
    assert (await answer(cache, make_request(), upstream)).output_text == "A"
    assert upstream.calls == 1


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="threshold"):
        SemanticCache(threshold=1.5)
    with pytest.raises(ValueError, match="ttl"):
        SemanticCache(ttl=0)
    with pytest.raises(ValueError, match="max_entries"):
        SemanticCache(MemoryStore(), max_entries=10)
    with pytest.raises(TypeError, match="CacheStore"):
        SemanticCache(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="embedder"):
        SemanticCache(embedder=42)  # type: ignore[arg-type]
