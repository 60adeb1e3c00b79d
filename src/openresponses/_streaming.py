"""Event streams: the stream that flows through middleware, and the one users hold.

:class:`EventStream` is an async iterator of typed events that owns its upstream connection.
Middleware observe it with ``tap(on_event, on_end)`` (``on_end`` fires exactly once: at the
terminal event, on error, or when the stream is closed or dropped early; ``deltas=False`` spares
the call per output delta to observers that only count them: ``accumulator`` does), pull ahead with
``prime()`` (retry and failover commit only once a content event is buffered), bound it with
``limit()`` (first-event, idle and total deadlines), rewrite the ``response`` its lifecycle and
terminal events carry (``patch_responses``), await something before a successful end is handed
over (``before_terminal``: a store write), or transform it by building a new ``EventStream`` over
their own async generator.

The stream ends itself at the terminal event (``response.completed`` / ``incomplete`` /
``failed``) and releases the connection without waiting for ``[DONE]``. An ``error`` event or
``response.failed`` raises :class:`ResponseFailedError`; a stream that breaks after events were
delivered raises :class:`StreamInterrupted`; one that ends without a terminal event raises
:class:`ProtocolError`. Each carries the partial response.

:class:`AsyncResponseStream` is what ``client.responses.stream()`` returns: the same events plus
``get_final_response()``.

Split by concept, every name still importable from here: this module holds ``EventStream``'s
state, middleware API and iteration; its receiving side (source pulls, ``limit()``'s one timer) is
the base class in ``_stream_source``, how it ends (failures, ``on_end``, release) the one in
``_stream_end``, how layers rewrite it in place (``patch_responses``, ``before_terminal``,
``mirror``) the one in ``_stream_rewrite``; ``AsyncResponseStream`` is in ``_response_stream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from ._accumulate import DELTA_TYPES, Accumulator
from ._response_stream import AsyncResponseStream
from ._response_stream import _stamp as _stamp
from ._stream_end import OnEnd, StreamEnd
from ._stream_rewrite import BeforeTerminal, _StreamRewriting
from ._stream_source import _WATCHED as _WATCHED
from ._stream_source import _watch_fired as _watch_fired
from .types import Response, StreamEvent
from .types.events import LIFECYCLE_EVENT_TYPES as _LIFECYCLE
from .types.events import TERMINAL_EVENT_TYPES as _TERMINAL

__all__ = [
    "AsyncResponseStream",
    "BeforeTerminal",
    "EventStream",
    "OnEnd",
    "OnEvent",
    "StreamEnd",
    "committed",
]

logger = logging.getLogger("openresponses")

# Events whose delivery does more than count and notify: failures raise, terminals end the stream.
_SPECIAL = frozenset({"error", "response.failed"}) | _TERMINAL
_DELTAS = DELTA_TYPES
# The successful ends (what before_terminal hooks wait for).
_SUCCESS = _TERMINAL - {"response.failed"}


OnEvent = Callable[[StreamEvent], None]
Source = AsyncIterator[Sequence[StreamEvent]]
R = TypeVar("R")


class EventStream(_StreamRewriting):
    """An async iterator of typed events over a source of event batches.

    ``source`` yields lists of events (one list per network chunk, so a sync bridge or a
    transform can move many events per hop). Build one over your own async generator to
    transform a stream; close what you wrap in ``finally``. ``release`` (a transport's) runs once
    when the stream is closed, after the source: it gives the connection back even when the
    stream is closed before its first read.
    """

    __slots__ = (
        "__weakref__",
        "_on_delta",
        "_on_event",
        "_tapped",
        "delivered",
        "provider",
        "request_id",
    )

    def __init__(
        self,
        source: Source,
        *,
        provider: str | None = None,
        release: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._source = source
        # Run once the source is closed: a connection to give back even if the source never
        # started (closing an async generator that never ran does not run its ``finally``).
        self._release = release
        self._buffer: deque[StreamEvent] = deque()
        self._acc = Accumulator()
        self._feeds = True  # False while the accumulator is fed by a wrapped stream (mirror)
        self._on_event: list[OnEvent] = []  # every tap, in order: called for all but output deltas
        self._on_delta: list[OnEvent] = []  # the taps that want output deltas too
        self._tapped = False
        self._on_end: list[OnEnd] = []
        self._patch: Callable[[StreamEvent], StreamEvent] | None = None
        self._before_terminal: list[BeforeTerminal] = []
        self._pending: BaseException | None = None
        self._exhausted = False
        self._failing = False  # an error / response.failed event is buffered
        self._ended = False
        self._dropped = False  # garbage-collected: asyncio finalizes a generator source itself
        self._content_seen = False
        self._first_event: float | None = None
        self._idle: float | None = None
        self._deadline: float | None = None
        self._limited = False  # any of the three limits set
        # The limits' one timer (see _next_source_batch) and the pull it watches.
        self._watch: asyncio.TimerHandle | None = None
        self._watch_at = 0.0
        self._watch_cb: Callable[[], None] | None = None
        self._pull_task: asyncio.Task[Any] | None = None
        self._pull_at = 0.0
        self._pull_base = 0
        self._fired = False
        #: Events handed to the consumer so far.
        self.delivered = 0
        #: Name of the provider serving this stream (set by transports and failover).
        self.provider = provider
        #: The upstream's request id for this stream, when its reply headers carried one.
        self.request_id: str | None = None

    # -- middleware API -------------------------------------------------------------------------

    def tap(
        self, on_event: OnEvent | None = None, on_end: OnEnd | None = None, *, deltas: bool = True
    ) -> EventStream:
        """Observe events as they are delivered and the end, once. Returns this stream.

        Callbacks run inline (keep them O(1) per event) and must not raise: errors are logged
        and swallowed so telemetry never breaks the call. With ``deltas=False``, ``on_event`` is
        not called for the output deltas (``DELTA_TYPES``: text, refusal, function-call
        arguments, reasoning and summary deltas), the bulk of a stream: an observer that only
        counts them or times the first one reads ``accumulator.deltas``,
        ``accumulator.item_deltas(i)`` and ``accumulator.first_delta_at`` instead, at no cost
        per delta.
        """
        if on_event is not None:
            self._on_event.append(on_event)
            if deltas:
                self._on_delta.append(on_event)
            self._tapped = True
        if on_end is not None:
            if self._ended:
                self._call_end(on_end, StreamEnd(None, False, self.snapshot(), self.delivered))
            else:
                self._on_end.append(on_end)
        return self

    def limit(
        self,
        *,
        first_event: float | None = None,
        idle: float | None = None,
        deadline: float | None = None,
    ) -> EventStream:
        """Bound the waits: until the first content event, between events, and overall.

        ``first_event`` counts until the first event that is not ``response.created`` /
        ``queued`` / ``in_progress`` (servers send those at once, then stall); ``idle`` is
        the longest gap between two events (the first one included: from now to the first
        event); ``deadline`` an absolute ``time.monotonic()``. Called again, the stricter of
        each limit wins. A healthy stream that keeps sending is never cut by ``idle``. Returns
        this stream.
        """
        if first_event is not None:
            current = self._first_event
            self._first_event = first_event if current is None else min(first_event, current)
        if idle is not None:
            self._idle = idle if self._idle is None else min(idle, self._idle)
        if deadline is not None:
            self._deadline = deadline if self._deadline is None else min(deadline, self._deadline)
        self._limited = self._first_event is not None or self._idle is not None or self._deadline is not None
        return self

    async def prime(self) -> None:
        """Pull events until a content event (or the end) is buffered, raising any failure.

        Used by retry and failover as their commit point: while priming, nothing has reached the
        consumer, so a failure (including an ``error`` or ``response.failed`` event before any
        content) raises here with ``events_delivered == 0`` and can still be retried invisibly.
        """
        if self._ended:
            return
        while not self._content_seen and not self._exhausted and self._pending is None:
            await self._fill()
        for index, event in enumerate(self._buffer):
            if event.type not in _LIFECYCLE:
                if event.type == "error" or event.type == "response.failed":
                    del self._buffer[index]
                    self._fail(event)
                return
        if self._pending is not None or self._exhausted:
            self._raise_end()

    def snapshot(self) -> Response | None:
        """The response so far: the final one after a terminal event, else a partial one."""
        return self._acc.snapshot()

    @property
    def accumulator(self) -> Accumulator:
        """The accumulator fed with every event received (it also counts the output deltas)."""
        return self._acc

    @property
    def ended(self) -> bool:
        """Whether the stream has ended (terminal event, error or close)."""
        return self._ended

    # -- iteration ------------------------------------------------------------------------------

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> StreamEvent:
        buffer = self._buffer
        while not buffer:
            if self._ended:
                if self._pending is not None:  # a failure met while batching (next_batch)
                    pending, self._pending = self._pending, None
                    raise pending
                raise StopAsyncIteration
            if self._pending is not None or self._exhausted:
                self._raise_end()
            if self._limited:
                await self._fill()
                continue
            # _fill without limits, inlined: one coroutine less per network chunk.
            try:
                batch = await self._source.__anext__()
            except StopAsyncIteration:
                self._exhausted = True
                continue
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except BaseException as exc:
                self._pending = exc
                self._exhausted = True
                continue
            if self._take(batch):
                await self._close_source()  # release the connection now, not at [DONE]
        event = buffer.popleft()
        etype = event.type
        if etype in _SPECIAL:
            if self._before_terminal and etype in _SUCCESS:
                try:
                    await self._run_before_terminal(event)
                except BaseException:
                    buffer.appendleft(event)  # cancelled: the terminal is still to be delivered
                    raise
            return self._deliver(event)
        # The hot path (deltas), inlined: count, notify taps, hand over.
        self.delivered += 1
        if self._tapped:
            callbacks = self._on_delta if etype in _DELTAS else self._on_event
            if callbacks:  # taps with deltas=False cost this check per delta, no call
                for callback in callbacks:
                    try:
                        callback(event)
                    except Exception:
                        logger.exception("stream tap %r failed", callback)
        return event

    async def next_batch(self) -> list[StreamEvent]:
        """Deliver every event already received (waiting for at least one); ``[]`` at the end.

        For bridges that move events in batches (the sync client): one hop, many events.
        """
        buffer = self._buffer
        while not buffer:  # as in __anext__
            if self._ended:
                if self._pending is not None:
                    pending, self._pending = self._pending, None
                    raise pending
                return []
            if self._pending is not None or self._exhausted:
                self._raise_end()
            await self._fill()
        if self._before_terminal and not self._failing and buffer[-1].type in _SUCCESS:
            await self._run_before_terminal(buffer[-1])  # a terminal can only be last
        if not self._tapped and not self._failing:
            # Nothing to do event by event: hand the buffer over (a terminal can only be last).
            batch = list(buffer)
            buffer.clear()
            self.delivered += len(batch)
            if batch[-1].type in _TERMINAL:
                self._finish(None, abandoned=False)
            return batch
        batch = []
        try:
            while buffer and not self._ended:
                event = buffer.popleft()
                etype = event.type
                if etype in _SPECIAL:
                    batch.append(self._deliver(event))
                    continue
                # As in __anext__, inlined: this moves every event of a wrapped stream.
                self.delivered += 1
                if self._tapped:
                    self._notify(event, etype)
                batch.append(event)
        except Exception as exc:
            if not batch:
                raise
            # Deliver what we have; the error surfaces on the next call.
            self._pending = exc
        return batch

    async def aclose(self) -> None:
        """Stop reading and release the connection. Idempotent; ends taps as abandoned."""
        if not self._ended:
            self._finish(None, abandoned=True)
        await self._close_source()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # A dropped stream still ends its spans. Its source, if an async generator, is garbage
        # too and asyncio's finalizer hook schedules that generator's own aclose(): from now on
        # this stream must not close it as well (see _close_source).
        self._dropped = True
        if not self._ended:
            with contextlib.suppress(Exception):  # interpreter shutdown
                self._finish(None, abandoned=True)

    def __repr__(self) -> str:
        state = "ended" if self._ended else "open"
        return f"<EventStream provider={self.provider!r} {state} delivered={self.delivered}>"

    # -- internals ------------------------------------------------------------------------------

    def _deliver(self, event: StreamEvent) -> StreamEvent:
        etype = event.type
        if etype == "error" or etype == "response.failed":
            self._fail(event)
        self.delivered += 1
        if self._tapped:
            self._notify(event, etype)
        if etype in _TERMINAL:
            self._finish(None, abandoned=False)
        return event

    def _notify(self, event: StreamEvent, etype: str) -> None:
        for callback in self._on_delta if etype in _DELTAS else self._on_event:
            try:
                callback(event)
            except Exception:
                logger.exception("stream tap %r failed", callback)


async def committed(reply: R) -> R:
    """``reply`` once it is committed: a stream is primed to its first content event.

    The commit point of Retry, Timeout, CircuitBreaker and Failover (pydantic-ai's rule): until
    it, nothing reached the consumer and a failure can be retried or failed over invisibly. A
    stream whose priming fails is closed before the error propagates. Other replies pass as is.
    """
    if isinstance(reply, EventStream):
        try:
            await reply.prime()
        except BaseException:
            await reply.aclose()
            raise
    return reply
