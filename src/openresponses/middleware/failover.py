"""``Failover``: ordered providers, hedging and first-token deadlines (choosing a provider).

``Failover([Provider(...), ...])`` is an endpoint, a :class:`~openresponses.Handler`: each
provider carries its own transport and middleware, and a ``Failover`` can stand wherever a
``Provider`` can, so chains nest: ``Failover([Failover([eu1, eu2], name="eu"), us])``. A call
goes to the first member; on a failure worth it (the failover column of ``_policy.decide``:
connection errors, timeouts, 408/409/429/498/5xx, an open breaker, ``error`` / ``response.failed`` /
malformed streams before the first delivered event, a context-window 400, a nested Failover
that gave up) it goes to the next one; a client error (400/401/403/404/422) or a content-policy
refusal is surfaced at once. When every member failed, :class:`~openresponses.AllProvidersFailed`
lists each attempt and why.

Beyond the anchors: ``first_token_timeout`` fails over when no content event arrived in time
(60 s by default, on every member that has a provider after it), ``hedge_after`` races the next
provider against a slow one, and ``midstream`` recovers a stream that broke after events reached
the caller (``restart`` or ``continue``: ``_recovery``). An enclosing ``Timeout(idle=...)`` is
enforced per member attempt (``_silence``): a silent member is failed over from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from enum import Enum
from typing import Any, Final, Literal, Protocol, TypeAlias, runtime_checkable

from .._decisions import FailedOver, HedgeStarted, HedgeWon, TimedOut
from .._errors import AllProvidersFailed, APITimeoutError, OpenResponsesError
from .._pipeline import Endpoint, Reply, Request
from .._provider import Provider
from .._streaming import EventStream, _stamp
from ..types import Response
from ._policy import decide, reason_of
from ._recovery import CONTINUED_EVENT, RECOVERY_FIELD, RESTARTED_EVENT, Recovery
from ._silence import Silence, current
from ._silence import attempt as silent_attempt

__all__ = [
    "CONTINUED_EVENT",
    "DEFAULT_FIRST_TOKEN_TIMEOUT",
    "RECOVERY_FIELD",
    "RESTARTED_EVENT",
    "Failover",
    "Member",
    "should_failover",
]

logger = logging.getLogger("openresponses")

Midstream = Literal["raise", "restart", "continue"]

#: Seconds ``Failover`` waits for a member's first content event when ``first_token_timeout``
#: is not given, on every member with a provider after it (see the class docstring).
DEFAULT_FIRST_TOKEN_TIMEOUT: Final = 60.0


class _Default(Enum):
    """The type of ``Failover(first_token_timeout=...)``'s default: 60 s where it can fail over."""

    DEFAULT = "default"

    def __repr__(self) -> str:
        return f"default ({DEFAULT_FIRST_TOKEN_TIMEOUT:g}s where a provider follows)"


# True while a Failover calls a member that has a provider after it, in this Failover or an
# enclosing one: a nested chain's last member can still be failed over from.
_FALLBACK_FOLLOWS: ContextVar[bool] = ContextVar("openresponses_fallback_follows", default=False)


@runtime_checkable
class Member(Protocol):
    """What a Failover chains: a ``Provider`` or another ``Failover`` (anything named, callable
    with a request, and closeable)."""

    @property
    def name(self) -> str: ...

    async def __call__(self, request: Request, /) -> Reply: ...

    async def aclose(self) -> None: ...


Members: TypeAlias = "Sequence[Provider | Failover | Member]"


def should_failover(exc: BaseException) -> bool:
    """The default ``failover_on``: the failover column of ``_policy.decide`` (the one rule)."""
    return decide(exc).failover


def _tag(exc: BaseException, provider: str) -> None:
    if isinstance(exc, OpenResponsesError) and exc.provider is None:
        exc.provider = provider


