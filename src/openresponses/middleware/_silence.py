"""Silence limits: ``Timeout(idle=...)`` bounds every wait on an upstream, wherever it stands.

An idle limit is about one upstream being silent: no response headers, no first event, no next
event. Bounding the Timeout's own ``call_next`` would be wrong whenever layers below it wait on
several upstreams in turn: with ``[Retry, Timeout(idle=30)]`` over a ``Failover``, a silent
primary would use up the limit before the Failover could move on, and with ``[Timeout(idle=30),
Retry]`` a backoff wait (nobody is silent) would count. So the limit travels down the call in
a context variable and is enforced per attempt by the *innermost* layer that makes attempts
(``Failover`` per member, ``Retry`` per try, else the ``Timeout`` itself), through
:func:`attempt`:

- the wait for the attempt's reply (the response headers) is bounded by ``idle`` (when
  ``Silence.before_first``: the Timeout has no ``first_event``, which governs that wait
  instead);
- the innermost layer's stream is limited (``EventStream.limit(idle=...)``), so every gap,
  the first event included, is bounded too.

A layer that enforces the limit and finds that an inner layer enforces it as well (the inner
one's :func:`attempt` *delegates* the outer one's watch) lifts its own bound: the inner layer
bounds each of its attempts instead, and applies the stream limit to its own upstream's stream.
The watch is matched by call (``CallContext``), so a stream iterated inside another call's
attempt never lifts that call's bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

from .._decisions import TimedOut
from .._errors import APITimeoutError
from .._pipeline import CallContext, Reply, Request
from .._streaming import EventStream, committed

__all__ = ["Silence", "attempt", "current"]


@dataclass(frozen=True, slots=True)
class Silence:
    """The longest silence allowed from an upstream (``idle`` seconds).

    ``before_first``: whether ``idle`` also bounds the wait for the reply (headers) and the
    first content event; false when a ``Timeout.first_event`` governs that wait.
    """

    idle: float
    before_first: bool = True

    def within(self, outer: Silence | None) -> Silence:
        """This limit under an enclosing one: the stricter of the two, field by field."""
        if outer is None:
            return self
        return Silence(min(self.idle, outer.idle), self.before_first or outer.before_first)


_LIMIT: ContextVar[Silence | None] = ContextVar("openresponses_silence", default=None)
_WATCH: ContextVar[_Watch | None] = ContextVar("openresponses_silence_watch", default=None)


def current() -> Silence | None:
    """The silence limit of the enclosing ``Timeout``, if any (for layers that make attempts)."""
    return _LIMIT.get()


class _Watch:
    """One enforcing layer's bound on the wait for its attempt's reply."""

    __slots__ = ("context", "delegated", "scope")

    def __init__(self, context: CallContext) -> None:
        self.context = context
        self.delegated = False
        self.scope: asyncio.Timeout | None = None

    def delegate(self) -> None:
        """An inner layer enforces the limit per attempt from now on: lift this bound."""
        self.delegated = True
        if self.scope is not None:
            self.scope.reschedule(None)


async def attempt(
    open_reply: Callable[[], Awaitable[Reply]],
    request: Request,
    silence: Silence | None,
    *,
    commit: bool,
    provider: str | None = None,
) -> Reply:
    """One attempt under ``silence``: ``open_reply()`` bounded, its stream limited, committed.

    ``commit`` primes a stream to its first content event (``committed``) before returning.
    Without a limit this is just ``open_reply()`` (and the commit).
    """
    if silence is None:
        reply = await open_reply()
        return await committed(reply) if commit else reply
    context = request.context
    parent = _WATCH.get()
    if parent is not None and parent.context is context:
        parent.delegate()
    watch = _Watch(context)
    watch_token = _WATCH.set(watch)
    limit_token = _LIMIT.set(silence)
    bound = silence.idle if silence.before_first else None
    try:
        try:
            async with asyncio.timeout(bound) as scope:
                watch.scope = scope
                reply = await open_reply()
        except TimeoutError:
            if not scope.expired():
                raise  # an inner layer's timeout (e.g. the transport's): not ours
            context.record(TimedOut("idle", silence.idle))
            raise APITimeoutError("idle", silence.idle, provider=provider) from None
    finally:
        _LIMIT.reset(limit_token)
        _WATCH.reset(watch_token)
    if watch.delegated or not isinstance(reply, EventStream):
        # A non-stream reply has no gaps; a delegated layer's stream is limited further in.
        return await committed(reply) if commit else reply
    if silence.before_first:
        reply.limit(idle=silence.idle)
        return await committed(reply) if commit else reply
    if commit:
        reply = await committed(reply)
    # The first content event is the Timeout's first_event's business; every gap after it ours.
    reply.limit(idle=silence.idle)
    return reply
