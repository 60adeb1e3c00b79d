"""The dialect seam and the one bytes-to-events loop, with the native Open Responses dialect."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from openresponses import APIConnectionError, ProtocolError
from openresponses._sse import SSEDecoder
from openresponses.transports._dialect import (
    Dialect,
    OpenResponsesDialect,
    OpenResponsesStreamDecoder,
    StreamDecoder,
    event_batches,
)

DELTA = {
    "type": "response.output_text.delta",
    "sequence_number": 3,
    "item_id": "msg_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "line\u2028separator\u2029paragraph",
    "logprobs": [],
}


def sse(data: dict[str, object]) -> bytes:
    return (
        b"event: "
        + str(data["type"]).encode()
        + b"\ndata: "
        + json.dumps(data, ensure_ascii=False).encode()
        + b"\n\n"
    )


def test_the_sse_decoder_never_splits_on_unicode_line_separators() -> None:
    # httpx.iter_lines splits on U+2028 / U+2029 (str.splitlines); SSE ends lines at CR / LF only.
    payload = sse(DELTA)
    assert "\u2028".encode() in payload
    (event,) = SSEDecoder().feed(payload)
    assert json.loads(event.data)["delta"] == DELTA["delta"]
    (typed,) = OpenResponsesStreamDecoder().feed(payload)
    assert typed.delta == DELTA["delta"]  # type: ignore[union-attr]


def test_the_native_dialect_is_a_dialect() -> None:
    dialect = OpenResponsesDialect()
    assert isinstance(dialect, Dialect) and isinstance(dialect.decoder(None, provider="p"), StreamDecoder)  # type: ignore[arg-type]
    assert dialect.auth_headers("sk-x") == {"authorization": "Bearer sk-x"}


async def chunks(*parts: bytes, fail: Exception | None = None) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if fail is not None:
        raise fail


async def test_the_loop_delivers_the_good_prefix_then_raises() -> None:
    good = sse(DELTA)
    batches = event_batches(chunks(good + b"data: {not json\n\n"), OpenResponsesStreamDecoder())
    first = await batches.__anext__()
    assert [e.type for e in first] == ["response.output_text.delta"]
    with pytest.raises(ProtocolError):
        await batches.__anext__()


async def test_the_loop_maps_transport_errors_and_closes_once() -> None:
    closed: list[int] = []

    async def on_close() -> None:
        closed.append(1)

    class Boom(Exception):
        pass

    mapped = APIConnectionError("lost")
    batches = event_batches(
        chunks(sse(DELTA), fail=Boom()),
        OpenResponsesStreamDecoder(),
        map_error=lambda exc: mapped if isinstance(exc, Boom) else None,
        on_close=on_close,
    )
    assert len(await batches.__anext__()) == 1
    with pytest.raises(APIConnectionError) as info:
        await batches.__anext__()
    assert info.value is mapped and isinstance(info.value.__cause__, Boom)
    assert closed == [1]


async def test_a_body_ending_inside_an_event_is_a_protocol_error() -> None:
    batches = event_batches(chunks(b"event: x\ndata: {"), OpenResponsesStreamDecoder())
    with pytest.raises(ProtocolError, match="ended inside an event"):
        await batches.__anext__()
