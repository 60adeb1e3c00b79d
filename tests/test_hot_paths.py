"""The proxy's hot paths made cheap without changing a byte or a behaviour.

- delta events are built by ``_emit_state.constructor`` instead of ``model_construct``: the
  same instance (dict and key order, fields set, extra), the same SSE bytes;
- the chat chunk translator's fast paths (one dict choice, no usage, nothing to seal) and the
  UTF-8 parse of a chunk give what the general paths give;
- ``EventStream.limit`` runs on one timer per stream instead of ``asyncio.timeout`` per pull:
  every limit still fires, a cancel from elsewhere is not mistaken for a timeout, a dropped
  stream is not kept alive by its timer;
- ``EventStream.patch_responses`` / ``before_terminal``: what ``Stateful`` does in place now.
"""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import BaseModel, Field

from openresponses import APITimeoutError, ProtocolError, ResponseFailedError
from openresponses._emit import EventBuilder
from openresponses._emit_state import ARGUMENTS_DELTA, DELTA, SUMMARY_DELTA, constructor
from openresponses._sse import encode_event
from openresponses._streaming import EventStream
from openresponses.transports._chat_chunks import ChatChunkTranslator
from openresponses.transports._chat_reads import first_choice
from openresponses.transports._chat_stream import ChatStreamDecoder
from openresponses.types.events import (
    FunctionCallArgumentsDeltaEvent,
    OutputTextDeltaEvent,
    ReasoningDeltaEvent,
    ReasoningSummaryTextDeltaEvent,
    RefusalDeltaEvent,
)

_CONTENT = {"sequence_number": 7, "item_id": "msg_1", "output_index": 2, "content_index": 1, "delta": "Hi\n"}

# -- delta construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "cls", "data"),
    [
        (DELTA["output_text"][0], OutputTextDeltaEvent, {"type": "response.output_text.delta", **_CONTENT}),
        (DELTA["refusal"][0], RefusalDeltaEvent, {"type": "response.refusal.delta", **_CONTENT}),
        (DELTA["reasoning_text"][0], ReasoningDeltaEvent, {"type": "response.reasoning.delta", **_CONTENT}),
        (
            SUMMARY_DELTA,
            ReasoningSummaryTextDeltaEvent,
            {
                "type": "response.reasoning_summary_text.delta",
                "sequence_number": 3,
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 0,
                "delta": "think",
            },
        ),
        (
            ARGUMENTS_DELTA,
            FunctionCallArgumentsDeltaEvent,
            {
                "type": "response.function_call_arguments.delta",
                "sequence_number": 9,
                "item_id": "fc_1",
                "output_index": 1,
                "delta": '{"a":',
            },
        ),
    ],
)
def test_fast_delta_is_the_model_construct_instance(make: Any, cls: Any, data: dict[str, Any]) -> None:
    fast = make(dict(data))
    slow = cls.model_construct(**data)
    assert type(fast) is cls
    assert list(fast.__dict__.items()) == list(slow.__dict__.items())  # key order too (repr)
    assert fast.model_fields_set == slow.model_fields_set == set(data)
    assert fast.__pydantic_extra__ == slow.__pydantic_extra__
    assert fast.__pydantic_private__ == slow.__pydantic_private__
    assert fast == slow and repr(fast) == repr(slow)
    assert encode_event(fast) == encode_event(slow)
    assert fast.model_dump_json() == slow.model_dump_json()
    # Instances share no mutable state.
    other = make(dict(data))
    other.__pydantic_fields_set__.add("obfuscation")
    assert "obfuscation" not in fast.model_fields_set


def test_builder_delta_bytes_are_pinned() -> None:
    builder = EventBuilder(model="m", response_id="resp_1", created_at=1)
    builder.created()
    index = builder.start_message(id="msg_1")
    builder.text(index, "Hel")
    builder.reasoning_text(builder.start_reasoning(id="rs_1"), "hm")
    events = builder.drain()
    assert encode_event(events[3]) == (
        b"event: response.output_text.delta\n"
        b'data: {"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1",'
        b'"output_index":0,"content_index":0,"delta":"Hel"}\n\n'
    )
    reasoning = [e for e in events if e.type == "response.reasoning.delta"]
    assert encode_event(reasoning[0]).endswith(b'"content_index":0,"delta":"hm"}\n\n')
    # The accumulator saw each delta once.
    assert builder.accumulator.deltas == 2


class _Factory(BaseModel):
    type: str
    tags: list[str] = Field(default_factory=list)


class _Mutable(BaseModel):
    type: str
    data: dict[str, Any] = {}  # a mutable default: constructor must not share it


def test_constructor_falls_back_for_models_it_cannot_reproduce() -> None:
    for cls in (_Factory, _Mutable):
        make = constructor(cls, ("type",))
        first, second = make({"type": "a"}), make({"type": "a"})
        assert first == cls.model_construct(type="a")
        field = "tags" if cls is _Factory else "data"
        assert getattr(first, field) is not getattr(second, field)
    # Fields not in the model's order: model_construct, same result.
    make = constructor(OutputTextDeltaEvent, ("sequence_number", "type"))
    event = make({"sequence_number": 1, "type": "response.output_text.delta"})
    assert event == OutputTextDeltaEvent.model_construct(sequence_number=1, type="response.output_text.delta")


