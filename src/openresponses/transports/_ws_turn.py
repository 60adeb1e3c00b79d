"""One WebSocket turn as the source of its ``EventStream``: :class:`Turn`.

A turn owns the transport's turn lock from the send until its terminal event; this module
makes sure the lock is released however the stream ends (read to the end, closed early and
drained in the background, broken, or dropped unread). :func:`clean` redacts the server text
of failure events on the way out.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from .._redact import Redactor
from ..types import StreamEvent
from ._ws_codec import TurnDecoder
from ._ws_lib import ClientConnection, State

if TYPE_CHECKING:
    from .websocket import WebSocketTransport

__all__ = ["FAILURE_EVENTS", "Turn", "clean"]

FAILURE_EVENTS = frozenset({"error", "response.failed", "response.incomplete"})


class Turn:
    """The event batches of one turn: the source of its ``EventStream``.

    A class rather than an async generator so that the turn lock is released however the
    stream ends, even when it is closed before its first pull or dropped unread (``__del__``).
    """

    __slots__ = ("_done", "_first", "_owner", "decoder", "ws")

    def __init__(
        self, owner: WebSocketTransport, ws: ClientConnection, decoder: TurnDecoder, first: list[StreamEvent]
    ) -> None:
        self._owner = owner
        self.ws = ws
        self.decoder = decoder
        self._first: list[StreamEvent] | None = first
        self._done = False
        owner._remember(first)

    def __aiter__(self) -> Turn:
        return self

    async def __anext__(self) -> list[StreamEvent]:
        if self._done:
            raise StopAsyncIteration
        if self._first is not None:
            events, self._first = self._first, None
        elif self.decoder.ended:
            self._finish(healthy=True)
            raise StopAsyncIteration
        else:
            try:
                events = await self._owner._receive(self.ws, self.decoder)
            except BaseException:
                self._finish(healthy=False)
                raise
            self._owner._remember(events)
        if self.decoder.ended:
            self._finish(healthy=True)  # the next turn may start as soon as this one has ended
        return events

    async def aclose(self) -> None:
        """Closed by its stream: end the turn, draining it in the background when abandoned."""
        if self._done:
            return
        if self.decoder.ended:
            self._finish(healthy=True)
        elif self.ws.state is State.OPEN and not self._owner._closed:
            self._done = True
            self._owner._drain(self)
        else:
            self._finish(healthy=False)

    def _finish(self, *, healthy: bool) -> None:
        if not self._done:
            self._done = True
            self._owner._release(self.ws, healthy=healthy)

    def __del__(self) -> None:
        if not self._done:
            with contextlib.suppress(Exception):  # interpreter shutdown
                self._finish(healthy=False)


def clean(event: StreamEvent, redactor: Redactor) -> StreamEvent:
    """Failure events carry server text: redact them; a healthy delta costs one set lookup."""
    if event.type not in FAILURE_EVENTS or not redactor:
        return event
    cleaned: StreamEvent = redactor.value(event) if event.type == "error" else redactor.exact(event)
    return cleaned
