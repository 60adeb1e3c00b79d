"""The SSE decoder follows the WHATWG event-stream rules whatever the chunking."""

from __future__ import annotations

import random
import re

import pytest

from openresponses import ProtocolError
from openresponses._sse import DEFAULT_MAX_EVENT_SIZE, ServerSentEvent, SSEDecoder, encode_event

STREAM = (
    b": keep-alive\n"
    b"event: response.created\n"
    b'data: {"a":1}\n'
    b"\n"
    b"data: line one\n"
    b"data: line two\n"
    b"\n"
    b"event: x\r\n"
    b"data:no-space\r\n"
    b"\r\n"
    b"id: 7\r"
    b"data: cr only\r"
    b"\r"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent(data=b'{"a":1}', event="response.created"),
    ServerSentEvent(data=b"line one\nline two"),
    ServerSentEvent(data=b"no-space", event="x"),
    ServerSentEvent(data=b"cr only", id="7"),
    ServerSentEvent(data=b"[DONE]", id="7"),
]


def feed_all(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def test_whole_stream() -> None:
    assert feed_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_split_at_every_byte(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert feed_all(chunks) == EXPECTED


def test_random_splits() -> None:
    rng = random.Random(42)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 30)))
        chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        assert feed_all(chunks) == EXPECTED


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # A CR ending one chunk and an LF starting the next must not make a blank line.
    events = feed_all([b"data: a\r", b"\ndata: b\r\n\r\n"])
    assert events == [ServerSentEvent(data=b"a\nb")]


def test_bom_comment_and_empty_data() -> None:
    events = feed_all([b"\xef\xbb\xbfdata\n\n:comment only\n\nevent: e\n\n"])
    # "data" alone dispatches an empty payload; a block without data dispatches nothing.
    assert events == [ServerSentEvent(data=b"")]


def test_unterminated_event_is_pending_not_dispatched() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"partial"') == []
    assert decoder.pending == b'data: {"partial"'


def test_encode_roundtrip() -> None:
    wire = encode_event(b'{"x":1}', "response.created") + encode_event(b"a\nb")
    assert feed_all([wire]) == [
        ServerSentEvent(data=b'{"x":1}', event="response.created"),
        ServerSentEvent(data=b"a\nb"),
    ]


# -- line ends, BOM and Unicode -----------------------------------------------------------------


def test_unicode_line_separators_are_data_not_line_ends() -> None:
    # str.splitlines (and httpx.iter_lines) would split here; SSE ends lines at CR / LF only.
    payload = "a\u2028b\u2029c\x85d\x0be\x0cf".encode()
    for size in (1, 2, 3, len(payload) + 8):
        wire = b"data: " + payload + b"\n\n"
        assert feed_all([wire[i : i + size] for i in range(0, len(wire), size)]) == [
            ServerSentEvent(data=payload)
        ]


def test_a_bom_split_across_chunks_is_dropped_once() -> None:
    wire = b"\xef\xbb\xbfdata: x\n\n"
    assert feed_all([wire[:1], wire[1:2], wire[2:]]) == [ServerSentEvent(data=b"x")]
    # Only the first: a second BOM is part of the field name, which makes an unknown field.
    assert feed_all([b"\xef\xbb", b"\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n"]) == [ServerSentEvent(data=b"y")]


def test_cr_cr_split_across_chunks_is_a_blank_line() -> None:
    assert feed_all([b"data: a\r", b"\r", b"data: b\r", b"\n\r", b"\n"]) == [
        ServerSentEvent(data=b"a"),
        ServerSentEvent(data=b"b"),
    ]


def test_the_blank_line_may_straddle_chunks() -> None:
    assert feed_all([b"data: a\n", b"\ndata: b\n", b"\n", b"\n", b"data: c\n\n"]) == [
        ServerSentEvent(data=b"a"),
        ServerSentEvent(data=b"b"),
        ServerSentEvent(data=b"c"),
    ]


# -- large events and the size limit ------------------------------------------------------------

BIG = b'{"delta":"' + b"x" * (10 * 1000 * 1000) + b'"}'