class Failover(Endpoint):
    """An endpoint trying ``providers`` in order (each a ``Provider`` or a nested ``Failover``).

    ``first_token_timeout`` (seconds, streams only) bounds the wait for a provider's first
    content event, counted from the start of its attempt (headers included); when it fires the
    next provider is tried at once. By default it is :data:`DEFAULT_FIRST_TOKEN_TIMEOUT` (60 s)
    on every provider that has another one after it (in this chain or an enclosing one), so a
    silent primary fails over with no configuration, and unbounded on the last one (nothing to
    fail over to: a slow answer beats an error; bound it with ``Timeout``). A number applies to
    every member, a nested chain as a whole included; ``None`` disables it. An enclosing
    ``Timeout(idle=...)`` is enforced on each attempt as well (a silent member is failed over
    from after ``idle``). ``hedge_after`` starts the next provider when the current one has
    produced no first content event in that time; the first to produce one wins and the others
    are cancelled and closed. ``midstream`` says what to do when a stream breaks after events were
    delivered: ``raise`` (``StreamInterrupted`` with the partial response), ``restart`` (next
    provider, from scratch, after a ``openresponses:stream.restarted`` event) or ``continue``
    (next provider continues the partial text; falls back to ``restart`` when a function call,
    reasoning or other non-text item was in progress). ``failover_on(exc) -> bool`` replaces
    :func:`should_failover`. ``name`` names this chain when it is a member of another one
    (default: its members' names joined with ``+``).

    ::

        client = AsyncClient(
            middleware=[Retry(RetryPolicy(attempts=2))],
            endpoint=Failover(
                [Failover([Provider("eu1", base_url=eu1), Provider("eu2", base_url=eu2)], name="eu"),
                 Provider("us", base_url=us_url, middleware=[CircuitBreaker()])],
                first_token_timeout=10, hedge_after=3, midstream="restart",
            ),
        )

    ``AsyncClient(middleware=[..., Failover([...])])`` (Failover last in the list) means the same.
    """

    def __init__(
        self,
        providers: Members,
        *,
        name: str | None = None,
        first_token_timeout: float | _Default | None = _Default.DEFAULT,
        hedge_after: float | None = None,
        midstream: Midstream = "raise",
        failover_on: Callable[[BaseException], bool] | None = None,
    ) -> None:
        self.providers: tuple[Member, ...] = tuple(providers)
        if not self.providers:
            raise ValueError("Failover needs at least one Provider")
        for member in self.providers:
            if not isinstance(member, Member):
                raise TypeError(
                    f"Failover members must be Provider or Failover instances, got {type(member).__name__}"
                )
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ValueError(f"Failover provider names must be unique, got {names}")
        if midstream not in ("raise", "restart", "continue"):
            raise ValueError(f"midstream must be 'raise', 'restart' or 'continue', not {midstream!r}")
        explicit = None if first_token_timeout is _Default.DEFAULT else first_token_timeout
        for label, value in (("first_token_timeout", explicit), ("hedge_after", hedge_after)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TypeError(f"{label} must be a number of seconds or None, got {value!r}")
            if value is not None and not value > 0:
                raise ValueError(f"{label} must be > 0 seconds, got {value!r}")
        #: The first-token limit in seconds (the default's value when not given), or ``None``.
        self.first_token_timeout: float | None = (
            DEFAULT_FIRST_TOKEN_TIMEOUT if first_token_timeout is _Default.DEFAULT else explicit
        )
        self._first_token_default = first_token_timeout is _Default.DEFAULT
        self.hedge_after = hedge_after
        self.midstream: Midstream = midstream
        self.failover_on = failover_on or should_failover
        self._name = name or "+".join(names)

    @property
    def name(self) -> str:
        """This chain's name, as a member of an enclosing Failover."""
        return self._name

    def __repr__(self) -> str:
        default = " (default)" if self._first_token_default else ""
        return (
            f"Failover({[p.name for p in self.providers]}, name={self._name!r}, "
            f"first_token_timeout={self.first_token_timeout}{default}, "
            f"hedge_after={self.hedge_after}, midstream={self.midstream!r})"
        )

    async def aclose(self) -> None:
        """Close every provider's transport and middleware."""
        for provider in self.providers:
            await provider.aclose()

    # -- one attempt on one provider ------------------------------------------------------------

    def _first_token_limit(self, index: int, follows: bool) -> float | None:
        """The first-token limit of member ``index``'s attempt (``follows``: a provider after it)."""
        if not self._first_token_default:
            return self.first_token_timeout
        if not follows or isinstance(self.providers[index], Failover):
            return None  # nothing to fail over to; a nested chain bounds its own members
        return self.first_token_timeout

    async def _attempt(self, index: int, request: Request, silence: Silence | None) -> Reply:
        """Call member ``index``; a stream is returned only once committed (content buffered).

        ``silence`` is the enclosing ``Timeout``'s idle limit, enforced on this attempt.
        """
        provider = self.providers[index]
        follows = index + 1 < len(self.providers) or _FALLBACK_FOLLOWS.get()
        limit = self._first_token_limit(index, follows) if request.stream else None
        token = _FALLBACK_FOLLOWS.set(follows)
        try:
            if limit is None:
                return await silent_attempt(
                    lambda: provider(request), request, silence, commit=True, provider=provider.name
                )
            scope: asyncio.Timeout | None = None
            try:
                async with asyncio.timeout(limit) as scope:
                    return await silent_attempt(
                        lambda: provider(request), request, silence, commit=True, provider=provider.name
                    )
            except TimeoutError:
                if scope is None or not scope.expired():
                    raise
                request.context.record(TimedOut("first_event", limit))
                raise APITimeoutError("first_event", limit, provider=provider.name) from None
        except BaseException as exc:
            _tag(exc, provider.name)
            raise
        finally:
            _FALLBACK_FOLLOWS.reset(token)

    # -- choosing a provider --------------------------------------------------------------------

    async def open_from(
        self, request: Request, start: int, errors: list[Exception], *, silence: Silence | None = None
    ) -> tuple[Reply, int]:
        """The first committed reply from ``providers[start:]`` and its index (failures go to ``errors``).

        ``request`` is already marked ``within_failover`` (see ``__call__``); ``silence`` is the
        idle limit of the ``Timeout`` around the call, enforced on every attempt.
        """
        if self.hedge_after is not None and len(self.providers) - start > 1:
            return await self._open_hedged(request, start, errors, silence)
        for index in range(start, len(self.providers)):
            try:
                reply = await self._attempt(index, request, silence)
            except Exception as exc:
                self._failed(request, exc, index, errors)
                continue
            return reply, index
        raise self._all_failed(errors)

    def _failed(self, request: Request, exc: Exception, index: int, errors: list[Exception]) -> None:
        """Record a failed attempt; re-raise it when it must be surfaced."""
        errors.append(exc)
        provider = self.providers[index].name
        if not self.failover_on(exc):
            if len(errors) > 1:
                exc.add_note(
                    "openresponses.Failover: earlier attempts: "
                    + "; ".join(
                        f"[{getattr(e, 'provider', None) or '?'}] {type(e).__name__}" for e in errors[:-1]
                    )
                )
            exc.add_note(f"openresponses.Failover: not failed over ({reason_of(exc)}).")
            raise exc
        following = self.providers[index + 1].name if index + 1 < len(self.providers) else ""
        request.context.record(FailedOver(provider, following, reason_of(exc)))

    def _all_failed(self, errors: list[Exception]) -> AllProvidersFailed:
        names = ", ".join(dict.fromkeys(getattr(e, "provider", None) or "?" for e in errors))
        return AllProvidersFailed(f"All providers failed ({len(errors)} attempts: {names})", errors)

    async def _open_hedged(
        self, request: Request, start: int, errors: list[Exception], silence: Silence | None
    ) -> tuple[Reply, int]:
        assert self.hedge_after is not None
        providers = self.providers
        running: dict[asyncio.Task[Reply], int] = {}
        following = start
        hedged = False

        def launch() -> None:
            nonlocal following
            task = asyncio.create_task(self._attempt(following, request, silence))
            running[task] = following
            following += 1

        launch()
        unclaimed: list[Reply] = []  # committed replies not handed out: closed on the way out
        handed: Reply | None = None  # the winner, closed too if the caller is cancelled meanwhile
        try:
            while running:
                wait = self.hedge_after if following < len(providers) else None
                done, _ = await asyncio.wait(running, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if not done:  # the current attempts are slow: race the next provider
                    hedged = True
                    request.context.record(HedgeStarted(providers[following].name, self.hedge_after))
                    launch()
                    continue
                finished = sorted(((running.pop(task), task) for task in done), key=lambda pair: pair[0])
                winner: tuple[Reply, int] | None = None
                for index, task in finished:
                    if task.cancelled():
                        continue
                    exc = task.exception()
                    if exc is None:
                        unclaimed.append(task.result())
                        if winner is None:
                            winner = (task.result(), index)
                    elif winner is None:  # a later provider's failure next to a winner is moot
                        if not isinstance(exc, Exception):
                            raise exc
                        self._failed(request, exc, index, errors)
                if winner is not None:
                    unclaimed.remove(winner[0])
                    handed = winner[0]
                    if hedged:
                        request.context.record(HedgeWon(providers[winner[1]].name))
                    return winner
                if not running and following < len(providers):
                    launch()  # failed outright: no need to wait for the hedge timer
            raise self._all_failed(errors)
        finally:
            if running or unclaimed:
                await _reap(list(running), unclaimed, handed)

    # -- the call -------------------------------------------------------------------------------

    def served_by(self, index: int, reply: Reply) -> str:
        """The name to report for a reply of member ``index``: a provider's own name, or the
        leaf provider a nested Failover reported."""
        member = self.providers[index]
        if isinstance(member, Failover):
            served = reply.provider if isinstance(reply, Response | EventStream) else None
            return served or member.name
        return member.name

    async def __call__(self, request: Request, /) -> Reply:
        request = request.replace(within_failover=True)
        errors: list[Exception] = []
        silence = current()  # captured: a mid-stream recovery runs after the Timeout returned
        reply, index = await self.open_from(request, 0, errors, silence=silence)
        name = self.served_by(index, reply)
        request.context.provider = name
        if isinstance(reply, Response):
            return _stamp(reply, name)
        if not isinstance(reply, EventStream):
            return reply
        reply.provider = name
        if self.midstream == "raise" or index + 1 >= len(self.providers):
            return reply
        recovery = Recovery(self, request, reply, index, silence)
        # Until a recovery, the caller's stream passes the provider's events on unchanged:
        # accumulate them once, in the provider stream's accumulator (see Recovery.recover).
        outer = EventStream(recovery.run(), provider=name).mirror(reply)
        recovery.outer = outer
        return outer


async def _discard(reply: Reply) -> None:
    if isinstance(reply, EventStream):
        await reply.aclose()


async def _reap(tasks: list[asyncio.Task[Reply]], replies: list[Reply], handed: Reply | None) -> None:
    """Cancel the losing attempts, wait for them to end and close what they (and ``replies``,
    committed replies not handed out) produced.

    As ``asyncio.TaskGroup`` does, a cancellation of the caller meanwhile (a second one, or the
    first while a winner is being returned) is held until the attempts have ended, then raised,
    after closing ``handed`` (the winner: nobody will read it): otherwise an attempt could
    outlive the call with its connection open, or its exception go unretrieved.
    """
    for task in tasks:
        task.cancel()
    cancelled = await _settle(tasks)
    for task in tasks:
        if not task.cancelled() and task.exception() is None:  # exception(): retrieved, not logged
            replies.append(task.result())
    cancelled = await _close(replies) or cancelled
    if cancelled:
        if handed is not None:
            await _close([handed])
        raise asyncio.CancelledError


async def _close(replies: list[Reply]) -> bool:
    """Close ``replies`` (streams); whether the caller was cancelled meanwhile."""
    if not replies:
        return False
    closing = [asyncio.ensure_future(_discard(reply)) for reply in replies]
    cancelled = await _settle(closing)
    for closed in closing:
        if not closed.cancelled() and closed.exception() is not None:
            logger.debug("closing a losing hedged stream failed", exc_info=closed.exception())
    return cancelled


async def _settle(tasks: Sequence[asyncio.Future[Any]]) -> bool:
    """Wait until every task is done; whether the caller was cancelled meanwhile."""
    cancelled = False
    pending = set(tasks)
    while pending:
        try:
            _, pending = await asyncio.wait(pending)
        except asyncio.CancelledError:
            cancelled = True
            pending = {task for task in pending if not task.done()}
    return cancelled
