"""SSE bytes split at arbitrary points decode exactly as unsplit, and as the WHATWG algorithm says.

The oracle is a direct, line-by-line transcription of the WHATWG event-stream parsing rules (no
fast paths, no chunking), so a split point, a line end or a size limit that the incremental
decoder handles wrongly shows up as a difference. The only error allowed is ``ProtocolError``.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses import ProtocolError
from openresponses._sse import ServerSentEvent, SSEDecoder

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")


def whatwg(stream: bytes) -> list[ServerSentEvent]:
    """The spec's algorithm on a whole stream (an event not ended by a blank line is dropped)."""
    if stream.startswith(_BOM):
        stream = stream[3:]
    lines = _LINE_END.split(stream)[:-1]  # the last piece has no line end: incomplete
    events: list[ServerSentEvent] = []
    data: list[bytes] = []
    name: str | None = None
    retry: int | None = None
    last_id: str | None = None
    for line in lines:
        if not line:
            if data:
                events.append(ServerSentEvent(b"\n".join(data), name, last_id, retry))
            data, name, retry = [], None, None
            continue
        if line.startswith(b":"):
            continue
        field, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
        elif field == b"id" and b"\0" not in value:
            last_id = value.decode("utf-8", "replace")
        elif field == b"retry" and value.isdigit():
            retry = int(value)
    return events


_FIELD = st.sampled_from([b"data", b"event", b"id", b"retry", b"", b"dat", b"\xef\xbb\xbfdata", b"x"])
_VALUE = st.one_of(
    st.sampled_from(
        [b"", b" ", b"{}", b"[DONE]", b"12", b"a\x00b", "\u2028\u2029\x85".encode(), b"\xff\xfe"]
    ),
    st.binary(max_size=12),
)
_END = st.sampled_from([b"\n", b"\r", b"\r\n", b"\n\n", b"\r\r", b"\r\n\r\n"])
_LINE = st.one_of(
    st.tuples(_FIELD, st.sampled_from([b":", b": ", b""]), _VALUE, _END).map(b"".join),
    st.tuples(st.just(b":"), _VALUE, _END).map(b"".join),  # a comment
    _END,
)
STREAMS = st.one_of(
    st.tuples(st.sampled_from([b"", _BOM, _BOM[:2]]), st.lists(_LINE, max_size=25)).map(
        lambda t: t[0] + b"".join(t[1])
    ),
    st.binary(max_size=200),
)


def cut(stream: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({p % (len(stream) + 1) for p in points})
    edges = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(edges)]


def decode(chunks: list[bytes], limit: int | None) -> tuple[list[ServerSentEvent], str | None]:
    """Events decoded before any error, and the error's message (None if none)."""
    decoder = SSEDecoder(max_event_size=limit)
    events: list[ServerSentEvent] = []
    try:
        for chunk in chunks:
            events.extend(decoder.feed(chunk))
        decoder.flush()
    except ProtocolError as exc:
        return events, type(exc).__name__
    return events, None


@settings(max_examples=120, deadline=None)
@given(STREAMS, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_any_split_decodes_as_the_whatwg_algorithm(stream: bytes, points: list[int]) -> None:
    expected = whatwg(stream)
    assert decode([stream], None) == (expected, None)
    assert decode(cut(stream, points), None) == (expected, None)
    assert decode([stream[i : i + 1] for i in range(len(stream))], None) == (expected, None)


@settings(max_examples=120, deadline=None)
@given(
    STREAMS,
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    st.integers(min_value=1, max_value=40),
)
def test_a_size_limit_fails_the_same_way_whatever_the_split(
    stream: bytes, points: list[int], limit: int
) -> None:
    whole = decode([stream], limit)
    assert decode(cut(stream, points), limit) == whole
    assert decode([stream[i : i + 1] for i in range(len(stream))], limit) == whole
    events, error = whole
    # What passed is what the spec decodes, up to the failure.
    assert events == whatwg(stream)[: len(events)]
    if error is None:
        assert events == whatwg(stream)
