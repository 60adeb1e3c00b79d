"""Protocol limits on a wire stream: sequence numbers (R43) and the maximum event size.

Unit tests on the Open Responses stream decoder, then the same faults end to end: a real HTTP
server on loopback sends the bytes and the client sees a ``ProtocolError`` carrying the partial
response (issue #12, defects 7 and 11).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from openresponses import AsyncClient, EventStream, ProtocolError, Provider, StreamEnd
from openresponses._emit import EventBuilder
from openresponses._pipeline import Request
from openresponses._sse import DEFAULT_MAX_EVENT_SIZE, encode_event
from openresponses.middleware import Failover
from openresponses.testing import ScriptedServer, reset_mid_stream, text
from openresponses.testing.chat import ChatCompletionsServer, chat_text
from openresponses.transports._dialect import OpenResponsesDialect, OpenResponsesStreamDecoder
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.transports.http import HTTPTransport
from openresponses.types import CreateResponseBody, StreamEvent

REQUEST = Request(body=CreateResponseBody(model="m", input="hi"), stream=True)


def stream_events(text: str = "Hello world") -> list[StreamEvent]:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    m = b.start_message()
    for word in text.split(" "):
        b.text(m, word + " ")
    b.end_item(m)
    b.complete()
    return b.drain()


def wire(events: list[StreamEvent]) -> bytes:
    return b"".join(encode_event(event) for event in events)


def renumbered(event: StreamEvent, seq: int) -> StreamEvent:
    return event.model_copy(update={"sequence_number": seq})


def with_duplicate(events: list[StreamEvent], at: int, seq_of: int) -> list[StreamEvent]:
    """``events`` with a copy of event ``at`` inserted after it, numbered like event ``seq_of``."""
    return [*events[: at + 1], renumbered(events[at], events[seq_of].sequence_number), *events[at + 1 :]]  # type: ignore[arg-type]


# -- the decoder ------------------------------------------------------------------------------------


def test_strictly_increasing_numbers_with_gaps_pass() -> None:
    events = [renumbered(e, 10 + 3 * i) for i, e in enumerate(stream_events())]
    assert OpenResponsesStreamDecoder().feed(wire(events)) == events


@pytest.mark.parametrize(("seq_of", "kind"), [(4, "a duplicate"), (2, "out of order")])
def test_a_duplicate_or_decreasing_number_is_a_protocol_error_naming_both(seq_of: int, kind: str) -> None:
    events = with_duplicate(stream_events(), 4, seq_of)
    decoder = OpenResponsesStreamDecoder()
    with pytest.raises(ProtocolError) as info:
        decoder.feed(wire(events))
    message = str(info.value)
    assert f"sequence_number {events[seq_of].sequence_number}, not above the previous 4" in message
    assert kind in message and "sequence='lenient'" in message
    assert info.value.events == events[:5]  # the good events before it are delivered first


def test_the_check_spans_chunks() -> None:
    events = with_duplicate(stream_events(), 3, 1)
    decoder = OpenResponsesStreamDecoder()
    got: list[StreamEvent] = []
    with pytest.raises(ProtocolError, match=r"sequence_number 1, not above the previous 3"):
        for event in events:
            got += decoder.feed(encode_event(event))
    assert got == events[:4]


def test_the_good_events_before_an_invalid_one_are_checked_too() -> None:
    events = with_duplicate(stream_events(), 3, 3)
    data = wire(events[:5]) + b"data: {not json\n\n"
    with pytest.raises(ProtocolError, match="not above the previous 3") as info:
        OpenResponsesStreamDecoder().feed(data)
    assert info.value.events == events[:4]


def test_lenient_mode_drops_duplicates_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    clean = stream_events()
    events = with_duplicate(with_duplicate(clean, 4, 4), 2, 1)  # a duplicate and a stale replay
    decoder = OpenResponsesDialect(sequence="lenient").decoder(REQUEST, provider="flaky")
    assert isinstance(decoder, OpenResponsesStreamDecoder)
    with caplog.at_level(logging.WARNING, logger="openresponses"):
        got = [e for event in events for e in decoder.feed(encode_event(event))]
    assert got == clean and decoder.dropped == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "sequence_number 1, not above the previous 2" in warnings[0].getMessage()
    assert "'flaky'" in warnings[0].getMessage()


def test_events_without_a_number_pass() -> None:
    ext = b'data: {"type": "acme:ping"}\n\n'
    events = stream_events()
    assert (
        len(OpenResponsesStreamDecoder().feed(wire(events[:3]) + ext + wire(events[3:]))) == len(events) + 1
    )


def test_the_dialect_options_are_checked_and_shown() -> None:
    assert repr(OpenResponsesDialect()) == "OpenResponsesDialect()"
    dialect = OpenResponsesDialect(max_event_size=1024, sequence="lenient")
    assert repr(dialect) == "OpenResponsesDialect(max_event_size=1024, sequence='lenient')"
    with pytest.raises(ValueError, match="OpenResponsesDialect: sequence must be 'strict' or 'lenient'"):
        OpenResponsesDialect(sequence="loose")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="OpenResponsesDialect: max_event_size must be at least 1"):
        OpenResponsesDialect(max_event_size=0)
    with pytest.raises(ValueError, match="ChatCompletionsDialect: max_event_size"):
        ChatCompletionsDialect(max_event_size=-5)
    assert OpenResponsesDialect().max_event_size == DEFAULT_MAX_EVENT_SIZE


def test_the_event_size_knob_reaches_both_dialects_decoders() -> None:
    big = b"data: " + b"x" * 2000 + b"\n\n"
    for dialect in (OpenResponsesDialect(max_event_size=1000), ChatCompletionsDialect(max_event_size=1000)):
        decoder = dialect.decoder(REQUEST, provider="p")
        with pytest.raises(ProtocolError, match="maximum event size of 1000 bytes"):
            decoder.feed(big)


def test_an_oversized_last_event_fails_at_close() -> None:
    events = stream_events()
    decoder = OpenResponsesStreamDecoder(max_event_size=2000)
    got = decoder.feed(wire(events[:2]) + b"data: " + b"y" * 5000)
    assert got == events[:2]
    with pytest.raises(ProtocolError, match="maximum event size of 2000 bytes"):
        decoder.close()


# -- end to end over loopback HTTP ------------------------------------------------------------------


class RawServer:
    """Answers every request with a 200 ``text/event-stream`` whose body is ``body``."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % len(self.body) + self.body
        )
        await writer.drain()
        writer.close()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    server = RawServer(b"")
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.server.close()
        await server.server.wait_closed()


