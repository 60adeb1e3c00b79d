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
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from ._accumulate import DELTA_TYPES, Accumulator
from ._errors import (
    APITimeoutError,
    OpenResponsesError,
    ProtocolError,
    ResponseFailedError,
    StreamError,
    StreamInterrupted,
)
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

# What _fill looks at: lifecycle events (not content), terminals (the end), errors (a failure).
_WATCHED = _LIFECYCLE | _TERMINAL | {"error"}
# Events whose delivery does more than count and notify: failures raise, terminals end the stream.
_SPECIAL = frozenset({"error", "response.failed"}) | _TERMINAL
_DELTAS = DELTA_TYPES
# The events that carry a whole ``response`` (what patch_responses rewrites).
_RESPONSES = _LIFECYCLE | _TERMINAL
# The successful ends (what before_terminal hooks wait for).
_SUCCESS = _TERMINAL - {"response.failed"}


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


OnEvent = Callable[[StreamEvent], None]
OnEnd = Callable[[StreamEnd], None]
BeforeTerminal = Callable[[StreamEvent, "EventStream"], Awaitable[None]]
Source = AsyncIterator[Sequence[StreamEvent]]
R = TypeVar("R")


class EventStream:
    """An async iterator of typed events over a source of event batches.

    ``source`` yields lists of events (one list per network chunk, so a sync bridge or a
    transform can move many events per hop). Build one over your own async generator to
    transform a stream; close what you wrap in ``finally``. ``release`` (a transport's) runs once
    when the stream is closed, after the source: it gives the connection back even when the
    stream is closed before its first read.
    """

    __slots__ = (
        "__weakref__",
        "_acc",
        "_before_terminal",
        "_buffer",
        "_content_seen",
        "_deadline",
        "_dropped",
        "_ended",
        "_exhausted",
        "_failing",
        "_feeds",
        "_fired",
        "_first_event",
        "_idle",
        "_limited",
        "_on_delta",
        "_on_end",
        "_on_event",
        "_patch",
        "_pending",
        "_pull_at",
        "_pull_base",
        "_pull_task",
        "_release",
        "_source",
        "_tapped",
        "_watch",
        "_watch_at",
        "_watch_cb",
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

    def patch_responses(self, patch: Callable[[StreamEvent], StreamEvent]) -> EventStream:
        """Replace every lifecycle and terminal event (the ones carrying ``response``) by
        ``patch(event)`` as it is received, before the accumulator and any tap see it. Returns
        this stream.

        For a layer that rewrites what the caller's copy of the response says (``Stateful``:
        ``previous_response_id``, ``store``) without wrapping the stream in another one (a
        generator hop, a batch copy and a second accumulation per network chunk). Events
        already buffered are patched too, and event taps would see the patched events, so it
        needs a stream that is ``patchable``: ``RuntimeError`` otherwise (wrap the stream then).
        ``on_end`` taps get the patched response in ``StreamEnd.response``. Patches installed
        one after another apply in that order.
        """
        if not self.patchable:
            raise RuntimeError(
                "patch_responses: only before the first event is delivered, before any event tap, on a "
                "stream that is not mirroring another (wrap the stream instead)"
            )
        previous = self._patch
        if previous is not None:
            first = previous

            def patch_both(event: StreamEvent) -> StreamEvent:
                return patch(first(event))

            self._patch = patch_both
        else:
            self._patch = patch
        buffer = self._buffer
        for position, event in enumerate(buffer):
            if event.type in _RESPONSES:
                patched = buffer[position] = patch(event)
                # The accumulator took the original: a response event only sets what the
                # response is (its base or its final state), so feeding the patched one replaces it.
                self._acc.feed(patched)
        return self

    @property
    def patchable(self) -> bool:
        """Whether ``patch_responses`` may be called: nothing delivered yet, no event tap
        installed (it would see the patched events instead of the upstream's), and the stream
        feeds its own accumulator (not ``mirroring``)."""
        return not self.delivered and not self._tapped and self._feeds and not self._ended

    def before_terminal(self, hook: BeforeTerminal) -> EventStream:
        """``await hook(event, stream)`` before a successful end is handed over. Returns this stream.

        Runs once, when the consumer reaches ``response.completed`` or ``response.incomplete``,
        before any tap sees it and before the stream ends; never for a failure or for a stream
        that is cut, closed or dropped before its end. ``stream.snapshot()`` is then the final
        response. For a layer that must finish something first: ``Stateful`` writes the
        response to its store, so that once a caller has seen ``completed`` any process sharing
        the store can continue the chain. Errors are logged and swallowed, as for taps;
        cancellation propagates (the terminal event stays undelivered).
        """
        self._before_terminal.append(hook)
        return self

    async def _run_before_terminal(self, event: StreamEvent) -> None:
        hooks, self._before_terminal = self._before_terminal, []
        for hook in hooks:
            try:
                await hook(event, self)
            except Exception:
                logger.exception("before_terminal hook %r failed", hook)

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

    def mirror(self, inner: EventStream) -> EventStream:
        """Share ``inner``'s accumulator instead of feeding one. Returns this stream.

        For a wrapper whose source yields ``inner.next_batch()`` batches unchanged (Failover
        before any recovery): each event is accumulated once and batches need no scan.
        :meth:`own_accumulator` ends it, before the source yields anything else.
        """
        self._acc = inner._acc
        self._feeds = False
        return self

    @property
    def mirroring(self) -> bool:
        """Whether this stream's accumulator is fed by the stream it mirrors."""
        return not self._feeds

    def own_accumulator(self) -> None:
        """Feed the (shared) accumulator from now on: the stream it mirrored has ended."""
        self._feeds = True

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

    async def _fill(self) -> None:
        """Receive one batch from the source into the buffer, or record why there is none."""
        try:
            if self._limited:
                batch = await self._next_source_batch()
            else:
                batch = await self._source.__anext__()  # no limits: skip a coroutine hop
        except StopAsyncIteration:
            self._exhausted = True
            return
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except BaseException as exc:
            self._pending = exc
            self._exhausted = True
            return
        if self._take(batch):
            await self._close_source()  # release the connection now, not at [DONE]

    def _take(self, batch: Sequence[StreamEvent]) -> bool:
        """Accumulate and buffer a received batch, up to its terminal event; True at the end."""
        if not self._feeds and self._content_seen and batch:
            # Mirroring (mirror()): these are the wrapped stream's delivered batches, already fed
            # to the shared accumulator, where failures never appear and a terminal is last.
            self._buffer.extend(batch)
            if batch[-1].type in _TERMINAL:
                self._exhausted = True
                return True
            return False
        feed = self._acc.feed if self._feeds else None
        append = self._buffer.append
        patch = self._patch
        for event in batch:
            if patch is not None and event.type in _RESPONSES:
                event = patch(event)
            if feed is not None:
                try:
                    feed(event)
                except ProtocolError as exc:
                    # The accumulator refused the event (a hostile index): deliver the good
                    # events before it, then raise with the partial response.
                    self._pending = exc
                    self._exhausted = True
                    return True
            append(event)
            etype = event.type
            if etype in _WATCHED:
                if etype == "error":
                    self._failing = self._content_seen = True
                    continue
                if etype in _TERMINAL:
                    if etype == "response.failed":
                        self._failing = True
                    self._content_seen = True
                    self._exhausted = True
                    return True
            elif not self._content_seen:
                self._content_seen = True
        return False

    async def _next_source_batch(self) -> Sequence[StreamEvent]:
        """One pull from the source under the limits (``limit()``).

        Why not ``asyncio.timeout`` per pull: that schedules and cancels a timer per network
        chunk (a heap push, a cancelled handle, a context manager: several µs per chunk on a
        proxy's hot path). Here one timer (``_watch``) stands for the whole stream: a pull only
        records when it must end (``_pull_at``) and arms the timer if none is due before that.
        When the timer fires it cancels the pulling task if that pull is overdue, else re-arms
        itself for the current pull's end (the idle limit moves on with every chunk). A pull that
        is cancelled this way raises ``APITimeoutError`` naming the limit, as before; a cancel
        from elsewhere propagates (``cancelling()`` counts, as ``asyncio.timeout`` does).
        """
        now = time.monotonic()
        when = which = None
        limit = -1.0
        if self._first_event is not None and not self._content_seen:
            when, which, limit = now + self._first_event, "first_event", self._first_event
        if self._idle is not None and (when is None or now + self._idle < when):
            when, which, limit = now + self._idle, "idle", self._idle
        if self._deadline is not None and (when is None or self._deadline < when):
            when, which, limit = self._deadline, "total", -1.0
        if when is None:
            return await self._source.__anext__()
        loop = asyncio.get_running_loop()
        expiry = loop.time() + (when - now)
        task = asyncio.current_task()
        assert task is not None
        watch = self._watch
        if watch is None or self._watch_at > expiry:
            if watch is not None:
                watch.cancel()
            if self._watch_cb is None:
                self._watch_cb = functools.partial(_watch_fired, weakref.ref(self))
            self._watch = loop.call_at(expiry, self._watch_cb)
            self._watch_at = expiry
        self._pull_at = expiry
        self._pull_base = task.cancelling()
        self._pull_task = task
        try:
            return await self._source.__anext__()
        except asyncio.CancelledError:
            if not self._fired:
                raise
            self._fired = False
            if task.uncancel() > self._pull_base:
                raise  # cancelled from elsewhere too: that cancel wins
            timed_out = True
        except TimeoutError as exc:
            if isinstance(exc, OpenResponsesError):
                raise
            timed_out = True  # a plain TimeoutError from the source is reported as this limit
        finally:
            self._pull_task = None
            if self._fired:  # fired as the pull ended some other way: take the cancel back
                self._fired = False
                task.uncancel()
        assert timed_out
        await self._close_source()
        raise APITimeoutError(
            which,  # type: ignore[arg-type]
            limit if limit >= 0 else None,
            provider=self.provider,
        ) from None

    def _on_watch(self) -> None:
        """The stream's timer fired: cancel an overdue pull, or wait for the current one's end."""
        self._watch = None
        task = self._pull_task
        if task is None:
            return  # no pull in progress: the next one arms the timer again
        if self._pull_at > self._watch_at:
            # Armed for an earlier pull; this one may run until its own end.
            self._watch = asyncio.get_running_loop().call_at(self._pull_at, self._watch_cb)  # type: ignore[arg-type]
            self._watch_at = self._pull_at
            return
        if not task.done() and not self._fired:
            self._fired = True
            task.cancel()

    def _stop_watch(self) -> None:
        watch = self._watch
        if watch is not None:
            self._watch = None
            watch.cancel()

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


def _watch_fired(ref: weakref.ref[EventStream]) -> None:
    # Through a weak reference: a pending timer must not keep a dropped stream (and its spans)
    # alive until the limit runs out.
    stream = ref()
    if stream is not None:
        stream._on_watch()


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


class AsyncResponseStream:
    """What ``client.responses.stream()`` and ``create(stream=True)`` return.

    Iterate it for typed events; ``get_final_response()`` reads to the end and returns the
    assembled ``Response``. Use it as an async context manager so the connection is released
    even if you stop early::

        async with client.responses.stream(model="m", input="Hi") as stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    print(event.delta, end="")
            final = await stream.get_final_response()
    """

    __slots__ = ("_stream",)

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    @property
    def events(self) -> EventStream:
        """The underlying middleware-level stream."""
        return self._stream

    @property
    def provider(self) -> str | None:
        """The provider serving this stream."""
        return self._stream.provider

    @property
    def response(self) -> Response | None:
        """The response so far (partial until the stream ends)."""
        return self._stream.snapshot()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._stream

    async def __anext__(self) -> StreamEvent:
        return await self._stream.__anext__()

    async def until_done(self) -> AsyncResponseStream:
        """Read the rest of the stream, discarding events."""
        async for _ in self._stream:
            pass
        return self

    async def get_final_response(self) -> Response:
        """Read to the end; return the final ``Response`` (raises if the stream failed)."""
        await self.until_done()
        final = self._stream.accumulator.final
        if final is None:  # pragma: no cover - the stream raises before this
            raise ProtocolError("The stream ended without a final response.")
        response = self._stream.snapshot()
        assert response is not None
        return _stamp(response, self._stream.provider)

    async def close(self) -> None:
        """Release the connection."""
        await self._stream.aclose()

    async def __aenter__(self) -> AsyncResponseStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stream.aclose()

    def __repr__(self) -> str:
        return f"<AsyncResponseStream {self._stream!r}>"


def _stamp(response: Response, provider: str | None) -> Response:
    """Record which provider served a response (``response.provider``)."""
    if provider is not None:
        response._provider = provider
    return response
