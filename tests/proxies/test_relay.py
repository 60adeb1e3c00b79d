"""The relay, sans sockets: numbering, dropped non-spec events, and the failure tail of every item kind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from openresponses import APIConnectionError, EventStream, ProtocolError, StreamInterrupted
from openresponses._emit import EventBuilder
from openresponses.proxies._errors import Redactor
from openresponses.proxies._relay import relay
from openresponses.testing import assert_valid_stream
from openresponses.types import StreamEvent, parse_event

from .conftest import Validate, parse_sse


def _stream(batches: Sequence[Sequence[StreamEvent]], error: Exception | None = None) -> EventStream:
    async def source() -> AsyncIterator[Sequence[StreamEvent]]:
        for batch in batches:
            yield batch
        if error is not None:
            raise error

    return EventStream(source())


async def _relayed(stream: EventStream, secrets: Sequence[str] = ()) -> tuple[list[dict[str, Any]], bool]:
    chunks = [chunk async for chunk in relay(stream, redactor=Redactor(secrets))]
    return parse_sse(b"".join(chunks).decode())


def _started() -> EventBuilder:
    builder = EventBuilder(model="m")
    builder.created()
    builder.in_progress()
    return builder


async def test_open_reasoning_summary_and_function_call_are_closed(validate_spec: Validate) -> None:
    builder = _started()
    done_message = builder.start_message()
    builder.start_text(done_message)
    builder.text(done_message, "Let me check.")
    builder.end_item(done_message)
    reasoning = builder.start_reasoning()
    builder.summary(reasoning, "Thinking about")
    builder.end_item(reasoning)
    call = builder.start_function_call("get_weather", call_id="call_1")
    builder.arguments(call, '{"city": "Pa')
    thinking = builder.start_reasoning()
    builder.summary(thinking, "Half a thou")
    events = builder.drain()
    cause = ConnectionResetError("reset by peer")
    error = APIConnectionError("Connection lost while streaming")
    error.__cause__ = cause
    out, done = await _relayed(_stream([events[:5], events[5:]], error))
    assert done
    assert_valid_stream(out)
    tail = [e["type"] for e in out[len(events) :]]
    assert tail == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "error",
        "response.failed",
    ]
    assert out[len(events)]["arguments"] == '{"city": "Pa'
    assert out[len(events) + 2]["text"] == "Half a thou"
    failed = out[-1]["response"]
    validate_spec("ResponseResource", failed)
    assert [item["status"] for item in failed["output"]] == [
        "completed",
        "completed",
        "incomplete",
        "incomplete",
    ]
    assert failed["output"][0]["content"][0]["text"] == "Let me check."
    assert failed["output"][2]["arguments"] == '{"city": "Pa'
    assert out[-2]["error"]["code"] == "stream_interrupted"


async def test_sequence_numbers_are_repaired_and_non_spec_events_dropped() -> None:
    created = _started().drain()
    raw = [
        b'{"type":"response.output_item.added","sequence_number":1,"output_index":0,'
        b'"item":{"type":"message","id":"m1","role":"assistant","status":"in_progress","content":[]}}',
        b'{"type":"response.reasoning_text.delta","sequence_number":2,"delta":"vllm"}',  # not spec: dropped
        b'{"type":"acme:trace","span":"x"}',  # extension without a number: numbered
        b'{"type":"response.output_item.done","sequence_number":1,"output_index":0,'  # repeated number
        b'"item":{"type":"message","id":"m1","role":"assistant","status":"completed","content":[]}}',
    ]
    events = [*created, *(parse_event(data) for data in raw)]
    final = EventBuilder(model="m", start_sequence=9)
    final.accumulator.feed(events[0])
    out, done = await _relayed(_stream([events, [final.complete()]]))
    assert done
    assert_valid_stream(out)
    types = [e["type"] for e in out]
    assert "response.reasoning_text.delta" not in types and "acme:trace" in types
    numbers = [e["sequence_number"] for e in out]
    assert numbers == sorted(set(numbers))
    assert out[-1]["sequence_number"] == 9  # a good number is kept as it is


async def test_stream_without_terminal_is_failed() -> None:
    builder = _started()
    index = builder.start_message()
    builder.start_text(index)
    builder.text(index, "cut")
    out, done = await _relayed(_stream([builder.drain()]))
    assert done
    assert_valid_stream(out)
    assert out[-1]["type"] == "response.failed"
    assert out[-2]["error"]["code"] == "upstream_protocol_error"


@pytest.mark.parametrize(
    "error",
    [ProtocolError("bad bytes sk-live-SECRETSECRET99"), StreamInterrupted("gone")],
)
async def test_secrets_in_failures_are_scrubbed(error: Exception) -> None:
    builder = _started()
    index = builder.start_message()
    builder.start_text(index)
    builder.text(index, "the key is sk-live-SECRETSECRET99")
    chunks = [
        chunk
        async for chunk in relay(
            _stream([builder.drain()], error), redactor=Redactor(["sk-live-SECRETSECRET99"])
        )
    ]
    body = b"".join(chunks).decode()
    assert "SECRETSECRET" not in body and "[redacted]" in body
    out, _ = parse_sse(body)
    assert_valid_stream(out)
