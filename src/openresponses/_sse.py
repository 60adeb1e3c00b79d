"""Sans-I/O Server-Sent Events: an incremental decoder and the encoder, over bytes.

The decoder follows the WHATWG event-stream rules: events split across chunks at any byte,
CRLF / CR / LF line ends (a CR at the end of one chunk and an LF at the start of the next are one
line end), multi-line ``data:``, comment lines, the ``event:`` and ``id:`` fields, an optional
space after the colon, a leading BOM (even split across chunks). Only CR and LF end lines:
U+2028 / U+2029 and other Unicode line breaks are data. It is shared by the client, transports
and proxies.

It is on the hot path, so the common shape (LF-only, ``event:`` + one ``data:`` line) takes a
short route: one ``split`` per chunk, two prefix checks per event, parsed inline in ``feed``.
Its cost is linear in the bytes fed, whatever the chunking: an event that spans many chunks is
kept as a list of pieces, only each new chunk is scanned for the blank line that ends it, and
the pieces are joined once, when it ends.

An event may not exceed ``max_event_size`` bytes (:data:`DEFAULT_MAX_EVENT_SIZE`, 16 MiB);
past it the decoder raises :class:`~openresponses.ProtocolError` naming the limit and the size
seen, having buffered at most the limit plus one chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, overload

from ._errors import ProtocolError

if TYPE_CHECKING:
    from .types import StreamEvent

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "DONE",
    "SSEDecoder",
    "ServerSentEvent",
    "check_max_event_size",
    "encode_event",
    "encode_sse",
]

#: The end-of-stream sentinel OpenAI-style servers send after the terminal event (README §11).
DONE = b"data: [DONE]\n\n"

#: The default bound on one event's bytes (field lines included, line ends normalised, without the
#: blank line that ends it). The largest real events are terminal ``response.*`` events carrying
#: the whole response and ``output_item.done`` items carrying base64 images: a few MB. 16 MiB
#: leaves ample headroom while capping what one hostile or broken stream can make us buffer.
DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"
_LF = 0x0A
_tuple_new = tuple.__new__  # builds a ServerSentEvent without its Python-level __new__


def check_max_event_size(value: int | None, owner: str) -> int | None:
    """``value`` if it is a valid ``max_event_size`` (a positive int, or ``None`` for no limit).

    Raises ``TypeError`` / ``ValueError`` naming ``owner`` (the class whose option it is).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: max_event_size must be an int (bytes) or None, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{owner}: max_event_size must be at least 1 byte, got {value}")
    return value


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

    ``max_event_size`` bounds one event in bytes (default :data:`DEFAULT_MAX_EVENT_SIZE`;
    ``None``: no bound, not advised for untrusted servers). An event past it raises
    :class:`~openresponses.ProtocolError`; when the same chunk also completed good events,
    they are returned first and the error is raised by the next ``feed`` or ``flush``. A
    decoder that raised keeps raising: the stream cannot be resynchronised.

    >>> d = SSEDecoder()
    >>> d.feed(b"event: x\\ndata: {}\\n")
    []
    >>> d.feed(b"\\n")
    [ServerSentEvent(data=b'{}', event='x', id=None, retry=None)]
    """

    __slots__ = ("_bom", "_cr_pending", "_error", "_limit", "_parts", "_size", "last_event_id")

    def __init__(self, *, max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE) -> None:
        max_event_size = check_max_event_size(max_event_size, "SSEDecoder")
        # Bytes of the event in progress (line ends normalised to LF), as the chunks brought them:
        # joined once, when the event ends, so a large event costs linear time.
        self._parts: list[bytes] = []
        self._size = 0
        self._limit = max_event_size if max_event_size is not None else -1
        self._cr_pending = False
        self._bom: bytes | None = b""  # the start of the stream while it may still be a BOM; None after
        self._error: ProtocolError | None = None
        #: The last ``id:`` seen (WHATWG: persists across events).
        self.last_event_id: str | None = None

    @property
    def max_event_size(self) -> int | None:
        """The bound on one event's bytes (``None``: unbounded)."""
        return self._limit if self._limit >= 0 else None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Add a chunk; return the events it completed (possibly none).

        Raises :class:`~openresponses.ProtocolError` when an event exceeds ``max_event_size``.
        """
        if self._error is not None:
            raise self._error.with_traceback(None)
        if not chunk:
            return []
        if self._bom is not None:
            # WHATWG: one leading U+FEFF is dropped; it may arrive split across chunks.
            head = self._bom + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._bom = head
                return []
            self._bom = None
            chunk = head[3:] if head.startswith(_BOM) else head
        if self._cr_pending:
            self._cr_pending = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]  # the LF of a CRLF split across chunks
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                self._cr_pending = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not chunk:
            return []
        parts = self._parts
        if parts:
            # An event in progress: only the new bytes are scanned for the blank line ending it
            # (which may straddle the chunks); the pieces are joined once, when it ends.
            if b"\n\n" not in chunk and not (chunk[0] == _LF and parts[-1][-1] == _LF):
                size = self._size + len(chunk)
                # +1: the LF ending the event's last line may come before the blank line does.
                if size > self._limit + 1 and self._limit >= 0:
                    raise self._too_big(size, complete=False)
                parts.append(chunk)
                self._size = size
                return []
            parts.append(chunk)
            chunk = b"".join(parts)
            parts.clear()
            self._size = 0
        events: list[ServerSentEvent] = []
        blocks = chunk.split(b"\n\n")  # one pass; no separate "is there a blank line" scan
        tail = blocks.pop()
        if tail:
            parts.append(tail)
            self._size = len(tail)
        if len(chunk) > self._limit and self._limit >= 0 and self._oversized(blocks, events):
            return events
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
        """End of stream. WHATWG drops an event not terminated by a blank line; so do we.

        Raises the pending :class:`~openresponses.ProtocolError` if an event exceeded
        ``max_event_size`` in the last chunk fed.
        """
        if self._error is not None:
            raise self._error.with_traceback(None)
        self._parts.clear()
        self._size = 0
        return []

    @property
    def pending(self) -> bytes:
        """Bytes received that do not yet form a complete event."""
        return (self._bom or b"") + b"".join(self._parts)

    def _oversized(self, blocks: list[bytes], events: list[ServerSentEvent]) -> bool:
        """Check a chunk larger than the limit. Events before an oversized one are parsed into
        ``events`` and the error is kept for the next call (True); raises if there are none."""
        tail = self._parts[-1] if self._parts else b""
        for index, block in enumerate(blocks):
            if len(block) > self._limit:
                self._parts[:] = [block]
                for good in blocks[:index]:
                    event = self._parse_block(good)
                    if event is not None:
                        events.append(event)
                self._defer(self._too_big(len(block), complete=True), events)
                return True
        if len(tail) > self._limit + 1:
            for good in blocks:
                event = self._parse_block(good)
                if event is not None:
                    events.append(event)
            self._defer(self._too_big(len(tail), complete=False), events)
            return True
        return False

    def _defer(self, error: ProtocolError, events: list[ServerSentEvent]) -> None:
        if not events:
            raise error
        self._error = error  # deliver the good events first; the next feed / flush raises

    def _too_big(self, size: int, *, complete: bool) -> ProtocolError:
        pieces: list[bytes] = []
        kept = 0
        for piece in self._parts:  # the event's first bytes, for the error (not all of it)
            if kept >= 200:
                break
            pieces.append(piece[: 200 - kept])
            kept += len(pieces[-1])
        head = b"".join(pieces)
        # Keep only the head: memory is freed, and ``pending`` still shows the stream ended mid-event.
        self._parts[:] = [head] if head else []
        self._size = len(head)
        what = (
            f"an SSE event of {size} bytes" if complete else f"{size} bytes of an SSE event without its end"
        )
        error = ProtocolError(
            f"The stream sent {what}: over the maximum event size of {self._limit} bytes "
            "(raise it with max_event_size=..., e.g. OpenResponsesDialect(max_event_size=...)).",
            data=head,
        )
        self._error = error
        return error

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
