"""uvicorn's httptools protocol, with each reply's head held until its first body write.

Why: uvicorn writes a reply's status line and headers to the socket as soon as the app sends
``http.response.start``, then the body as a second write. A non-streamed reply thus costs the
proxy two ``send`` syscalls and reaches the client as two TCP segments (two wake-ups of a client
waiting for the whole reply). Holding the head until the body's first write, or the end of the
current event-loop iteration, whichever comes first, sends a whole reply in one write: ≈ 30 µs
less added latency per non-streamed request here (docs/performance.md, change 18). A streamed
reply's head is delayed by one loop iteration at most, never by the upstream's pace: a head with
no body yet goes out on its own as soon as the app yields to the loop.

Only the *order* and *grouping* of bytes change, never the bytes: everything uvicorn does
(keep-alive, pipelining, ``100 Continue``, flow control, closing) goes through unchanged. With
uvicorn's internals not as expected (a future release) or httptools absent, ``http_protocol``
answers ``"auto"``: uvicorn's own choice, exactly as before.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

__all__ = ["HeldHead", "http_protocol"]


class HeldHead:
    """A transport wrapper: the first write (a reply's head) waits for the next write, which it
    is joined to, or for the end of the loop iteration; every other call goes straight through."""

    __slots__ = ("_flush_handle", "_held", "_loop", "_started", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_handle: asyncio.Handle | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        """Write ``data``: held if it is the first write, joined to the held head otherwise."""
        held = self._held
        if held is not None:
            self._held = None
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None
            self.transport.write(held + data)
            return
        if not self._started:
            self._started = True
            self._held = bytes(data)
            self._flush_handle = self._loop.call_soon(self.flush)
            return
        self.transport.write(data)

    def flush(self) -> None:
        """Write the held head now, if any."""
        self._flush_handle = None
        held, self._held = self._held, None
        if held is not None and not self.transport.is_closing():  # the client may have gone since
            self.transport.write(held)

    def close(self) -> None:
        """Flush, then close the transport (uvicorn closes after a reply without keep-alive)."""
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


_impl: Any
try:
    from uvicorn.protocols.http import httptools_impl as _impl
except ImportError:  # httptools not installed: uvicorn falls back to h11 by itself
    _impl = None


def http_protocol() -> Any:
    """The ``http`` setting for ``uvicorn.Config``: :class:`HeldHeadProtocol` (uvicorn's
    httptools protocol with :class:`HeldHead` on each request's transport), or ``"auto"`` where
    httptools is missing or uvicorn's internals are not the ones it was written against."""
    if _impl is None or not _fits():
        return "auto"
    return HeldHeadProtocol


def _fits() -> bool:
    return hasattr(_impl.HttpToolsProtocol, "on_headers_complete") and (
        "transport" in inspect.signature(_impl.RequestResponseCycle).parameters
    )


if _impl is not None:

    class HeldHeadProtocol(_impl.HttpToolsProtocol):  # type: ignore[misc]
        """uvicorn's httptools protocol; each request's reply goes out with its head held.

        At module level (not built in a function) so that ``--workers``' spawned processes can
        unpickle the uvicorn config that names it."""

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            cycle = getattr(self, "cycle", None)
            if cycle is not None and type(cycle.transport) is not HeldHead:
                cycle.transport = HeldHead(cycle.transport, self.loop)
