"""Stream recording and replay: live misses, conformant replays, deltas as recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from openresponses import EventStream
from openresponses.cache import CACHE_FIELD
from openresponses.middleware import SemanticCache
from openresponses.testing import Script, assert_valid_stream, text, text_events
from openresponses.types import Response, StreamEvent


async def collect(reply: Any) -> list[StreamEvent]:
    assert isinstance(reply, EventStream)
    return [event async for event in reply]


def deltas(events: list[StreamEvent]) -> list[str]:
    return [e.delta for e in events if e.type.endswith(".delta")]  # type: ignore[attr-defined]


async def test_streaming_miss_is_live_while_recorded(make_request: Any) -> None:
    release = asyncio.Event()
    events = text_events("Hello there, world", chunks=3)

    async def source() -> AsyncIterator[list[StreamEvent]]:
        for event in events[:5]:
            yield [event]
        await release.wait()  # the upstream is still thinking
        for event in events[5:]:
            yield [event]

    cache = SemanticCache()
    reply = await cache(make_request(stream=True), Script(EventStream(source())))
    assert isinstance(reply, EventStream)
    seen = []
    async for event in reply:
        seen.append(event)
        if event.type == "response.output_text.delta":
            break
    assert seen[-1].type == "response.output_text.delta"  # delivered before the upstream finished
    release.set()
    rest = [event async for event in reply]
    assert rest[-1].type == "response.completed"
    assert len(cache.store) == 1  # type: ignore[arg-type]


async def test_streaming_hit_is_a_conformant_replay_with_recorded_deltas(make_request: Any) -> None:
    cache = SemanticCache()
    upstream = Script(
        text(
            "The capital of France is Paris.",
            chunks=["The ", "capital o", "f", " France is Pa", "ris."],
            reasoning="Easy one.",
        )
    )
    original = await collect(await cache(make_request(stream=True), upstream))
    replayed = await collect(await cache(make_request(stream=True), upstream))
    assert upstream.calls == 1
    assert_valid_stream(replayed)  # the spec's ordering rules and JSON schemas
    assert [e.type for e in replayed] == [e.type for e in original]
    assert deltas(replayed) == deltas(original)
    assert [e.sequence_number for e in replayed] == list(range(len(replayed)))
    first, final = replayed[0], replayed[-1]
    old_final = original[-1]
    assert final.response.id == first.response.id != old_final.response.id  # type: ignore[attr-defined]
    old_ids = {item.id for item in old_final.response.output}  # type: ignore[attr-defined]
    new_ids = {item.id for item in final.response.output}  # type: ignore[attr-defined]
    assert not old_ids & new_ids
    marker = (final.response.model_extra or {})[CACHE_FIELD]  # type: ignore[attr-defined]
    assert marker["layer"] == "exact"
    assert final.response.output_text == "The capital of France is Paris."  # type: ignore[attr-defined]


async def test_semantic_streaming_hit_carries_similarity(make_request: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("Paris.", chunks=2))
    await collect(await cache(make_request("What is the capital of France?", stream=True), upstream))
    replayed = await collect(
        await cache(make_request("Which city is the capital of France?", stream=True), upstream)
    )
    assert upstream.calls == 1
    assert_valid_stream(replayed)
    marker = (replayed[-1].response.model_extra or {})[CACHE_FIELD]  # type: ignore[attr-defined]
    assert marker["layer"] == "semantic" and 0 < marker["similarity"] < 1


async def test_whole_response_stored_streams_word_by_word(make_request: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("Paris is the capital."))
    stored = await cache(make_request(), upstream)
    assert isinstance(stored, Response)
    replayed = await collect(await cache(make_request(stream=True), upstream))
    assert_valid_stream(replayed)
    assert deltas(replayed) == ["Paris ", "is ", "the ", "capital."]


async def test_streamed_answer_serves_a_whole_response(make_request: Any) -> None:
    cache = SemanticCache()
    upstream = Script(text("Paris.", chunks=2))
    await collect(await cache(make_request(stream=True), upstream))
    whole = await cache(make_request(), upstream)
    assert isinstance(whole, Response) and whole.output_text == "Paris."
    assert whole.status == "completed" and (whole.model_extra or {})[CACHE_FIELD]["layer"] == "exact"


async def test_pacing_spaces_the_deltas(make_request: Any) -> None:
    cache = SemanticCache(pacing=0.001)
    upstream = Script(text("one two three"))
    await cache(make_request(), upstream)
    reply = await cache(make_request(stream=True), upstream)
    assert isinstance(reply, EventStream)
    batches = []
    while batch := await reply.next_batch():
        batches.append(batch)
    assert len(batches) >= 3  # one delta per batch, not one aggregated chunk
    assert_valid_stream([event for batch in batches for event in batch])
