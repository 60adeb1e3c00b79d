"""The sans-I/O parts of WebSocket mode: the turn message, the turn decoder, server frames."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openresponses import (
    BadRequestError,
    InternalServerError,
    ProtocolError,
    RateLimitError,
    RequestValidationError,
)
from openresponses.testing import text_events
from openresponses.testing._ws_frames import OP_TEXT, FrameError, FrameReader, accept_key, encode_frame
from openresponses.transports._ws_codec import TurnDecoder, WebSocketLimitReached, encode_create
from openresponses.types import CreateResponseBody, is_unknown_event


def test_the_create_message_never_carries_stream_fields() -> None:
    message = json.loads(encode_create(CreateResponseBody(model="m", input="hi", stream=True)))
    assert message == {"type": "response.create", "model": "m", "input": "hi"}
    assert json.loads(encode_create(CreateResponseBody())) == {"type": "response.create"}
    for field in ({"background": True}, {"stream_options": {"include_obfuscation": True}}):
        with pytest.raises(RequestValidationError, match=next(iter(field))):
            encode_create(CreateResponseBody.model_validate({"model": "m", **field}))


def test_decoder_types_events_and_keeps_unknown_ones() -> None:
    decoder = TurnDecoder(provider="p")
    events = [event.model_dump_json() for event in text_events("Hi there")]
    decoded = [e for message in events for e in decoder.feed(message)]
    assert [e.type for e in decoded] == [json.loads(m)["type"] for m in events]
    assert decoder.ended
    unknown = TurnDecoder(provider="p").feed('{"type": "response.compaction.compacting", "stream_id": "l1"}')
    assert is_unknown_event(unknown[0], "response.compaction.compacting")
    assert unknown[0].model_extra == {"stream_id": "l1"}


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "previous_response_not_found", BadRequestError),
        (429, "rate_limited", RateLimitError),
        (503, "overloaded", InternalServerError),
        (400, "websocket_connection_limit_reached", WebSocketLimitReached),
    ],
)
def test_envelopes_map_to_the_error_tree(status: int, code: str, cls: type[Exception]) -> None:
    message = json.dumps({"type": "error", "status": status, "error": {"code": code, "message": "nope"}})
    with pytest.raises(cls) as caught:
        TurnDecoder(provider="p").feed(message)
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert f"WebSocket error {status} from 'p': nope (code {code})" == str(caught.value)


@pytest.mark.parametrize(
    "message",
    ["{not json", "[1, 2]", '{"no": "type"}', '{"type": "response.output_text.delta"}'],
)
def test_what_is_not_an_event_is_a_protocol_error(message: str) -> None:
    with pytest.raises(ProtocolError):
        TurnDecoder(provider="p").feed(message)


def test_a_repeated_sequence_number_is_a_protocol_error() -> None:
    decoder = TurnDecoder(provider="p")
    first = text_events("Hi")[0].model_dump_json()
    decoder.feed(first)
    with pytest.raises(ProtocolError, match="sequence_number"):
        decoder.feed(first)


def test_server_frames_handle_masking_fragments_and_sizes() -> None:
    def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
        mask = b"\x01\x02\x03\x04"
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head = bytes([(0x80 if fin else 0) | opcode])
        if len(payload) < 126:
            head += bytes([0x80 | len(payload)])
        else:
            head += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        return head + mask + body

    reader = FrameReader(max_size=1000)
    data = masked(OP_TEXT, b"hel", fin=False) + masked(0, b"lo" * 100)
    messages = [m for i in range(0, len(data), 7) for m in reader.feed(data[i : i + 7])]
    assert [m.text for m in messages] == ["hel" + "lo" * 100]
    with pytest.raises(FrameError):
        FrameReader().feed(encode_frame(OP_TEXT, b"unmasked"))
    with pytest.raises(FrameError) as caught:
        FrameReader(max_size=10).feed(masked(OP_TEXT, b"x" * 200))
    assert caught.value.code == 1009
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3


def test_without_the_extra_the_transport_says_which_to_install() -> None:
    core_only = Path(__file__).parents[1] / "cli" / "core_only"
    snippet = (
        "import openresponses, openresponses.testing.websocket\n"
        "from openresponses import AsyncClient\n"
        "client = AsyncClient(base_url='http://127.0.0.1:9/v1')\n"
        "try:\n"
        "    client.responses.connect(model='m')\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(core_only), "OPENRESPONSES_TEST_HIDE": "websockets"}
    done = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "MissingExtraError WebSocket mode needs the 'websocket' extra: "
        "pip install 'openresponses-python[websocket]' (no module named 'websockets')"
    )
