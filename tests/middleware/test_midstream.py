"""Mid-stream recovery: raise, restart on the next provider, or continue the partial text."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses import AsyncClient, Provider, ResponseFailedError, StreamInterrupted
from openresponses.middleware import Failover, Timeout
from openresponses.middleware.failover import CONTINUED_EVENT, RECOVERY_FIELD, RESTARTED_EVENT
from openresponses.testing import (
    Fault,
    FunctionCallOutput,
    Scenario,
    ScriptedServer,
    assert_valid_stream,
    failed,
    reset_mid_stream,
    stall,
    text,
    truncated,
)
from openresponses.types import UnknownEvent


@pytest.fixture
async def pair() -> AsyncIterator[tuple[ScriptedServer, ScriptedServer]]:
    async with ScriptedServer() as a, ScriptedServer() as b:
        yield a, b


async def consume(
    a: ScriptedServer, b: ScriptedServer, recorder: Any, midstream: str, *, a_middleware: Any = ()
) -> tuple[list[Any], Any, Any]:
    providers = [Provider("a", a.base_url, middleware=list(a_middleware)), Provider("b", b.base_url)]
    async with AsyncClient(middleware=[Failover(providers, midstream=midstream)]) as client:  # type: ignore[arg-type]
        request = client.build_request({"model": "m", "input": "Tell me"}, stream=True)
        request.context.observers.append(recorder)
        stream = await client.send(request)
        events: list[Any] = []
        try:
            async for event in stream:  # type: ignore[union-attr]
                events.append(event)
        finally:
            await stream.aclose()  # type: ignore[union-attr]
        return events, stream.snapshot(), stream  # type: ignore[union-attr]


async def test_raise_is_the_default(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(reset_mid_stream(after_events=5, text="Hello world, this is partial"))
    with pytest.raises(StreamInterrupted) as info:
        await consume(a, b, recorder, "raise")
    assert info.value.response is not None and info.value.response.output_text == "Hello"
    assert len(b.requests) == 0


@pytest.mark.parametrize(
    ("fault", "reason", "middleware"),
    [
        (reset_mid_stream(after_events=5), "interrupted", ()),
        (stall(after_events=5, seconds=3.0), "timeout.idle", (Timeout(idle=0.15),)),
        (failed("boom", after_text="Partial words here"), "response_failed", ()),
        (truncated(after_events=5), "protocol", ()),
    ],
    ids=["reset", "stall-past-idle", "response.failed", "no-terminal-event"],
)
async def test_restart_on_the_next_provider(
    pair: Any, recorder: Any, fault: Any, reason: str, middleware: Any
) -> None:
    a, b = pair
    a.push(fault)
    b.push(text("A fresh full answer", chunks=4))
    events, final, stream = await consume(a, b, recorder, "restart", a_middleware=middleware)
    types = [e.type for e in events]
    marker_at = types.index(RESTARTED_EVENT)
    marker = events[marker_at]
    assert isinstance(marker, UnknownEvent)
    extra = marker.model_extra or {}
    assert (extra["from"], extra["to"], extra["reason"]) == ("a", "b", reason)
    assert extra["events_discarded"] == marker_at
    # Sequence numbers keep increasing across the restart; nothing after it is lost or doubled.
    seqs = [e.sequence_number for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert marker.sequence_number == events[marker_at - 1].sequence_number + 1
    after = events[marker_at + 1 :]
    assert after[0].type == "response.created" and after[-1].type == "response.completed"
    assert_valid_stream(after, schema=False)
    assert "".join(e.delta for e in after if e.type == "response.output_text.delta") == "A fresh full answer"
    # The accumulator restarted: the final response is b's alone, and says it was restarted.
    assert final.output_text == "A fresh full answer"
    assert final.model_extra[RECOVERY_FIELD] == [
        {
            "mode": "restart",
            "from": "a",
            "to": "b",
            "reason": reason,
            "sequence_number": marker.sequence_number,
        }
    ]
    assert stream.provider == "b"
    assert recorder.of("restart") == [{"from": "a", "to": "b", "events_discarded": marker_at}]
    # b got the original request, without a's partial output.
    assert b.requests[0].body["input"] == "Tell me"
    await a.wait_until(lambda s: s.open_connections == 0)


async def test_continue_splices_the_continuation_into_the_same_item(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(reset_mid_stream(after_events=6, text="The quick brown fox jumps"))
    b.push(text(" over the lazy dog.", chunks=[" over", " the lazy", " dog."]))
    events, final, stream = await consume(a, b, recorder, "continue")
    types = [e.type for e in events]
    assert CONTINUED_EVENT in types and RESTARTED_EVENT not in types
    assert types.count("response.created") == 1
    assert types.count("response.output_item.added") == 1
    assert types.count("response.completed") == 1
    item_ids = {
        e.item_id for e in events if hasattr(e, "item_id") and e.type.startswith("response.output_text")
    }
    assert len(item_ids) == 1
    assert {e.output_index for e in events if hasattr(e, "output_index")} == {0}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert_valid_stream(events, schema=False)
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "The quick over the lazy dog."
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == deltas
    assert final.output_text == deltas
    assert len(final.output) == 1 and final.output[0].id in item_ids
    assert final.id == events[0].response.id  # one coherent response
    assert final.model_extra[RECOVERY_FIELD][0]["mode"] == "continue"
    assert stream.provider == "b"
    # b received the original input plus the partial assistant text.
    assert b.requests[0].body["input"] == [
        {"type": "message", "role": "user", "content": "Tell me"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "The quick", "annotations": []}],
        },
    ]
    assert recorder.of("continue") == [{"from": "a", "to": "b", "events_discarded": 0}]


async def test_continue_falls_back_to_restart_when_a_function_call_was_in_progress(
    pair: Any, recorder: Any
) -> None:
    a, b = pair
    call = FunctionCallOutput(name="get_weather", arguments='{"location": "Paris"}', chunks=4)
    a.push(Scenario(outputs=(call,), fault=Fault("reset", after_events=5)))
    b.push(text("Restarted instead"))
    events, final, _ = await consume(a, b, recorder, "continue")
    types = [e.type for e in events]
    assert RESTARTED_EVENT in types and CONTINUED_EVENT not in types
    assert final.output_text == "Restarted instead"
    assert [item.type for item in final.output] == ["message"]
    assert b.requests[0].body["input"] == "Tell me"


async def test_no_provider_left_raises_the_interruption(recorder: Any) -> None:
    async with (
        ScriptedServer([reset_mid_stream(after_events=5)]) as a,
        ScriptedServer([reset_mid_stream(after_events=5)]) as b,
    ):
        with pytest.raises(StreamInterrupted) as info:
            await consume(a, b, recorder, "restart")
    assert any("no provider after 'b'" in note for note in info.value.__notes__)
    assert len(recorder.of("restart")) == 1


async def test_a_failed_recovery_raises_the_original_interruption(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(reset_mid_stream(after_events=5))
    b.push(failed("also down"))
    with pytest.raises(StreamInterrupted) as info:
        await consume(a, b, recorder, "restart")
    assert any("restart after a mid-stream failure failed" in note for note in info.value.__notes__)


async def test_a_content_policy_failure_mid_stream_is_not_recovered(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(failed("refused", code="content_filter", type="invalid_request", after_text="Some text"))
    with pytest.raises(ResponseFailedError):
        await consume(a, b, recorder, "restart")
    assert len(b.requests) == 0


async def test_the_caller_stream_counts_every_delta_across_a_restart(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(reset_mid_stream(after_events=6, text="Hello world, this is partial"))
    b.push(text("A fresh full answer", chunks=4))
    events, final, stream = await consume(a, b, recorder, "restart")
    delivered = [e for e in events if e.type == "response.output_text.delta"]
    # One accumulator per caller stream: before the restart it is the first provider's (each
    # event accumulated once), after it the caller's stream feeds it; counts run on.
    assert stream.accumulator.deltas == len(delivered) > 4
    assert stream.accumulator.first_delta_at is not None
    assert final.output_text == "A fresh full answer"


async def test_an_unrecovered_failure_keeps_the_partial_response(pair: Any, recorder: Any) -> None:
    a, b = pair
    a.push(failed("refused", code="content_filter", type="invalid_request", after_text="Some text"))
    with pytest.raises(ResponseFailedError) as info:
        await consume(a, b, recorder, "continue")
    response = info.value.response
    assert response is not None and response.output_text == "Some text"


@pytest.mark.parametrize("midstream", ["restart", "continue"])
async def test_an_abandoned_recovering_stream_is_released_without_the_cyclic_gc(
    pair: Any, midstream: str
) -> None:
    # No reference cycle through the caller's stream: dropping it (after a `break`, unclosed)
    # frees it at once, and asyncio's finalizer closes the connection, with the GC disabled.
    a, b = pair
    words = " ".join(f"w{i}" for i in range(200))
    a.push(reset_mid_stream(after_events=5))
    b.push(text(words, event_delay=0.01))
    providers = [Provider("a", a.base_url), Provider("b", b.base_url)]
    async with AsyncClient(endpoint=Failover(providers, midstream=midstream)) as client:  # type: ignore[arg-type]
        gc.collect()
        gc.disable()
        try:
            stream = await client.responses.create(model="m", input="x", stream=True)
            deltas = 0
            async for event in stream:
                deltas += event.type == "response.output_text.delta"
                if deltas == 6:  # past the recovery: b is streaming
                    break
            alive = weakref.ref(stream.events)
            del stream, event
            assert alive() is None
            await b.wait_until(lambda s: s.open_connections == 0)
        finally:
            gc.enable()
