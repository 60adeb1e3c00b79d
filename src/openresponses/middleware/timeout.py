"""``Timeout``: a total deadline, a time-to-first-token deadline and an idle limit.

Each is optional and each raises :class:`~openresponses.APITimeoutError` naming the limit that
fired (``which`` is ``total``, ``first_event`` or ``idle``). ``first_event`` counts until the
first *content* event (a delta or an item), not ``response.created``: servers send the lifecycle
events at once and then stall. ``idle`` bounds every silence of an upstream on a streaming call:
the wait for the response headers, for the first event and between two events, so a provider
that accepts the connection and never answers is given up after ``idle``, while a healthy long
stream that keeps sending is never cut by it. It is enforced per upstream attempt (see
``_silence``), so above a ``Retry`` or a ``Failover`` it does not count backoff waits, and a
silent provider is failed over from rather than failing the whole call.
"""

from __future__ import annotations

import asyncio
import time

from .._decisions import TimedOut
from .._errors import APITimeoutError, StreamInterrupted
from .._pipeline import Handler, Reply, Request
from .._streaming import EventStream, StreamEnd
from ._silence import Silence, attempt, current

__all__ = ["Timeout"]


class Timeout:
    """Middleware: bound a call in time.

    - non-streaming call: ``total`` and ``non_stream`` (whichever is sooner) bound the whole
      call, reported as ``which="total"`` (``first_event`` and ``idle`` do not apply: there are
      no events, and a long answer is legitimately silent until it is complete; without either
      only the transport's read timeout bounds it, 600 s by default);
    - streaming call: obtaining the stream *and its first content event* is bounded by
      ``first_event`` and ``total`` (whichever is sooner; the stream is primed here, so the
      error is a clean ``APITimeoutError``), then the stream is limited to ``total`` overall;
    - ``idle`` (streaming): every silence of each upstream attempt: the wait for its headers,
      its first event and every gap between events. When ``first_event`` is set, it governs
      the wait until the first content event instead and ``idle`` bounds the gaps after it.
      Enforced by the innermost layer making attempts (a ``Failover`` per member, a ``Retry``
      per try, else this Timeout), so a silent provider fails over and backoff waits do not
      count. Before the first content event the error is ``APITimeoutError(which="idle")``
      (below a ``Failover`` it fails over at once, without a retry on the same provider),
      after it a ``StreamInterrupted`` caused by it.

    It also sets ``request.context.deadline`` for inner layers while the reply is obtained
    (the sooner of ``total`` and, for a stream, ``first_event``, or for a whole reply,
    ``non_stream``): Retry will not start a wait that cannot finish in time, so the caller gets
    the upstream's last error rather than a timeout fired during the wait. Place it innermost
    (in ``Provider(middleware=[...])``) for per-attempt limits, outermost for a deadline on the
    whole call including retries and failover. Fires are reported as
    ``request.context.record(TimedOut(which, limit_s))``.

    ::

        Provider("a", base_url=url, middleware=[Timeout(first_event=5, idle=30)])
    """

    __slots__ = ("first_event", "idle", "non_stream", "total")

    def __init__(
        self,
        total: float | None = None,
        *,
        first_event: float | None = None,
        idle: float | None = None,
        non_stream: float | None = None,
    ) -> None:
        limits = (("total", total), ("first_event", first_event), ("idle", idle), ("non_stream", non_stream))
        for name, value in limits:
            if value is not None and value <= 0:
                raise ValueError(f"Timeout.{name} must be > 0 seconds, got {value!r}")
        self.total = total
        self.first_event = first_event
        self.idle = idle
        self.non_stream = non_stream

    def __repr__(self) -> str:
        return (
            f"Timeout(total={self.total}, first_event={self.first_event}, idle={self.idle}, "
            f"non_stream={self.non_stream})"
        )

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        context = request.context
        start = time.monotonic()
        deadline = None if self.total is None else start + self.total
        previous = context.deadline
        # How long obtaining the reply may take, and which limit that is.
        which, limit = "total", self.total
        if request.stream and self.first_event is not None and (limit is None or self.first_event < limit):
            which, limit = "first_event", self.first_event
        elif (
            not request.stream and self.non_stream is not None and (limit is None or self.non_stream < limit)
        ):
            limit = self.non_stream  # reported as "total": the whole call, as it is for this call
        # While the reply is obtained, inner layers see that limit's deadline: a Retry then does
        # not start a wait it cannot finish, and the caller gets the upstream's error (a 503 with
        # its Retry-After) rather than this layer's timeout fired in the middle of the wait.
        obtain = None if limit is None else start + limit
        if obtain is not None and (previous is None or obtain < previous):
            context.deadline = obtain
        # idle bounds every silence of an upstream; the innermost layer making attempts enforces
        # it per attempt (the wait for headers included): see _silence.
        silence = None
        if request.stream and self.idle is not None:
            silence = Silence(self.idle, before_first=self.first_event is None).within(current())
        # With first_event, commit here so a slow first token is a clean APITimeoutError, not a
        # StreamInterrupted after the lifecycle events were delivered.
        commit = request.stream and self.first_event is not None
        bound = None if limit is None else _Bound(limit)
        try:
            reply = await attempt(lambda: call_next(request), request, silence, commit=commit)
        except BaseException as exc:
            if bound is None or not bound.close(exc):
                raise  # not this layer's limit (an inner timeout, idle, a cancel from elsewhere)
            context.record(TimedOut(which, limit or 0.0))
            raise APITimeoutError(which, limit, provider=context.provider) from None  # type: ignore[arg-type]
        else:
            if bound is not None:
                bound.close(None)
        finally:
            context.deadline = previous
        if not isinstance(reply, EventStream):
            return reply
        reply.limit(deadline=deadline)  # idle was applied to the innermost upstream's stream
        return reply.tap(on_end=lambda end: _record_fire(request, end))


class _Bound:
    """``asyncio.timeout(limit)`` around one ``await``, as a plain object: one timer that cancels
    the task, and :meth:`close`, which says whether the exception leaving the block is this
    limit's. The same rules as ``asyncio.timeout`` (a cancel asked for by someone else too
    stays a cancel; the task's cancel count is restored), without its two coroutine frames
    and state machine on every call: every non-streamed call through the proxy has one.
    """

    __slots__ = ("_cancelling", "_handle", "_task", "expired")

    def __init__(self, limit: float) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)  # given the loop: one getpid() system call, not two
        if task is None:
            raise RuntimeError("Timeout should be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self.expired = False
        self._handle: asyncio.TimerHandle | None = loop.call_at(loop.time() + limit, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.expired = True
        self._task.cancel()

    def close(self, exc: BaseException | None) -> bool:
        """End the limit; whether ``exc`` (what left the block, or ``None``) is its expiry."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self.expired:
            return False
        # Fired: take back our cancel. A CancelledError is ours unless someone else also asked
        # (asyncio.timeout's rule); a TimeoutError raised inside as it fired is reported as ours.
        ours = self._task.uncancel() <= self._cancelling and isinstance(exc, asyncio.CancelledError)
        return ours or isinstance(exc, TimeoutError)


def _record_fire(request: Request, end: StreamEnd) -> None:
    error = end.error
    if isinstance(error, StreamInterrupted):
        error = error.__cause__
    if isinstance(error, APITimeoutError) and error.which in ("first_event", "idle", "total"):
        request.context.record(TimedOut(error.which, error.limit or 0.0))