async def test_a_duplicate_number_fails_the_stream_with_the_partial_response(raw_server: RawServer) -> None:
    events = stream_events("one two three four")
    raw_server.body = wire(with_duplicate(events, 5, 5))
    received: list[StreamEvent] = []
    async with AsyncClient(base_url=raw_server.base_url, api_key="sk-test") as client:
        with pytest.raises(ProtocolError, match=r"sequence_number 5, not above the previous 5") as info:
            async with client.responses.stream(model="m", input="hi") as stream:
                async for event in stream:
                    received.append(event)
    assert received == events[:6]  # nothing before the duplicate is lost
    partial = info.value.response
    assert partial is not None and partial.status == "in_progress"
    assert partial.output_text == "one two "


async def test_lenient_mode_completes_the_stream(raw_server: RawServer) -> None:
    events = stream_events("one two three")
    raw_server.body = wire(with_duplicate(events, 5, 5))
    transport = HTTPTransport(
        raw_server.base_url, api_key="sk-test", dialect=OpenResponsesDialect(sequence="lenient")
    )
    async with AsyncClient(transport=transport) as client:
        final = await client.responses.create(model="m", input="hi", stream=True)
        got = [event async for event in final]
    assert [e.sequence_number for e in got] == [e.sequence_number for e in events]
    assert got[-1].response.output_text == "one two three "  # type: ignore[union-attr]


