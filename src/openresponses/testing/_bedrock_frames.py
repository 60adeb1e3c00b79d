"""The AWS event-stream encoder of the fake Bedrock upstream: Converse events as binary frames.

The framing (``application/vnd.amazon.eventstream``), from botocore's parser
(``botocore/eventstream.py``)::

    prelude   total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes (uint32)
    headers   repeated: name length (uint8) | name (UTF-8) | type (uint8) | value
              (type 7, string: length (uint16) | UTF-8 bytes)
    payload   the event's JSON
    trailer   CRC32 of everything before it (prelude included) (uint32)

All integers are big-endian. ConverseStream events carry ``:event-type`` (``contentBlockDelta``,
...), ``:content-type: application/json`` and ``:message-type: event``; an exception carries
``:exception-type`` (``throttlingException``, ...) and ``:message-type: exception``. Bedrock pads
each event's JSON with a ``p`` field (random letters, against token-length side channels): the
frames here do too, so a client that chokes on unknown keys fails in tests, not in production.
Pure functions, no I/O; tests check them against botocore's own parser.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["encode_message", "error_frame", "event_frame", "exception_frame", "corrupt"]

_PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _header(name: str, value: str | bool | int | bytes) -> bytes:
    raw_name = name.encode()
    if len(raw_name) > 255:
        raise ValueError(f"header name too long: {name!r}")
    head = struct.pack("!B", len(raw_name)) + raw_name
    if value is True:
        return head + b"\x00"
    if value is False:
        return head + b"\x01"
    if isinstance(value, int):
        return head + b"\x04" + struct.pack("!i", value)
    if isinstance(value, bytes):
        return head + b"\x06" + struct.pack("!H", len(value)) + value
    data = value.encode()
    return head + b"\x07" + struct.pack("!H", len(data)) + data


def encode_message(headers: Mapping[str, str | bool | int | bytes], payload: bytes) -> bytes:
    """One event-stream message with both CRCs."""
    raw_headers = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + raw_headers + payload
    return body + struct.pack("!I", zlib.crc32(body) & 0xFFFFFFFF)


def _json(data: Mapping[str, Any], pad: bool) -> bytes:
    payload = dict(data)
    if pad:
        payload["p"] = _PAD[: 1 + len(json.dumps(data)) % len(_PAD)]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def event_frame(event_type: str, data: Mapping[str, Any], *, pad: bool = True) -> bytes:
    """A ConverseStream event (``messageStart``, ``contentBlockDelta``, ``metadata``, ...)."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, _json(data, pad))


def exception_frame(exception_type: str, message: str) -> bytes:
    """An in-stream exception (``throttlingException``, ``modelStreamErrorException``, ...)."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode())


def error_frame(code: str, message: str) -> bytes:
    """A protocol-level error message (``:message-type error``, ``:error-code``, ``:error-message``)."""
    headers = {":error-code": code, ":error-message": message, ":message-type": "error"}
    return encode_message(headers, b"")


def corrupt(frame: bytes) -> bytes:
    """The frame with one payload byte flipped: its message CRC no longer matches."""
    position = len(frame) - 5
    return frame[:position] + bytes([frame[position] ^ 0xFF]) + frame[position + 1 :]
