"""``FaultServer``: a loopback HTTP/1.1 server whose replies are faults, scripted byte by byte.

It reuses the library's :class:`~openresponses.testing._loopback.LoopbackServer` (keep-alive,
chunked replies, RST resets, early-close detection) and adds what the scripted
``ScriptedServer`` cannot say: a provider that never sends headers, HTML and non-JSON bodies,
raw SSE that is not SSE, invalid UTF-8, duplicate and reordered sequence numbers, events of any
size. Each request is answered by a :data:`Behaviour`; the server counts replies still in
progress (``busy``), so a test can tell that the client closed every connection it abandoned.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from openresponses._emit import EventBuilder
from openresponses._sse import DONE, encode_event
from openresponses.testing import Frame, Wire, incomplete, text
from openresponses.testing._loopback import Connection, LoopbackServer
from openresponses.testing._script import split
from openresponses.testing._transport import RecordedRequest
from openresponses.types import CreateResponseBody, StreamEvent

__all__ = [
    "Answer",
    "Behaviour",
    "FaultServer",
    "answer",
    "error_body",
    "frames_of",
    "gone",
    "http_date",
    "raw_sse",
    "refused_port",
    "reply",
    "reset",
    "silent",
]

Behaviour = Callable[["FaultServer", RecordedRequest, Connection], Awaitable[bool]]
"""Answers one request on ``connection``; returns whether the connection may serve another."""

_POLL = 0.005
_SSE_HEADERS = (("content-type", "text/event-stream"), ("cache-control", "no-cache"))


@dataclass(frozen=True, slots=True)
class Answer:
    """A healthy answer: its text, how it is split into deltas, and how it ends."""

    text: str
    chunks: int | None = None
    #: ``failed``: ``fail_after`` deltas of the text, then ``error`` and ``response.failed``.
    ending: Literal["completed", "incomplete", "failed"] = "completed"
    fail_after: int = 0

    def events(self, body: Any = None) -> list[StreamEvent]:
        """The spec-ordered events of this answer for a request ``body`` (fresh ids)."""
        data = body if isinstance(body, dict) else {"model": "m"}
        if self.ending == "incomplete":
            return incomplete(self.text, chunks=self.chunks).events(data)
        if self.ending == "completed":
            return text(self.text, chunks=self.chunks).events(data)
        builder = EventBuilder(CreateResponseBody.model_validate(data))
        builder.created()
        builder.in_progress()
        if self.fail_after:
            index = builder.start_message()
            builder.start_text(index)
            for piece in split(self.text, self.chunks)[: self.fail_after]:
                builder.text(index, piece)
        builder.fail("The model crashed.", code="server_error", type="server_error")
        return builder.drain()


class FaultServer(LoopbackServer):
    """A loopback server answering request ``n`` with ``behaviours[n]`` (the last one repeats).

    ::

        async with FaultServer([reply(503), answer(Answer("Hi"))]) as server:
            ...  # first request: 503; every later one: a healthy stream
        assert server.busy == 0  # no reply still waiting on a connection the client abandoned
    """

    _thread_name = "fault-server"

    def __init__(self, behaviours: Sequence[Behaviour]) -> None:
        super().__init__()
        if not behaviours:
            raise ValueError("FaultServer needs at least one behaviour")
        self.behaviours = tuple(behaviours)
        #: Replies being written (or withheld) right now.
        self.busy = 0

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        behaviour = self.behaviours[min(len(self.requests) - 1, len(self.behaviours) - 1)]
        self.busy += 1
        try:
            return await behaviour(self, request, connection)
        finally:
            self.busy -= 1

    async def play(self, wire: Wire, connection: Connection) -> bool:
        """Send ``wire`` (the base class's writer: pauses, batching, resets, early-close checks)."""
        return await self._send_wire(wire, connection)


def gone(connection: Connection) -> bool:
    """Whether the client closed its end (EOF seen while we hold the reply)."""
    return connection.writer.is_closing() or connection.reader.at_eof()


# -- behaviours ---------------------------------------------------------------------------------


def answer(spec: Answer, *, event_delay: float = 0.0) -> Behaviour:
    """A complete, healthy event stream (or JSON ``Response`` for a non-streaming request)."""

    async def play(server: FaultServer, request: RecordedRequest, connection: Connection) -> bool:
        events = spec.events(request.body)
        if not _wants_stream(request):
            data = events[-1].response.model_dump_json(exclude_unset=True).encode()  # type: ignore[union-attr]
            return await server.play(_json_wire(200, data), connection)
        frames = [Frame(encode_event(e), event_delay if i else 0.0) for i, e in enumerate(events)]
        frames.append(Frame(DONE, event_delay))
        return await server.play(Wire(headers=_SSE_HEADERS, frames=tuple(frames), sse=True), connection)

    return play


def raw_sse(
    build: Callable[[list[bytes]], Iterable[Frame]],
    spec: Answer,
    *,
    end: Literal["done", "reset", "close"] = "done",
    content_type: str = "text/event-stream",
) -> Behaviour:
    """A ``200`` chunked stream whose frames ``build`` derives from ``spec``'s encoded events.

    ``build`` gets one ``bytes`` per event (SSE-framed, ``[DONE]`` last) and returns the frames
    to send: drop, repeat, reorder or corrupt them. ``end="reset"`` aborts the TCP connection
    after the last frame.
    """

    async def play(server: FaultServer, request: RecordedRequest, connection: Connection) -> bool:
        encoded = [encode_event(e) for e in spec.events(request.body)] + [DONE]
        headers = (("content-type", content_type), ("cache-control", "no-cache"))
        wire = Wire(headers=headers, frames=tuple(build(encoded)), sse=True, end=end)
        return await server.play(wire, connection)

    return play


def frames_of(parts: Iterable[bytes | tuple[bytes, float]]) -> list[Frame]:
    """Frames from bytes (sent at once) or ``(bytes, pause)`` pairs (sent after ``pause`` s)."""
    return [Frame(p[0], p[1]) if isinstance(p, tuple) else Frame(p) for p in parts]


def reply(
    status: int,
    body: bytes | dict[str, Any] | Callable[[RecordedRequest], bytes | dict[str, Any]] | None = None,
    *,
    content_type: str = "application/json",
    headers: Sequence[tuple[str, str]] | Callable[[], Sequence[tuple[str, str]]] = (),
) -> Behaviour:
    """A whole (``Content-Length``) reply: the spec error body by default, or ``body`` as given.

    ``body`` may be a function of the request (e.g. echoing its ``Authorization`` header) and
    ``headers`` a function called at reply time (e.g. an HTTP-date relative to now).
    """

    async def play(server: FaultServer, request: RecordedRequest, connection: Connection) -> bool:
        value = body(request) if callable(body) else body
        if value is None:
            value = error_body(status, f"Fault server: HTTP {status}.")
        data = json.dumps(value).encode() if isinstance(value, dict) else value
        extra = headers() if callable(headers) else headers
        wire = _json_wire(status, data, content_type=content_type, headers=tuple(extra))
        return await server.play(wire, connection)

    return play


def reset() -> Behaviour:
    """Read the request, then abort the connection with an RST before any header."""

    async def play(server: FaultServer, request: RecordedRequest, connection: Connection) -> bool:
        return await server.play(Wire(reset_before_headers=True), connection)

    return play


def silent() -> Behaviour:
    """Accept the connection and read the request, then never send a byte (until the client leaves)."""

    async def play(server: FaultServer, request: RecordedRequest, connection: Connection) -> bool:
        # Polled: a peer's FIN shows only as reader EOF, there is no event to wait on.
        while not gone(connection):  # noqa: ASYNC110
            await asyncio.sleep(_POLL)
        return False

    return play


def http_date(seconds_from_now: float) -> str:
    """An RFC 9110 HTTP-date ``seconds_from_now`` in the future (whole seconds, GMT)."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


def refused_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting is refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def error_body(
    status: int, message: str, *, code: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    """The spec error object ``{"error": {"message", "type", "param", "code"}}``."""
    etype = kind or ("server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def _json_wire(
    status: int,
    data: bytes,
    *,
    content_type: str = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
) -> Wire:
    return Wire(
        status=status,
        headers=(("content-type", content_type), *headers),
        frames=(Frame(data),),
        content_length=len(data),
    )


def _wants_stream(request: RecordedRequest) -> bool:
    return isinstance(request.body, dict) and request.body.get("stream") is True