# -- chat chunks ---------------------------------------------------------------------------------


def _chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "c", "model": "m", "created": 1, "choices": [{"index": 0, "delta": delta}], **extra}


def test_single_choice_is_taken_whatever_its_index() -> None:
    assert first_choice([{"index": 3, "delta": {}}]) == {"index": 3, "delta": {}}
    assert first_choice([{"index": 1}, {"index": 0, "x": 1}]) == {"index": 0, "x": 1}
    assert first_choice([]) is None


def test_usage_on_a_content_chunk_still_counts() -> None:
    chat = ChatChunkTranslator()
    events = chat.feed(_chunk({"role": "assistant", "content": "a"}))
    usage = {"prompt_tokens": 2, "completion_tokens": 1}
    events += chat.feed({**_chunk({"content": "b"}, usage=usage), "choices": [{"delta": {"content": "c"}}]})
    events += chat.feed(_chunk({}, **{"x_groq": {"usage": {"prompt_tokens": 5, "completion_tokens": 2}}}))
    events += chat.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events += chat.end()
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.usage.input_tokens == 5  # the last usage seen wins
    assert final.response.output_text == "ac"


def test_reasoning_then_text_is_sealed_with_carry_reasoning() -> None:
    from openresponses.transports._chat_chunks import ChatStreamOptions

    chat = ChatChunkTranslator(options=ChatStreamOptions(carry_reasoning=True))
    events = chat.feed(_chunk({"reasoning_content": "think"}))
    events += chat.feed(_chunk({"content": "answer"}))
    events += chat.feed(_chunk({}, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    events += chat.end()
    reasoning = events[-1].response.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    assert events[-1].response.output_text == "answer"


def test_chunk_json_is_utf8_as_json_loads_reads_bytes() -> None:
    decoder = ChatStreamDecoder()
    text = "caf\u00e9 \u2603 \U0001f600"
    line = b"data: " + json.dumps({"choices": [{"delta": {"content": text}}]}, ensure_ascii=False).encode()
    events = decoder.feed(line + b"\n\n")
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == [text]
    # A byte-order mark before the JSON is accepted, as json.loads(bytes) accepts it.
    bom = b"data: \xef\xbb\xbf" + json.dumps({"choices": [{"delta": {"content": "x"}}]}).encode()
    assert [e.delta for e in decoder.feed(bom + b"\n\n") if e.type == "response.output_text.delta"] == ["x"]
    with pytest.raises(ProtocolError, match="Invalid JSON"):
        ChatStreamDecoder().feed(b'data: {"choices": "\xff"}\n\n')


# -- limits on one timer --------------------------------------------------------------------------


class _Source:
    """Batches of one event each, a pause before each, then a stall (or the end)."""

    def __init__(self, batches: Sequence[Sequence[Any]], *, gap: float = 0.0, stall: float | None = None):
        self.batches = list(batches)
        self.gap = gap
        self.stall = stall

    def __aiter__(self) -> _Source:
        return self

    async def __anext__(self) -> Sequence[Any]:
        if self.batches:
            if self.gap:
                await asyncio.sleep(self.gap)
            return self.batches.pop(0)
        if self.stall is not None:
            await asyncio.sleep(self.stall)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.batches.clear()


def _events(n: int) -> list[list[Any]]:
    builder = EventBuilder(model="m")
    builder.created()
    index = builder.start_message()
    for _ in range(n):
        builder.text(index, "x")
    builder.end_item(index)
    builder.complete()
    return [[event] for event in builder.drain()]


async def test_a_cancel_from_elsewhere_is_not_a_timeout() -> None:
    stream = EventStream(_Source(_events(2)[:2], stall=10)).limit(idle=5)
    task = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.01)
    assert task.done()
    task = asyncio.ensure_future(_drain(stream))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def _drain(stream: EventStream) -> list[Any]:
    return [event async for event in stream]


async def test_a_stricter_limit_set_later_fires_first() -> None:
    stream = EventStream(_Source(_events(3)[:3], stall=10)).limit(idle=30)
    await stream.__anext__()  # arms the timer for 30 s
    stream.limit(idle=0.1)
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(_drain(stream), 5)
    error = caught.value
    cause = error if isinstance(error, APITimeoutError) else error.__cause__
    assert isinstance(cause, APITimeoutError) and cause.which == "idle"


async def test_a_total_deadline_fires_on_a_healthy_stream() -> None:
    loop_time = asyncio.get_running_loop().time
    import time

    stream = EventStream(_Source(_events(400), gap=0.01)).limit(deadline=time.monotonic() + 0.2, idle=10)
    start = loop_time()
    with pytest.raises(Exception) as caught:
        await _drain(stream)
    cause = caught.value if isinstance(caught.value, APITimeoutError) else caught.value.__cause__
    assert isinstance(cause, APITimeoutError) and cause.which == "total"
    assert loop_time() - start < 3.0  # well before the 4 s the stream needs


async def test_an_idle_limit_survives_a_long_healthy_stream() -> None:
    batches = _events(30)
    stream = EventStream(_Source(batches, gap=0.01)).limit(idle=1.0, first_event=1.0)
    events = await _drain(stream)
    assert events[-1].type == "response.completed" and len(events) == len(batches)


async def test_a_dropped_stream_is_not_kept_alive_by_its_timer() -> None:
    ends: list[Any] = []
    stream = EventStream(_Source(_events(3)[:3], stall=10)).limit(idle=60).tap(on_end=ends.append)
    await stream.__anext__()
    ref = weakref.ref(stream)
    del stream
    gc.collect()
    assert ref() is None
    assert ends and ends[0].abandoned


# -- patch_responses / before_terminal ----------------------------------------------------------


def _patch(event: Any) -> Any:
    return event.model_copy(update={"response": event.response.model_copy(update={"store": True})})


async def _primed(batches: list[list[Any]]) -> EventStream:
    stream = EventStream(_Source(batches))
    await stream.prime()
    return stream


async def test_patch_applies_to_buffered_and_later_events_and_the_accumulator() -> None:
    stream = await _primed(_events(2))
    assert stream.patchable
    stream.patch_responses(_patch)
    assert stream.snapshot() is not None and stream.snapshot().store is True  # type: ignore[union-attr]
    events = await _drain(stream)
    assert [e.response.store for e in events if hasattr(e, "response")] == [True, True]
    assert stream.snapshot().store is True  # type: ignore[union-attr]


async def test_patch_needs_a_patchable_stream() -> None:
    stream = await _primed(_events(2))
    await stream.__anext__()
    assert not stream.patchable
    with pytest.raises(RuntimeError, match="patch_responses"):
        stream.patch_responses(_patch)
    tapped = (await _primed(_events(2))).tap(on_event=lambda event: None)
    assert not tapped.patchable


async def test_before_terminal_runs_before_the_terminal_is_handed_over() -> None:
    seen: list[str] = []

    async def hook(event: Any, stream: EventStream) -> None:
        await asyncio.sleep(0)
        seen.append(f"hook:{event.type}:{stream.snapshot().status}")  # type: ignore[union-attr]

    stream = (await _primed(_events(1))).before_terminal(hook)
    stream.tap(on_event=lambda event: seen.append(event.type))
    async for _ in stream:
        pass
    assert seen[-2:] == ["hook:response.completed:completed", "response.completed"]
    assert seen.count("hook:response.completed:completed") == 1
    # next_batch delivers the same way.
    calls: list[str] = []

    async def record(event: Any, stream: EventStream) -> None:
        calls.append(event.type)

    batched = EventStream(_Source([[e for batch in _events(1) for e in batch]])).before_terminal(record)
    assert (await batched.next_batch())[-1].type == "response.completed" and calls == ["response.completed"]


async def test_before_terminal_skips_failures_and_early_closes() -> None:
    calls: list[str] = []

    async def hook(event: Any, stream: EventStream) -> None:
        calls.append(event.type)

    builder = EventBuilder(model="m")
    builder.created()
    builder.text(builder.start_message(), "x")
    failed = [[event] for event in builder.drain() + builder.fail("boom")]
    stream = EventStream(_Source(failed)).before_terminal(hook)
    with pytest.raises(ResponseFailedError):
        await _drain(stream)
    closed = EventStream(_Source(_events(3))).before_terminal(hook)
    await closed.__anext__()
    await closed.aclose()
    assert calls == []


async def test_a_failing_hook_is_logged_and_the_stream_ends() -> None:
    async def hook(event: Any, stream: EventStream) -> None:
        raise ValueError("nope")

    stream = EventStream(_Source(_events(1))).before_terminal(hook)
    assert (await _drain(stream))[-1].type == "response.completed"


# -- Stateful in place ----------------------------------------------------------------------------


async def test_stateful_patches_the_upstream_stream_in_place() -> None:
    from openresponses._pipeline import Request
    from openresponses.middleware import Stateful
    from openresponses.store import MemoryStore
    from openresponses.types import CreateResponseBody

    store = MemoryStore()
    upstream_streams: list[EventStream] = []

    async def upstream(request: Request) -> Any:
        stream = await _primed(_events(2))
        upstream_streams.append(stream)
        return stream

    body = CreateResponseBody(model="m", input="a", stream=True)
    first = await Stateful(store)(Request(body=body, stream=True), upstream)
    assert first is upstream_streams[0]  # no wrapper
    events = await _drain(first)
    assert all(e.response.store is True for e in events if hasattr(e, "response"))
    stored = await store.get(events[-1].response.id)
    assert stored is not None  # written before the terminal was handed over

    # A chained stream cut before its end: the partial response still names its predecessor.
    async def cut(request: Request) -> Any:
        return await _primed(_events(3)[:3])

    body = CreateResponseBody(model="m", input="b", previous_response_id=events[-1].response.id, stream=True)
    second = await Stateful(store)(Request(body=body, stream=True), cut)
    with pytest.raises(ProtocolError) as caught:
        await _drain(second)
    assert caught.value.response is not None
    assert caught.value.response.previous_response_id == events[-1].response.id
