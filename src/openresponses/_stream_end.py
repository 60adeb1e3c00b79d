"""How an :class:`~openresponses._streaming.EventStream` ends: failures, ``on_end`` taps, release.

``_fail`` turns an ``error`` / ``response.failed`` event into ``ResponseFailedError``;
``_raise_end`` the end of a source without a terminal event into ``ProtocolError`` or
``StreamInterrupted`` (or the source's own error); ``_finish`` ends the stream once and hands
every ``on_end`` tap a :class:`StreamEnd`; ``_close_source`` closes the source and gives the
connection back. A base class of ``EventStream``, which holds this state in the slots declared here.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._errors import ProtocolError, ResponseFailedError, StreamError, StreamInterrupted
from ._stream_source import _StreamSource
from .types import Response, StreamEvent

__all__ = ["OnEnd", "StreamEnd"]

logger = logging.getLogger("openresponses")


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """How a stream ended: passed once to every ``on_end`` tap.

    ``error`` is the exception the consumer saw (``None`` on success or early close);
    ``abandoned`` is true when the consumer closed or dropped the stream before its end;
    ``response`` is the final response, or the partial one; ``events`` counts delivered events.
    """

    error: BaseException | None
    abandoned: bool
    response: Response | None
    events: int


OnEnd = Callable[[StreamEnd], None]


class _StreamEnding(_StreamSource):
    """``EventStream``'s ending state and steps (see the module docstring)."""

    __slots__ = (
        "_dropped",
        "_ended",
        "_on_end",
        "_release",
    )

    # Set by EventStream.__init__ (documented there).
    _dropped: bool
    _ended: bool
    _on_end: list[OnEnd]
    _release: Callable[[], Awaitable[None]] | None

    if TYPE_CHECKING:
        # Provided by EventStream.
        delivered: int

        def snapshot(self) -> Response | None: ...
        def _notify(self, event: StreamEvent, etype: str) -> None: ...

    def _fail(self, event: StreamEvent) -> None:
        """Deliver the failure events to taps, then raise ``ResponseFailedError``."""
        events = [event]
        if event.type == "error" and any(e.type == "response.failed" for e in self._buffer):
            # Hand the taps everything up to the response.failed that closes the failure.
            while self._buffer:
                events.append(self._buffer.popleft())
                if events[-1].type == "response.failed":
                    break
        for failed in events:
            self._notify(failed, failed.type)
        error_event = events[0]
        payload = getattr(error_event, "error", None) if error_event.type == "error" else None
        response = self.snapshot()
        if payload is None and response is not None and response.error is not None:
            message = f"{response.error.code}: {response.error.message}"
        elif payload is not None:
            message = f"{payload.type}: {payload.message}" + (
                f" (code {payload.code})" if payload.code else ""
            )
        else:
            message = "the response failed"
        exc = ResponseFailedError(
            f"Stream failed: {message}",
            event=error_event,
            error=payload,
            response=response,
            events_delivered=self.delivered,
        )
        exc.provider = self.provider
        self._finish(exc, abandoned=False)
        self._pending = None
        raise exc

    def _raise_end(self) -> None:
        pending = self._pending
        response = self.snapshot()
        if pending is None:
            exc: BaseException = ProtocolError(
                "The stream ended without a terminal event (response.completed, response.failed "
                "or response.incomplete).",
                response=response,
                events_delivered=self.delivered,
            )
        elif isinstance(pending, ProtocolError):
            pending.response = pending.response or response
            pending.events_delivered = self.delivered
            exc = pending
        elif isinstance(pending, StreamError):
            exc = pending
        elif self.delivered and isinstance(pending, Exception):
            exc = StreamInterrupted(
                f"The stream was interrupted after {self.delivered} events: {pending}",
                response=response,
                events_delivered=self.delivered,
            )
            exc.__cause__ = pending
            exc.provider = getattr(pending, "provider", None) or self.provider
        else:
            exc = pending
        self._pending = None
        self._finish(exc, abandoned=False)
        raise exc

    def _finish(self, error: BaseException | None, *, abandoned: bool) -> None:
        if self._ended:
            return
        self._ended = True
        self._buffer.clear()
        if self._watch is not None:
            self._stop_watch()
        if not self._on_end:
            return
        end = StreamEnd(error, abandoned, self.snapshot(), self.delivered)
        for callback in self._on_end:
            self._call_end(callback, end)
        self._on_end.clear()

    @staticmethod
    def _call_end(callback: OnEnd, end: StreamEnd) -> None:
        try:
            callback(end)
        except Exception:
            logger.exception("stream end tap %r failed", callback)

    async def _close_source(self) -> None:
        if self._watch is not None:
            self._stop_watch()  # nothing is pulled from a closed source
        source = self._source
        if self._dropped and inspect.isasyncgen(source):
            # Garbage-collected with its stream (a wrapper's finally got here through an
            # asyncio finalizer task): asyncio has scheduled this generator's aclose() in a task
            # of its own. Closing it here too would race that task, which then fails with
            # "aclose(): asynchronous generator is already running", never retrieved.
            return
        close = getattr(source, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:
                logger.debug("closing the stream source failed", exc_info=True)
        release, self._release = self._release, None
        if release is not None:
            try:
                await release()
            except Exception:
                logger.debug("releasing the stream's connection failed", exc_info=True)
