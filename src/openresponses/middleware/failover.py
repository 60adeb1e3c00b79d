"""``Failover``: ordered providers, hedging and first-token deadlines (choosing a provider).

``Failover([Provider(...), ...])`` is an endpoint, a :class:`~openresponses.Handler`: each
provider carries its own transport and middleware, and a ``Failover`` can stand wherever a
``Provider`` can, so chains nest: ``Failover([Failover([eu1, eu2], name="eu"), us])``. A call
goes to the first member; on a failure worth it (the failover column of ``_policy.decide``:
connection errors, timeouts, 408/409/429/5xx, an open breaker, ``error`` / ``response.failed`` /
malformed streams before the first delivered event, a context-window 400, a nested Failover
that gave up) it goes to the next one; a client error (400/401/403/404/422) or a content-policy
refusal is surfaced at once. When every member failed, :class:`~openresponses.AllProvidersFailed`
lists each attempt and why.

Beyond the anchors: ``first_token_timeout`` fails over when no content event arrived in time,
``hedge_after`` races the next provider against a slow one, and ``midstream`` recovers a stream
that broke after events reached the caller (``restart`` or ``continue``: ``_recovery``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from .._decisions import FailedOver, HedgeStarted, HedgeWon, TimedOut
from .._errors import AllProvidersFailed, APITimeoutError, OpenResponsesError
from .._pipeline import Endpoint, Reply, Request
from .._provider import Provider
from .._streaming import EventStream, _stamp, committed
from ..types import Response
from ._policy import decide, reason_of
from ._recovery import CONTINUED_EVENT, RECOVERY_FIELD, RESTARTED_EVENT, Recovery

__all__ = ["CONTINUED_EVENT", "RECOVERY_FIELD", "RESTARTED_EVENT", "Failover", "Member", "should_failover"]

logger = logging.getLogger("openresponses")

Midstream = Literal["raise", "restart", "continue"]


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
    content event, counted from the start of its attempt; when it fires the next provider is
    tried at once. ``hedge_after`` starts the next provider when the current one has produced
    no first content event in that time; the first to produce one wins and the others are
    cancelled and closed. ``midstream`` says what to do when a stream breaks after events were
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
        first_token_timeout: float | None = None,
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
        for label, value in (("first_token_timeout", first_token_timeout), ("hedge_after", hedge_after)):
            if value is not None and value <= 0:
                raise ValueError(f"{label} must be > 0 seconds, got {value!r}")
        self.first_token_timeout = first_token_timeout
        self.hedge_after = hedge_after
        self.midstream: Midstream = midstream
        self.failover_on = failover_on or should_failover
        self._name = name or "+".join(names)

    @property
    def name(self) -> str:
        """This chain's name, as a member of an enclosing Failover."""
        return self._name

    def __repr__(self) -> str:
        return (
            f"Failover({[p.name for p in self.providers]}, name={self._name!r}, "
            f"first_token_timeout={self.first_token_timeout}, "
            f"hedge_after={self.hedge_after}, midstream={self.midstream!r})"
        )

    async def aclose(self) -> None:
        """Close every provider's transport and middleware."""
        for provider in self.providers:
            await provider.aclose()

    # -- one attempt on one provider ------------------------------------------------------------

    async def _attempt(self, provider: Member, request: Request) -> Reply:
        """Call one member; a stream is returned only once committed (content buffered)."""
        limit = self.first_token_timeout if request.stream else None
        try:
            if limit is None:
                return await committed(await provider(request))
            scope: asyncio.Timeout | None = None
            try:
                async with asyncio.timeout(limit) as scope:
                    return await committed(await provider(request))
            except TimeoutError:
                if scope is None or not scope.expired():
                    raise
                request.context.record(TimedOut("first_event", limit))
                raise APITimeoutError("first_event", limit, provider=provider.name) from None
        except BaseException as exc:
            _tag(exc, provider.name)
            raise

    # -- choosing a provider --------------------------------------------------------------------

    async def open_from(self, request: Request, start: int, errors: list[Exception]) -> tuple[Reply, int]:
        """The first committed reply from ``providers[start:]`` and its index (failures go to ``errors``).

        ``request`` is already marked ``within_failover`` (see ``__call__``).
        """
        if self.hedge_after is not None and len(self.providers) - start > 1:
            return await self._open_hedged(request, start, errors)
        for index in range(start, len(self.providers)):
            provider = self.providers[index]
            try:
                reply = await self._attempt(provider, request)
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

    async def _open_hedged(self, request: Request, start: int, errors: list[Exception]) -> tuple[Reply, int]:
        assert self.hedge_after is not None
        providers = self.providers
        running: dict[asyncio.Task[Reply], int] = {}
        following = start
        hedged = False

        def launch() -> None:
            nonlocal following
            task = asyncio.create_task(self._attempt(providers[following], request))
            running[task] = following
            following += 1

        launch()
        try:
            while running:
                wait = self.hedge_after if following < len(providers) else None
                done, _ = await asyncio.wait(running, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if not done:  # the current attempts are slow: race the next provider
                    hedged = True
                    request.context.record(HedgeStarted(providers[following].name, self.hedge_after))
                    launch()
                    continue
                winner: tuple[Reply, int] | None = None
                for task in sorted(done, key=running.__getitem__):
                    index = running.pop(task)
                    if task.cancelled():
                        continue
                    exc = task.exception()
                    if exc is None:
                        if winner is None:
                            winner = (task.result(), index)
                        else:
                            await _discard(task.result())
                        continue
                    if not isinstance(exc, Exception):
                        raise exc
                    self._failed(request, exc, index, errors)
                if winner is not None:
                    if hedged:
                        request.context.record(HedgeWon(providers[winner[1]].name))
                    return winner
                if not running and following < len(providers):
                    launch()  # failed outright: no need to wait for the hedge timer
            raise self._all_failed(errors)
        finally:
            for task in running:
                task.cancel()
            for task in running:
                try:
                    reply = await task
                except BaseException:
                    continue
                await _discard(reply)

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
        reply, index = await self.open_from(request, 0, errors)
        name = self.served_by(index, reply)
        request.context.provider = name
        if isinstance(reply, Response):
            return _stamp(reply, name)
        if not isinstance(reply, EventStream):
            return reply
        reply.provider = name
        if self.midstream == "raise" or index + 1 >= len(self.providers):
            return reply
        recovery = Recovery(self, request, reply, index)
        # Until a recovery, the caller's stream passes the provider's events on unchanged:
        # accumulate them once, in the provider stream's accumulator (see Recovery.recover).
        outer = EventStream(recovery.run(), provider=name).mirror(reply)
        recovery.outer = outer
        return outer


async def _discard(reply: Reply) -> None:
    if isinstance(reply, EventStream):
        await reply.aclose()