async def test_an_oversized_event_fails_the_stream_with_the_partial_response(raw_server: RawServer) -> None:
    events = stream_events("one two")
    huge = json.loads(events[5].model_dump_json())
    huge["delta"] = "z" * 5000
    raw_server.body = wire(events[:5]) + b"data: " + json.dumps(huge).encode() + b"\n\n" + wire(events[6:])
    transport = HTTPTransport(
        raw_server.base_url, api_key="sk-test", dialect=OpenResponsesDialect(max_event_size=4096)
    )
    async with AsyncClient(transport=transport) as client:
        with pytest.raises(ProtocolError, match=r"maximum event size of 4096 bytes") as info:
            async with client.responses.stream(model="m", input="hi") as stream:
                await stream.get_final_response()
    partial = info.value.response
    assert partial is not None and partial.status == "in_progress" and partial.output_text == "one "


async def test_a_hostile_index_fails_the_stream_with_the_partial_response(raw_server: RawServer) -> None:
    events = stream_events("one two three")
    hostile = json.loads(events[5].model_dump_json())
    hostile["content_index"] = 20_000_000  # 150 bytes that used to make the snapshot allocate ~165 MB
    raw_server.body = wire(events[:5]) + b"data: " + json.dumps(hostile).encode() + b"\n\n" + wire(events[6:])
    async with AsyncClient(base_url=raw_server.base_url, api_key="sk-test") as client:
        with pytest.raises(
            ProtocolError, match=r"content_index 20000000, but output item 0 has 1 parts"
        ) as info:
            async with client.responses.stream(model="m", input="hi") as stream:
                await stream.get_final_response()
    partial = info.value.response
    assert partial is not None and partial.status == "in_progress" and partial.output_text == "one "


async def test_a_hostile_index_delivers_every_good_event_before_it_then_raises(raw_server: RawServer) -> None:
    # The bad event arrives in the same network chunk as good ones: those are delivered first,
    # and the taps see the error (not an abandoned stream).
    events = stream_events("one two three")
    hostile = json.loads(events[5].model_dump_json())
    hostile["content_index"] = -1
    raw_server.body = wire(events[:5]) + b"data: " + json.dumps(hostile).encode() + b"\n\n" + wire(events[6:])
    received: list[str] = []
    ends: list[StreamEnd] = []
    async with AsyncClient(base_url=raw_server.base_url, api_key="sk-test") as client:
        reply = await client.send(client.build_request({"model": "m", "input": "hi"}, stream=True))
        assert isinstance(reply, EventStream)
        reply.tap(on_end=ends.append)
        with pytest.raises(ProtocolError) as info:
            async with reply:
                async for event in reply:
                    received.append(event.type)
    assert received == [event.type for event in events[:5]]
    assert len(ends) == 1 and ends[0].error is info.value and not ends[0].abandoned


# -- what our own producers send passes the strict check --------------------------------------------


def strict_roundtrip(events: list[StreamEvent]) -> None:
    """``events`` as a proxy would serve them, read back by a strict client decoder."""
    data = wire(events)
    decoder = OpenResponsesStreamDecoder()
    got = [e for i in range(0, len(data), 97) for e in decoder.feed(data[i : i + 97])] + decoder.close()
    assert [e.sequence_number for e in got] == [e.sequence_number for e in events]


@pytest.mark.parametrize("midstream", ["restart", "continue"])
async def test_failover_relayed_streams_are_strictly_numbered(midstream: str) -> None:
    async with ScriptedServer() as a, ScriptedServer() as b:
        a.push(reset_mid_stream(after_events=6, text="Hello world, this is partial"))
        b.push(text("Hello world, this is the whole answer", chunks=5))
        providers = [Provider("a", a.base_url), Provider("b", b.base_url)]
        client = AsyncClient(middleware=[Failover(providers, midstream=midstream)])  # type: ignore[arg-type]
        async with client, client.responses.stream(model="m", input="hi") as stream:
            events = [event async for event in stream]
    assert any(e.type.startswith("openresponses:stream.") for e in events)
    strict_roundtrip(events)


async def test_the_chat_completions_translation_is_strictly_numbered() -> None:
    async with ChatCompletionsServer([chat_text("Hello from a chat server", reasoning="why")]) as upstream:
        provider = Provider("chat", base_url=upstream.base_url, adapter="chat-completions", model="m")
        client = AsyncClient(middleware=[Failover([provider])])
        async with client, client.responses.stream(model="m", input="hi") as stream:
            events = [event async for event in stream]
    assert events[-1].type == "response.completed"
    strict_roundtrip(events)
