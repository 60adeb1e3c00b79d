"""The receiving side of an :class:`~openresponses._streaming.EventStream`: source pulls, limits.

``_fill`` receives one batch from the stream's source into its buffer and ``_take`` accumulates
and scans it (up to its terminal event). Under ``limit()`` each pull goes through
``_next_source_batch``, where one timer per stream stands for the first-event, idle and total
deadlines (why not ``asyncio.timeout`` per pull: see there). A base class of ``EventStream``,
which holds this state in the slots declared here; the per-chunk paths stay free of extra calls.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import APITimeoutError, OpenResponsesError, ProtocolError
from .types import StreamEvent
from .types.events import LIFECYCLE_EVENT_TYPES as _LIFECYCLE
from .types.events import TERMINAL_EVENT_TYPES as _TERMINAL

if TYPE_CHECKING:
    from ._accumulate import Accumulator

__all__: list[str] = []

# What _fill looks at: lifecycle events (not content), terminals (the end), errors (a failure).
_WATCHED = _LIFECYCLE | _TERMINAL | {"error"}
# The events that carry a whole ``response`` (what patch_responses rewrites).
_RESPONSES = _LIFECYCLE | _TERMINAL


class _StreamSource:
    """``EventStream``'s receiving state and steps (see the module docstring)."""

    __slots__ = (
        "_acc",
        "_buffer",
        "_content_seen",
        "_deadline",
        "_exhausted",
        "_failing",
        "_feeds",
        "_fired",
        "_first_event",
        "_idle",
        "_limited",
        "_patch",
        "_pending",
        "_pull_at",
        "_pull_base",
        "_pull_task",
        "_source",
        "_watch",
        "_watch_at",
        "_watch_cb",
    )

    # Set by EventStream.__init__ (documented there).
    _acc: Accumulator
    _buffer: deque[StreamEvent]
    _content_seen: bool
    _deadline: float | None
    _exhausted: bool
    _failing: bool
    _feeds: bool
    _fired: bool
    _first_event: float | None
    _idle: float | None
    _limited: bool
    _patch: Callable[[StreamEvent], StreamEvent] | None
    _pending: BaseException | None
    _pull_at: float
    _pull_base: int
    _pull_task: asyncio.Task[Any] | None
    _source: AsyncIterator[Sequence[StreamEvent]]
    _watch: asyncio.TimerHandle | None
    _watch_at: float
    _watch_cb: Callable[[], None] | None

    if TYPE_CHECKING:
        # Provided by EventStream and its other base.
        provider: str | None

        async def _close_source(self) -> None: ...

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
        task = asyncio.current_task(loop)  # given the loop: one getpid() system call, not two
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


def _watch_fired(ref: weakref.ref[_StreamSource]) -> None:
    # Through a weak reference: a pending timer must not keep a dropped stream (and its spans)
    # alive until the limit runs out.
    stream = ref()
    if stream is not None:
        stream._on_watch()
