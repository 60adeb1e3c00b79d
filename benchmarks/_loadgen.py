"""The proxy benchmark's load generator: a minimal HTTP/1.1 client, SSE counting, process CPU.

The client must cost far less than the servers it measures (all share two cores), so it is a raw
asyncio ``Protocol``: a request is one ``write``; a reply is kept as its raw bytes (chunk framing
included) and is complete at the ``Content-Length`` or at the chunked terminator. Events are
counted on the raw bytes, ``data:`` lines minus ``data: [DONE]``, which is exact for servers that
send one ``data:`` line per event and whole events per HTTP chunk (all the servers measured
here); ``check_stream`` decodes one reply properly and cross-checks the count.

Process CPU is read from ``/proc/<pid>/stat`` (user + system time of every thread, dead ones
included) for a process and all its descendants, so a server that forks workers is billed whole.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Conn",
    "ProcessCPU",
    "Reply",
    "StreamCheck",
    "check_stream",
    "count_events",
    "dechunk",
    "request_bytes",
    "sequential",
]

_TERMINATOR = b"\r\n0\r\n\r\n"


def request_bytes(method: str, host: str, port: int, path: str, body: Any, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 request, encoded once and reused for every call."""
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}:{port}", "accept: */*"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines += ["content-type: application/json", f"content-length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


@dataclass(slots=True)
class Reply:
    """A whole reply: status, lower-cased headers, the raw body (still chunk-framed if chunked)."""

    status: int
    headers: dict[str, str]
    raw: bytes
    chunked: bool

    def body(self) -> bytes:
        """The body without chunk framing."""
        return dechunk(self.raw) if self.chunked else self.raw


class Conn(asyncio.Protocol):
    """One keep-alive connection; ``await conn.send(request)`` returns the whole ``Reply``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parts: list[bytes] = []
        self._tail = b""
        self._head: tuple[int, dict[str, str], bool, int] | None = None
        self._received = 0
        self._waiter: asyncio.Future[Reply] | None = None
        self._carry = b""
        self.closed = False
        #: SSE events received on this connection so far, counted as they arrive (``[DONE]``
        #: excluded), so a phase can stop at a deadline in the middle of a stream.
        self.events = 0

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        """Connect (``TCP_NODELAY``) and return the connection."""
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(cls, host, port)
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, request: bytes) -> asyncio.Future[Reply]:
        """Write ``request``; the future resolves with its reply."""
        if self.closed or self.transport is None:
            raise ConnectionError("the connection is closed")
        self._parts, self._tail, self._head, self._received, self._carry = [], b"", None, 0, b"\n"
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        if self._head is None:
            self._parts.append(data)
            joined = b"".join(self._parts)
            end = joined.find(b"\r\n\r\n")
            if end < 0:
                self._parts = [joined]
                return
            self._head = _parse_head(joined[:end])
            data = joined[end + 4 :]
            self._parts = []
        self._parts.append(data)
        self._received += len(data)
        # The carry is shorter than the pattern, so no line is counted twice.
        self.events += (self._carry + data).count(b"\ndata:")
        self._carry = data[-5:] if len(data) >= 5 else (self._carry + data)[-5:]
        _, _, chunked, length = self._head
        if chunked:
            self._tail = (self._tail + data)[-64:]
            if self._tail.endswith(_TERMINATOR) or (self._received == 5 and self._tail == b"0\r\n\r\n"):
                self.events -= self._tail.count(b"data: [DONE]")
                self._finish()
        elif length >= 0 and self._received >= length:
            self._finish()

    def _finish(self) -> None:
        assert self._head is not None and self._waiter is not None
        status, headers, chunked, _ = self._head
        if not self._waiter.done():
            self._waiter.set_result(Reply(status, headers, b"".join(self._parts), chunked))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._head is not None and self._head[3] < 0 and not self._head[2]:
                self._finish()  # a body delimited by the close
            else:
                self._waiter.set_exception(ConnectionError(f"connection closed mid-reply ({exc})"))

    def close(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.close()


async def sequential(port: int, request: bytes, count: int) -> tuple[list[float], list[int]]:
    """``count`` sequential ``request``s on one keep-alive connection to ``port``: the seconds
    each took, and the statuses of those not answered 200."""
    conn = await Conn.open("127.0.0.1", port)
    seconds, failed = [], []
    try:
        for _ in range(count):
            start = time.perf_counter()
            reply = await conn.send(request)
            seconds.append(time.perf_counter() - start)
            if reply.status != 200:
                failed.append(reply.status)
    finally:
        conn.close()
    return seconds, failed


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool, int]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = int(headers["content-length"]) if "content-length" in headers else (-1 if not chunked else 0)
    return status, headers, chunked, length


def dechunk(raw: bytes) -> bytes:
    """The payload of a chunked body."""
    parts, position = [], 0
    while position < len(raw):
        line_end = raw.index(b"\r\n", position)
        size = int(raw[position:line_end].split(b";")[0], 16)
        if size == 0:
            break
        parts.append(raw[line_end + 2 : line_end + 2 + size])
        position = line_end + 4 + size
    return b"".join(parts)


def count_events(raw: bytes) -> int:
    """SSE events in a raw (possibly chunk-framed) body: ``data:`` lines, ``[DONE]`` excluded."""
    return (b"\n" + raw).count(b"\ndata:") - raw.count(b"data: [DONE]")


@dataclass(slots=True)
class StreamCheck:
    """What one properly decoded stream held, for the report's sanity columns."""

    events: int
    deltas: int
    empty_deltas: int
    text_ok: bool
    terminal: str | None
    sequence: str  # "increasing", "absent", or what went wrong
    counted: int  # what count_events found on the raw bytes: must equal ``events``
    types: dict[str, int] = field(default_factory=dict)


def check_stream(reply: Reply, expected_text: str) -> StreamCheck:
    """Decode ``reply`` as SSE, validate the essentials, count events and deltas."""
    body = reply.body().replace(b"\r\n", b"\n")
    events: list[dict[str, Any]] = []
    for block in body.split(b"\n\n"):
        data = [line[5:].strip() for line in block.split(b"\n") if line.startswith(b"data:")]
        if not data or data == [b"[DONE]"]:
            continue
        events.append(json.loads(b"\n".join(data)))
    types: dict[str, int] = {}
    for event in events:
        types[event.get("type", "?")] = types.get(event.get("type", "?"), 0) + 1
    deltas = [e.get("delta", "") for e in events if e.get("type") == "response.output_text.delta"]
    numbers = [e.get("sequence_number") for e in events]
    present = [n for n in numbers if isinstance(n, int)]
    if not present:
        sequence = "absent"
    elif len(present) < len(numbers):
        sequence = "partly absent"
    else:
        sequence = "increasing" if all(b > a for a, b in itertools.pairwise(present)) else "not increasing"
    terminal = events[-1].get("type") if events else None
    return StreamCheck(
        events=len(events),
        deltas=len(deltas),
        empty_deltas=sum(1 for d in deltas if not d),
        text_ok="".join(deltas) == expected_text,
        terminal=terminal,
        sequence=sequence,
        counted=count_events(reply.raw),
        types=types,
    )


class ProcessCPU:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants."""

    _TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def seconds(self) -> float:
        """Total CPU time of the process tree, from ``/proc`` (0.0 where ``/proc`` is absent)."""
        return sum(_cpu_ticks(pid) for pid in self._tree()) / self._TICK

    def _tree(self) -> Iterable[int]:
        parents: dict[int, list[int]] = {}
        for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
            if name.isdigit():
                stat = _stat(int(name))
                if stat is not None:
                    parents.setdefault(int(stat[1]), []).append(int(name))
        todo, seen = [self.pid], []
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo.extend(parents.get(pid, ()))
        return seen


def _stat(pid: int) -> Sequence[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode()
    except OSError:
        return None
    # Fields after the command (which may hold spaces): state ppid ... utime(14) stime(15).
    return raw[raw.rindex(")") + 2 :].split()


def _cpu_ticks(pid: int) -> int:
    stat = _stat(pid)
    return int(stat[11]) + int(stat[12]) if stat is not None else 0


def now() -> float:
    """Wall clock for the benchmark (``perf_counter``)."""
    return time.perf_counter()
