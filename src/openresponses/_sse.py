"""Sans-I/O Server-Sent Events: an incremental decoder and the encoder, over bytes.

The decoder follows the WHATWG event-stream rules: events split across chunks at any byte,
CRLF / CR / LF line ends (a CR at the end of one chunk and an LF at the start of the next are one
line end), multi-line ``data:``, comment lines, the ``event:`` and ``id:`` fields, an optional
space after the colon, a leading BOM. It is shared by the client, transports and proxies.

It is on the hot path, so the common shape (LF-only, ``event:`` + one ``data:`` line) takes a
short route: one ``split`` per chunk, two prefix checks per event, parsed inline in ``feed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, overload

if TYPE_CHECKING:
    from .types import StreamEvent

__all__ = ["DONE", "SSEDecoder", "ServerSentEvent", "encode_event", "encode_sse"]

#: The end-of-stream sentinel OpenAI-style servers send after the terminal event (README §11).
DONE = b"data: [DONE]\n\n"

_BOM = b"\xef\xbb\xbf"
_tuple_new = tuple.__new__  # builds a ServerSentEvent without its Python-level __new__


class ServerSentEvent(NamedTuple):
    """One dispatched event: its ``event`` name (``None`` when absent), ``data`` and ``id``.

    A named tuple rather than a frozen dataclass: it is built once per event on the hot path,
    and tuple construction costs a fraction of a frozen dataclass's ``__init__``.
    """

    data: bytes
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed bytes in any chunking; get complete events out.

    >>> d = SSEDecoder()
    >>> d.feed(b"event: x\\ndata: {}\\n")
    []
    >>> d.feed(b"\\n")
    [ServerSentEvent(data=b'{}', event='x', id=None, retry=None)]
    """

    __slots__ = ("_buf", "_cr_pending", "_started", "last_event_id")

    def __init__(self) -> None:
        self._buf = b""
        self._cr_pending = False
        self._started = False
        #: The last ``id:`` seen (WHATWG: persists across events).
        self.last_event_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Add a chunk; return the events it completed (possibly none)."""
        if not chunk:
            return []
        if not self._started:
            self._started = True
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if self._cr_pending:
            self._cr_pending = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]  # the LF of a CRLF split across chunks
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                self._cr_pending = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf + chunk if self._buf else chunk
        blocks = buf.split(b"\n\n")  # one pass; no separate "is there a blank line" scan
        self._buf = blocks.pop()
        if not blocks:
            return []
        events: list[ServerSentEvent] = []
        for block in blocks:
            # The fast path of _parse_block, inlined (one call less per event).
            if block.startswith(b"event: "):
                end = block.find(b"\n")
                if end > 0 and block.startswith(b"data: ", end + 1) and block.find(b"\n", end + 1) < 0:
                    events.append(
                        _tuple_new(
                            ServerSentEvent,
                            (
                                block[end + 7 :],
                                block[7:end].decode("utf-8", "replace"),
                                self.last_event_id,
                                None,
                            ),
                        )
                    )
                    continue
            elif block.startswith(b"data: ") and b"\n" not in block:
                events.append(_tuple_new(ServerSentEvent, (block[6:], None, self.last_event_id, None)))
                continue
            event = self._parse_block(block)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream. WHATWG drops an event not terminated by a blank line; so do we."""
        self._buf = b""
        return []

    @property
    def pending(self) -> bytes:
        """Bytes received that do not yet form a complete event."""
        return self._buf

    def _parse_block(self, block: bytes) -> ServerSentEvent | None:
        # Fast path, the shape servers send: "event: NAME\ndata: PAYLOAD" or "data: PAYLOAD".
        if block.startswith(b"event: "):
            end = block.find(b"\n")
            if end > 0 and block.startswith(b"data: ", end + 1) and block.find(b"\n", end + 1) < 0:
                return ServerSentEvent(
                    block[end + 7 :], block[7:end].decode("utf-8", "replace"), self.last_event_id
                )
        elif block.startswith(b"data: ") and b"\n" not in block:
            return ServerSentEvent(block[6:], None, self.last_event_id)
        data: list[bytes] = []
        event: str | None = None
        retry: int | None = None
        for line in block.split(b"\n"):
            if not line or line[0] == 0x3A:  # blank (leading newlines) or ":" comment
                continue
            name, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value.decode("utf-8", "replace")
            elif name == b"id":
                if b"\x00" not in value:
                    self.last_event_id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                retry = int(value)
        if not data:
            return None  # WHATWG: an event with an empty data buffer is not dispatched
        return ServerSentEvent(
            data=data[0] if len(data) == 1 else b"\n".join(data),
            event=event,
            id=self.last_event_id,
            retry=retry,
        )


def encode_sse(data: bytes, event: str | None = None) -> bytes:
    """Frame one server-sent event: ``event: <event>`` (if given) and ``data:`` lines, then a blank line.

    Multi-line data becomes several ``data:`` lines (the decoder joins them back with LF).
    """
    head = b"event: " + event.encode() + b"\n" if event else b""
    if b"\n" in data or b"\r" in data:
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        return head + b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"
    return head + b"data: " + data + b"\n\n"


@overload
def encode_event(event: StreamEvent, /) -> bytes: ...
@overload
def encode_event(event: bytes, name: str | None = None, /) -> bytes: ...
def encode_event(event: StreamEvent | bytes, name: str | None = None, /) -> bytes:
    """The exact bytes a server sends for one Open Responses event:
    ``event: <type>\ndata: <compact JSON>\n\n``.

    The JSON is ``model_dump_json(by_alias=True, exclude_unset=True)``: what was received (or
    built) is what is sent, without defaults the sender never set. Calling it with ``bytes`` (and
    an event name) is the older spelling of :func:`encode_sse`, kept for existing callers.
    """
    if isinstance(event, bytes | bytearray):
        return encode_sse(bytes(event), name)
    return encode_sse(event.model_dump_json(by_alias=True, exclude_unset=True).encode(), event.type)