@pytest.mark.parametrize("size", [4096, 65536])
def test_a_10_mb_event_in_small_chunks_decodes(size: int) -> None:
    # Linear work (each chunk scanned once, joined once at the end): this took >20 s at 4 KiB
    # when every chunk re-joined and re-split the whole buffer.
    wire = b"event: big\ndata: " + BIG + b"\n\ndata: after\n\n"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for i in range(0, len(wire), size):
        events.extend(decoder.feed(wire[i : i + size]))
    assert [e.event for e in events] == ["big", None]
    assert events[0].data == BIG and events[1].data == b"after"
    assert decoder.pending == b""


def test_the_default_limit_is_16_mib() -> None:
    assert SSEDecoder().max_event_size == DEFAULT_MAX_EVENT_SIZE == 16 * 1024 * 1024
    assert SSEDecoder(max_event_size=None).max_event_size is None


def test_an_event_at_the_limit_passes_and_one_byte_more_fails_in_any_chunking() -> None:
    limit = 64
    at_limit = b"data: " + b"a" * (limit - 6)  # the event's bytes, field name included
    over = at_limit + b"b"
    for size in (1, 2, 7, 64, 1000):
        ok = SSEDecoder(max_event_size=limit)
        wire = at_limit + b"\n\n"
        got = [e for i in range(0, len(wire), size) for e in ok.feed(wire[i : i + size])]
        assert got == [ServerSentEvent(data=at_limit[6:])]
        bad = SSEDecoder(max_event_size=limit)
        wire = b"data: first\n\n" + over + b"\n\n"
        got = []
        with pytest.raises(ProtocolError, match=r"maximum event size of 64 bytes") as info:
            for i in range(0, len(wire), size):
                got.extend(bad.feed(wire[i : i + size]))
            bad.flush()
        assert got == [ServerSentEvent(data=b"first")]  # the good event came first
        # 65 bytes, or 66 when the chunking showed the LF ending its line before the blank line.
        assert re.search(r"\b6[56] bytes", str(info.value)) and "max_event_size" in str(info.value)
        assert info.value.data.startswith(b"data: aaa")


def test_an_endless_event_fails_once_past_the_limit_not_at_the_end() -> None:
    decoder = SSEDecoder(max_event_size=1000)
    decoder.feed(b"data: ")
    fed = 6
    with pytest.raises(ProtocolError, match=r"bytes of an SSE event without its end") as info:
        while fed < 1_000_000:
            decoder.feed(b"y" * 100)
            fed += 100
    assert fed <= 1100  # buffered at most the limit plus a chunk
    assert "1006 bytes" in str(info.value)
    # A decoder that failed keeps failing: the stream cannot be resynchronised.
    with pytest.raises(ProtocolError):
        decoder.feed(b"\n\ndata: ok\n\n")
    with pytest.raises(ProtocolError):
        decoder.flush()


def test_good_events_before_an_oversized_one_in_the_same_chunk_come_first() -> None:
    decoder = SSEDecoder(max_event_size=32)
    chunk = b"data: one\n\ndata: two\n\n" + b"data: " + b"z" * 100 + b"\n\ndata: three\n\n"
    assert decoder.feed(chunk) == [ServerSentEvent(data=b"one"), ServerSentEvent(data=b"two")]
    assert decoder.pending.startswith(b"data: zzz")  # the stream ended inside an event
    with pytest.raises(ProtocolError, match=r"an SSE event of 106 bytes"):
        decoder.feed(b"")
    with pytest.raises(ProtocolError, match=r"an SSE event of 106 bytes"):
        decoder.flush()


def test_comments_count_towards_the_limit() -> None:
    decoder = SSEDecoder(max_event_size=100)
    with pytest.raises(ProtocolError):
        for _ in range(100):
            decoder.feed(b": keep-alive without a blank line\n")


@pytest.mark.parametrize("bad", [0, -1])
def test_the_limit_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="SSEDecoder: max_event_size must be at least 1 byte"):
        SSEDecoder(max_event_size=bad)


@pytest.mark.parametrize("bad", [True, 1.5, "16MiB"])
def test_the_limit_must_be_an_int(bad: object) -> None:
    with pytest.raises(TypeError, match="SSEDecoder: max_event_size must be an int"):
        SSEDecoder(max_event_size=bad)  # type: ignore[arg-type]
