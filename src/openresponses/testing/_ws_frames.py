"""RFC 6455 for the scripted server, sans I/O and stdlib only: the handshake and server-side frames.

Why not the ``websockets`` library here: the scripted servers are stdlib-only (the core package
needs no server), and the client transport is the one place that library is imported. The
server side of the protocol is small: accept a handshake, read masked client frames (with
continuations, pings and close), write unmasked server frames. No extensions are negotiated,
so a client offering permessage-deflate talks uncompressed, as the RFC allows.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameError",
    "FrameReader",
    "Message",
    "accept_key",
    "close_frame",
    "encode_frame",
    "handshake_reply",
    "is_upgrade",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class FrameError(Exception):
    """The client broke the framing rules; ``code`` is the close code to answer with."""

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Message:
    """A complete message (data frames joined) or a control frame."""

    opcode: int
    data: bytes

    @property
    def text(self) -> str:
        """The payload as text (invalid UTF-8 replaced: the scripted server records what came)."""
        return self.data.decode("utf-8", "replace")


def is_upgrade(method: str, headers: Mapping[str, str]) -> bool:
    """Whether an HTTP request (lower-cased headers) asks for a WebSocket."""
    connection = {part.strip().lower() for part in headers.get("connection", "").split(",")}
    return method == "GET" and headers.get("upgrade", "").lower() == "websocket" and "upgrade" in connection


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def handshake_reply(headers: Mapping[str, str]) -> bytes:
    """The ``101 Switching Protocols`` reply, or ``FrameError`` for an invalid handshake."""
    key = headers.get("sec-websocket-key", "")
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        valid = False
    if not valid or headers.get("sec-websocket-version") != "13":
        raise FrameError("invalid WebSocket handshake (key or version)")
    return (
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        f"sec-websocket-accept: {accept_key(key)}\r\n\r\n"
    ).encode("latin-1")


def encode_frame(opcode: int, data: bytes) -> bytes:
    """One unmasked, final server frame."""
    length = len(data)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return head + data


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    """A close frame with ``code`` and ``reason``."""
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])


class FrameReader:
    """Bytes from the client in (any chunking), messages out: ``feed(data) -> list[Message]``.

    Data frames are joined across continuations; control frames come out as they arrive.
    ``max_size`` bounds one message (``FrameError`` with close code 1009 past it).
    """

    __slots__ = ("_buffer", "_max", "_opcode", "_parts", "_size")

    def __init__(self, *, max_size: int = 16 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._parts: list[bytes] = []
        self._opcode: int | None = None
        self._size = 0
        self._max = max_size

    def feed(self, data: bytes) -> list[Message]:
        """The messages completed by ``data``."""
        self._buffer += data
        out: list[Message] = []
        while True:
            frame = self._frame()
            if frame is None:
                return out
            fin, opcode, payload = frame
            if opcode >= OP_CLOSE:
                if not fin or len(payload) > 125:
                    raise FrameError("fragmented or oversized control frame")
                out.append(Message(opcode, payload))
                continue
            if opcode == OP_CONT:
                if self._opcode is None:
                    raise FrameError("continuation frame without a message")
            elif self._opcode is not None:
                raise FrameError("new data frame inside a fragmented message")
            else:
                self._opcode = opcode
            self._parts.append(payload)
            self._size += len(payload)
            if self._size > self._max:
                raise FrameError(f"message larger than {self._max} bytes", code=1009)
            if fin:
                out.append(Message(self._opcode, b"".join(self._parts)))
                self._parts, self._opcode, self._size = [], None, 0

    def _frame(self) -> tuple[bool, int, bytes] | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        first, second = buf[0], buf[1]
        if first & 0x70:
            raise FrameError("reserved bits set (no extension was negotiated)")
        if not second & 0x80:
            raise FrameError("client frames must be masked")
        length = second & 0x7F
        offset = 2
        if length == 126:
            if len(buf) < 4:
                return None
            (length,) = struct.unpack_from("!H", buf, 2)
            offset = 4
        elif length == 127:
            if len(buf) < 10:
                return None
            (length,) = struct.unpack_from("!Q", buf, 2)
            offset = 10
        if length > self._max:
            raise FrameError(f"frame larger than {self._max} bytes", code=1009)
        if len(buf) < offset + 4 + length:
            return None
        mask = bytes(buf[offset : offset + 4])
        start = offset + 4
        payload = _unmask(bytes(buf[start : start + length]), mask)
        del buf[: start + length]
        return bool(first & 0x80), first & 0x0F, payload


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    # XOR as one big integer: linear, and far faster than a Python loop per byte.
    repeated = (mask * (len(data) // 4 + 1))[: len(data)]
    value = int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(data), "big")
