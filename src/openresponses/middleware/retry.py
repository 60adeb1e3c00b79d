"""``Retry``: repeat a failed call with capped, jittered exponential backoff, within a budget.

Retries connection errors, timeouts, 408/429/498/500/502/503/504 and streams that failed before
their first content event (``error`` / ``response.failed`` / malformed / reset); honours
``Retry-After`` / ``retry-after-ms`` (capped); never retries 400/401/403/404/422, content-policy
refusals or context-window overflows unless ``retry_on`` says so. A stream is returned only once
it is *committed* (``prime()``: a content event is buffered); a failure after that is the
consumer's (``StreamInterrupted`` with the partial response), never a silent replay. Below a
``Failover``, a first-token timeout (``first_event``, or ``idle`` before the commit) is left to
the Failover, which moves on at once. An enclosing ``Timeout(idle=...)`` bounds each try, never
the backoff waits (``_silence``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .._decisions import BudgetExhausted, Retried
from .._errors import APITimeoutError, InternalServerError, RateLimitError
from .._pipeline import Handler, Reply, Request
from ._clock import Clock, SystemClock
from ._policy import DEFAULT_RETRY_STATUSES, Jitter, RetryBudget, backoff_delay, is_transient
from ._silence import attempt as silent_attempt
from ._silence import current

__all__ = ["Retry", "RetryBudget", "RetryEvent", "RetryPolicy"]

logger = logging.getLogger("openresponses")


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """Passed to ``RetryPolicy.on_retry`` before each wait: which attempt comes next and why."""

    attempt: int
    """Number of the attempt about to start (2 for the first retry)."""
    wait: float
    """Seconds the retry waits first."""
    reason: str
    """``retry-after`` (the server's hint) or ``backoff``."""
    error: BaseException
    """The error that is being retried."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """What to retry and how long to wait: options, a predicate and an event (Polly's shape).

    ``attempts`` counts the first call too (3 = up to 2 retries). ``base_delay`` / ``max_delay``
    shape the exponential backoff; ``jitter`` is ``full`` (default), ``equal`` or ``none``.
    ``deadline`` bounds the whole retry loop (seconds from the first attempt): a wait that
    would cross it is not started. ``max_retry_after`` caps a server's ``Retry-After``.
    ``retry_on(exc) -> bool`` replaces the default decision (:meth:`transient`, the retry column
    of ``_policy.decide``, the library's one retryability rule); ``statuses``
    are the HTTP statuses the default retries. ``budget``: ``True`` (default) gives each
    ``Retry`` its own :class:`RetryBudget`, a ``RetryBudget`` instance shares one, ``False``
    disables budgeting. ``on_retry`` is called before every wait (must not raise).

    ::

        Retry(RetryPolicy(attempts=4, max_delay=4.0, retry_on=lambda e: RetryPolicy.transient(e)))
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float | None = None
    retry_on: Callable[[BaseException], bool] | None = None
    max_retry_after: float = 60.0
    jitter: Jitter = "full"
    statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    budget: RetryBudget | bool = True
    on_retry: Callable[[RetryEvent], None] | None = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays must be >= 0")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"RetryPolicy.jitter must be 'full', 'equal' or 'none', not {self.jitter!r}")
        if not isinstance(self.statuses, frozenset):
            object.__setattr__(self, "statuses", frozenset(self.statuses))

    @staticmethod
    def transient(exc: BaseException, statuses: Iterable[int] = DEFAULT_RETRY_STATUSES) -> bool:
        """The default decision: ``openresponses.middleware._policy.decide(exc, statuses).retry``."""
        return is_transient(exc, statuses)

    def should_retry(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt under this policy."""
        if self.retry_on is not None:
            return bool(self.retry_on(exc))
        return is_transient(exc, self.statuses)

    def delay(self, retry: int, exc: BaseException, rng: random.Random | None = None) -> tuple[float, str]:
        """Seconds to wait before retry number ``retry`` (1-based), and why."""
        hint = (
            getattr(exc, "retry_after", None)
            if isinstance(exc, RateLimitError | InternalServerError)
            else None
        )
        if hint is not None:
            return min(float(hint), self.max_retry_after), "retry-after"
        return backoff_delay(
            retry, base=self.base_delay, cap=self.max_delay, jitter=self.jitter, rng=rng
        ), "backoff"


class Retry:
    """Middleware: retry transient failures with backoff, within a retry budget.

    Re-raises the last error unchanged (with a note saying why retrying stopped), so
    ``except RateLimitError`` works whatever the stack order. Reports each decision through
    ``request.context.record(Retried(...))`` / ``BudgetExhausted(...)``.

    ::

        client = AsyncClient(base_url=url, middleware=[Retry(RetryPolicy(attempts=3))])
    """

    __slots__ = ("_budget", "_clock", "_rng", "policy")

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._clock: Clock = clock or SystemClock()
        self._rng = rng
        budget = self.policy.budget
        if budget is True:
            self._budget: RetryBudget | None = RetryBudget(clock=self._clock)
        elif budget is False:
            self._budget = None
        else:
            self._budget = budget

    @property
    def budget(self) -> RetryBudget | None:
        """The retry budget this middleware spends from (``None`` if disabled)."""
        return self._budget

    def __repr__(self) -> str:
        p = self.policy
        return f"Retry(attempts={p.attempts}, base_delay={p.base_delay}, max_delay={p.max_delay})"

    def _should_retry(self, exc: BaseException, request: Request) -> bool:
        # Below a Failover a time-to-first-token timeout fails over at once: waiting again on the
        # same slow provider is what the user wanted to avoid. The flag is scoped to the
        # requests Failover hands down, so a Retry above the Failover still retries.
        # An idle fire that reaches Retry came before the commit (after it, it is a
        # StreamInterrupted): the provider is silent before its first token, the same case.
        if (
            isinstance(exc, APITimeoutError)
            and exc.which in ("first_event", "idle")
            and request.within_failover
        ):
            return False
        return self.policy.should_retry(exc)

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        policy = self.policy
        clock = self._clock
        context = request.context
        budget = self._budget
        if budget is not None:
            budget.deposit()
        start = clock.now()
        silence = current()  # an enclosing Timeout's idle: bounds each try, not the backoff waits
        attempt = 1
        while True:
            try:
                # Retryable until committed.
                return await silent_attempt(lambda: call_next(request), request, silence, commit=True)
            except Exception as exc:
                if not self._should_retry(exc, request):
                    raise
                if attempt >= policy.attempts:
                    exc.add_note(f"openresponses.Retry: gave up after {attempt} attempt(s).")
                    raise
                wait, reason = policy.delay(attempt, exc, self._rng)
                if policy.deadline is not None and clock.now() - start + wait > policy.deadline:
                    exc.add_note(
                        f"openresponses.Retry: not retried: waiting {wait:.3g}s would pass the retry "
                        f"deadline of {policy.deadline:g}s (attempt {attempt})."
                    )
                    raise
                remaining = context.remaining()
                if remaining is not None and wait >= remaining:
                    exc.add_note(
                        f"openresponses.Retry: not retried: waiting {wait:.3g}s would pass the call's "
                        f"deadline ({max(remaining, 0.0):.3g}s left)."
                    )
                    raise
                if budget is not None and not budget.try_withdraw():
                    context.record(BudgetExhausted(type(exc).__name__))
                    exc.add_note(
                        f"openresponses.Retry: not retried: the retry budget is exhausted ({budget!r})."
                    )
                    raise
                attempt += 1
                context.record(Retried(attempt, wait, reason, type(exc).__name__))
                if policy.on_retry is not None:
                    try:
                        policy.on_retry(RetryEvent(attempt, wait, reason, exc))
                    except Exception:  # an event hook must never break the call
                        logger.exception("RetryPolicy.on_retry hook failed")
            # Sleep outside the except block so the next error does not chain to this one.
            await clock.sleep(wait)
