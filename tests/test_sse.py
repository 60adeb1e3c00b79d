"""The SSE decoder follows the WHATWG event-stream rules whatever the chunking."""

from __future__ import annotations

import random

import pytest

from openresponses._sse import ServerSentEvent, SSEDecoder, encode_event

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
