"""One ``AsyncClient`` per event loop, each closed when its loop shuts down.

Why: a framework model that builds its own async client (LangChain's ``ChatOpenResponses`` given a
``base_url``) needs one per loop, since a connection pool cannot move between loops, and scripts
run ``asyncio.run(model.ainvoke(...))`` many times, each on a new loop. Kept in a plain mapping,
every client outlived its loop with its sockets open: the client's connections reference their
loop, so even a ``WeakKeyDictionary`` never dropped the entry (one loop and one socket leaked per
``asyncio.run``).

Each client is tied to its loop by an async generator that the loop tracks (the standard
``sys.set_asyncgen_hooks`` protocol, which asyncio and uvloop implement): ``loop.shutdown_asyncgens()``,
which ``asyncio.run`` and ``uvloop.run`` call before closing the loop, runs its ``finally``, which
closes the client on that loop (a loop that does not track async generators gets no closer: its
client is closed by ``aclose()`` or left to the garbage collector). A loop closed without it
(``loop.close()`` alone) leaves the client to the garbage collector, as before; its entry is
dropped the next time the mapping is used, so nothing keeps that loop alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncGenerator, Callable

from .._client import AsyncClient

__all__ = ["LoopClients"]

_Closer = AsyncGenerator[None, None]


class LoopClients:
    """The clients built by ``make``, one per running event loop (thread-safe)."""

    __slots__ = ("_clients", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop, tuple[AsyncClient, _Closer | None]] = {}

    def get(self, make: Callable[[], AsyncClient]) -> AsyncClient:
        """The running loop's client, built with ``make()`` on first use (call from a coroutine)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            for other in [other for other in self._clients if other.is_closed()]:
                del self._clients[other]  # closed without shutdown_asyncgens: let it be collected
            entry = self._clients.get(loop)
            if entry is not None:
                return entry[0]
            client = make()
            closer: _Closer | None = None
            if sys.get_asyncgen_hooks().firstiter is not None:  # the loop tracks async generators
                closer = _close_with_loop(client, self, loop)
                # __anext__() registers the generator with the running loop (its firstiter hook);
                # driving it to its yield now (it never suspends) means its finally will run.
                with contextlib.suppress(StopIteration):
                    closer.__anext__().send(None)
            self._clients[loop] = (client, closer)
            return client

    async def aclose_current(self) -> None:
        """Close the running loop's client, if one was built."""
        with self._lock:
            entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is None:
            return
        client, closer = entry
        if closer is not None:
            await closer.aclose()  # its finally closes the client
        else:
            await client.aclose()

    def _forget(self, loop: asyncio.AbstractEventLoop, client: AsyncClient) -> None:
        with self._lock:
            entry = self._clients.get(loop)
            if entry is not None and entry[0] is client:
                del self._clients[loop]

    def __len__(self) -> int:
        """Clients held (for tests and reprs)."""
        return len(self._clients)


async def _close_with_loop(
    client: AsyncClient, owner: LoopClients, loop: asyncio.AbstractEventLoop
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        owner._forget(loop, client)
        await client.aclose()
