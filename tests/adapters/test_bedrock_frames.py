"""The fake upstream's event-stream encoder, checked against botocore's own parser."""

from __future__ import annotations

import json
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses.testing.bedrock import corrupt, encode_message, event_frame, exception_frame

NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
VALUES = st.one_of(
    st.text(max_size=200), st.binary(max_size=200), st.booleans(), st.integers(-(2**31), 2**31 - 1)
)


def parse(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


@settings(max_examples=150, deadline=None)
@given(headers=st.dictionaries(NAMES, VALUES, max_size=6), payload=st.binary(max_size=2000))
def test_botocore_parses_what_the_encoder_writes(headers: dict[str, object], payload: bytes) -> None:
    frame = encode_message(headers, payload)  # type: ignore[arg-type]
    assert parse(frame) == [(headers, payload)]
    # The prelude: total length, headers length, CRC32 of those 8 bytes.
    assert int.from_bytes(frame[:4], "big") == len(frame)
    assert int.from_bytes(frame[8:12], "big") == zlib.crc32(frame[:8])
    assert int.from_bytes(frame[-4:], "big") == zlib.crc32(frame[:-4])


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=50), min_size=1, max_size=8), size=st.integers(1, 64))
def test_messages_fed_in_any_chunking_come_out_whole(texts: list[str], size: int) -> None:
    data = b"".join(
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}}) for t in texts
    )
    buffer = EventStreamBuffer()
    seen = []
    for offset in range(0, len(data), size):
        buffer.add_data(data[offset : offset + size])
        seen += [json.loads(message.payload)["delta"]["text"] for message in buffer]
    assert seen == texts


def test_event_and_exception_headers_are_bedrocks() -> None:
    [(headers, payload)] = parse(event_frame("messageStop", {"stopReason": "end_turn"}))
    assert headers == {
        ":event-type": "messageStop",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    body = json.loads(payload)
    assert body["stopReason"] == "end_turn" and isinstance(body["p"], str)  # Bedrock's padding field
    [(headers, payload)] = parse(exception_frame("throttlingException", "slow down"))
    assert headers[":message-type"] == "exception" and headers[":exception-type"] == "throttlingException"
    assert json.loads(payload) == {"message": "slow down"}


def test_a_corrupted_frame_fails_botocores_crc_check() -> None:
    with pytest.raises(ChecksumMismatch):
        parse(corrupt(event_frame("messageStart", {"role": "assistant"})))
