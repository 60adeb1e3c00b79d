"""Decisions shared by Retry, Failover and CircuitBreaker: what is worth repeating or moving on
from, how long to wait, and how many retries the client may afford.

:func:`decide` is the one retryability rule: it answers (retry this provider?, fail over to the
next?) for any error, and Retry, Failover and the breaker read its verdict. docs/resilience.md
prints the table it implements; tests/middleware/test_policy_table.py checks every row.
:func:`reached_upstream` and :func:`provider_fault` are the breaker's rule: which failures say
anything about a provider's health, and which of those count against it.

Everything here is sans-I/O: pure functions over errors, and a thread-safe :class:`RetryBudget`
(no ``await`` inside its lock, so the sync client's background loop and any thread can share one).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .._errors import (
    BUSY_STATUSES,
    RETRY_STATUSES,
    AllProvidersFailed,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    CircuitOpenError,
    ProtocolError,
    RejectedError,
    ResponseFailedError,
    StreamError,
    StreamInterrupted,
)
from ._clock import Clock, SystemClock

__all__ = [
    "CONTENT_POLICY_CODES",
    "CONTEXT_LENGTH_CODES",
    "DEFAULT_RETRY_STATUSES",
    "FAILOVER_STATUSES",
    "Jitter",
    "RetryBudget",
    "Verdict",
    "backoff_delay",
    "decide",
    "error_code",
    "is_client_error",
    "is_content_policy",
    "is_context_length",
    "is_transient",
    "not_a_provider_fault",
    "provider_fault",
    "reached_upstream",
    "reason_of",
]

#: Statuses retried by default: 408, 409, 429, 498 and 5xx but 501 / 505 (see ``_errors.RETRY_STATUSES``).
DEFAULT_RETRY_STATUSES: frozenset[int] = RETRY_STATUSES
#: Statuses failed over from besides every 5xx: another provider may well answer these.
FAILOVER_STATUSES: frozenset[int] = frozenset({409} | BUSY_STATUSES)
#: Spec error codes meaning "this prompt is too long for this model".
CONTEXT_LENGTH_CODES: frozenset[str] = frozenset({"context_length_exceeded", "string_above_max_length"})
#: Spec error codes meaning "the provider refused on content policy": surfaced at once.
CONTENT_POLICY_CODES: frozenset[str] = frozenset({"content_filter", "content_policy_violation"})

Jitter = Literal["full", "equal", "none"]


def error_code(exc: BaseException) -> str | None:
    """The spec error ``code`` carried by a status error or a failed stream, if any."""
    if isinstance(exc, APIStatusError | ResponseFailedError):
        return exc.code
    return None


def is_context_length(exc: BaseException) -> bool:
    """A request rejected because the prompt does not fit this model's context window."""
    if not isinstance(exc, APIStatusError | ResponseFailedError):
        return False
    if isinstance(exc, APIStatusError) and exc.status_code not in (400, 413, 422):
        return False
    code = exc.code
    if code is not None and code in CONTEXT_LENGTH_CODES:
        return True
    return "context_length_exceeded" in str(exc)


def is_content_policy(exc: BaseException) -> bool:
    """A refusal on content policy: no retry, no failover (unless configured)."""
    code = error_code(exc)
    return code is not None and code in CONTENT_POLICY_CODES


def is_client_error(exc: BaseException) -> bool:
    """A 4xx other than 408 / 429 / 498: the request is wrong, the provider is healthy."""
    return (
        isinstance(exc, APIStatusError)
        and 400 <= exc.status_code < 500
        and exc.status_code not in BUSY_STATUSES
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do about an error: repeat the call on the same provider, move on to the next."""

    retry: bool
    failover: bool
    reason: str
    """A low-cardinality label for telemetry (:func:`reason_of`)."""


def decide(exc: BaseException, statuses: Iterable[int] = DEFAULT_RETRY_STATUSES) -> Verdict:
    """The one retryability rule: ``(retry?, fail over?)`` for ``exc``. The table:

    ======================================================  =====  ========
    error                                                   retry  failover
    ======================================================  =====  ========
    content-policy refusal (code ``content_filter`` ...)    no     no
    context window exceeded (400/413/422 or failed event)   no     yes
    ``x-should-retry: true`` / ``false`` (any status)       y / n  yes / by status
    408, 409, 429, 498, 5xx except 501 / 505 (``statuses``) yes    yes
    501, 505                                                no     yes
    other 4xx (400, 401, 403, 404, 422, ...)                no     no
    connection error, timeout (connect, read, idle, ...)    yes    yes
    ``error`` / ``response.failed`` / malformed stream
    before any event reached the caller                     [1]    yes
    the same after events reached the caller                no     yes [2]
    ``StreamInterrupted``                                   no     yes [2]
    open circuit, any local rejection                       no     yes
    ``AllProvidersFailed`` (a nested Failover gave up)      [3]    yes
    anything else (a bug, a ``TypeError``, bad input)       no     no
    ======================================================  =====  ========

    [1] when the error says the server is at fault (``exc.retryable``: an ``error`` event of
    type ``server_error`` / ``model_error`` / ``too_many_requests``; any malformed stream).
    [2] mid-stream, only with ``Failover(midstream="restart" | "continue")``.
    [3] when any of its attempts is worth a retry. ``statuses`` replaces the retried statuses
    (``RetryPolicy.statuses``); the failover column does not depend on it.
    """
    reason = reason_of(exc)
    if is_content_policy(exc):
        return Verdict(False, False, reason)
    if is_context_length(exc):
        return Verdict(False, True, reason)
    if isinstance(exc, RejectedError):
        return Verdict(False, True, reason)
    if isinstance(exc, APIStatusError):
        status = exc.status_code
        failover = status in FAILOVER_STATUSES or status >= 500
        forced = exc.headers.get("x-should-retry")
        if forced in ("true", "false"):
            return Verdict(forced == "true", failover or forced == "true", reason)
        return Verdict(status in statuses, failover, reason)
    if isinstance(exc, APIConnectionError):  # includes APITimeoutError
        return Verdict(True, True, reason)
    if isinstance(exc, StreamInterrupted):
        return Verdict(False, True, reason)
    if isinstance(exc, StreamError | ProtocolError):
        return Verdict(exc.events_delivered == 0 and exc.retryable, True, reason)
    if isinstance(exc, AllProvidersFailed):
        return Verdict(any(decide(inner, statuses).retry for inner in exc.exceptions), True, reason)
    return Verdict(False, False, reason)


# Errors born of the upstream's reply, or of its absence: the only ones that say anything about
# the provider's health. Everything else was raised here, before or instead of the call.
_UPSTREAM_ERRORS = (APIConnectionError, APIStatusError, StreamError, ProtocolError)


def reached_upstream(exc: BaseException) -> bool:
    """Whether ``exc`` is a verdict on the provider at all (the breaker's rule: else the call
    counts neither way)."""
    if isinstance(exc, AllProvidersFailed):  # a nested Failover: judge by what its attempts met
        return any(reached_upstream(inner) for inner in exc.exceptions)
    return isinstance(exc, _UPSTREAM_ERRORS)


def provider_fault(exc: BaseException) -> bool:
    """An upstream failure a circuit breaker counts (pybreaker treats the rest as successes)."""
    if isinstance(exc, AllProvidersFailed):
        return any(provider_fault(inner) for inner in exc.exceptions)
    if not isinstance(exc, _UPSTREAM_ERRORS):
        return False
    if isinstance(exc, ResponseFailedError) and not exc.retryable:
        return False  # the provider reported a problem with the request (e.g. invalid_request)
    return not (is_client_error(exc) or is_content_policy(exc))


def not_a_provider_fault(exc: BaseException) -> bool:
    """``not provider_fault(exc)``: the breaker's exclusion predicate for pybreaker."""
    return not provider_fault(exc)


def is_transient(exc: BaseException, statuses: Iterable[int] = DEFAULT_RETRY_STATUSES) -> bool:
    """Whether repeating the same call may succeed: ``decide(exc, statuses).retry``."""
    return decide(exc, statuses).retry


def reason_of(exc: BaseException) -> str:
    """A short, low-cardinality label for telemetry: why an attempt failed."""
    if isinstance(exc, CircuitOpenError):
        return "circuit_open"
    if isinstance(exc, APITimeoutError):
        return f"timeout.{exc.which}"
    if isinstance(exc, StreamInterrupted):
        cause = exc.__cause__
        if isinstance(cause, APITimeoutError):
            return f"timeout.{cause.which}"
        return "interrupted"
    if is_context_length(exc):
        return "context_length_exceeded"
    if is_content_policy(exc):
        return "content_policy"
    if isinstance(exc, APIStatusError):
        return f"status_{exc.status_code}"
    if isinstance(exc, APIConnectionError):
        return "connection"
    if isinstance(exc, ResponseFailedError):
        return "response_failed"
    if isinstance(exc, ProtocolError):
        return "protocol"
    if isinstance(exc, AllProvidersFailed):
        return "all_providers_failed"
    return type(exc).__name__


def backoff_delay(
    retry: int,
    *,
    base: float,
    cap: float,
    jitter: Jitter = "full",
    rng: random.Random | None = None,
) -> float:
    """Seconds before retry number ``retry`` (1 for the first retry): capped exponential.

    ``full`` jitter draws uniformly from ``[0, min(cap, base * 2**(retry-1))]`` (AWS
    "Exponential Backoff And Jitter"), ``equal`` from its upper half, ``none`` is the ceiling.
    """
    ceiling = min(cap, base * math.pow(2.0, max(0, retry - 1)))
    if jitter == "none":
        return ceiling
    draw = (rng or random).random()
    if jitter == "equal":
        return ceiling / 2.0 + draw * ceiling / 2.0
    return draw * ceiling


class RetryBudget:
    """How many retries the client may make: ``ratio`` of recent requests plus a floor.

    Why: per-call retry limits multiply load during an outage (3 attempts = 3x traffic just when
    the provider is drowning). A budget shared by every call of a client (tower, Finagle) caps
    retries at ``ratio`` of the requests seen in the last ``window`` seconds, plus
    ``min_retries_per_second * window`` so a quiet client can still retry. Thread-safe and
    lock-light: each operation is O(1) on a ring of ten counters, with no ``await`` inside.

    ::

        budget = RetryBudget(ratio=0.2)            # share it across clients to share the limit
        client = AsyncClient(middleware=[Retry(RetryPolicy(budget=budget))], ...)
    """

    _SLOTS = 10

    def __init__(
        self,
        ratio: float = 0.2,
        *,
        min_retries_per_second: float = 1.0,
        window: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        if ratio < 0 or min_retries_per_second < 0:
            raise ValueError("ratio and min_retries_per_second must be >= 0")
        if window <= 0:
            raise ValueError("window must be > 0")
        self.ratio = ratio
        self.min_retries_per_second = min_retries_per_second
        self.window = window
        self._clock: Clock = clock or SystemClock()
        self._slot_width = window / self._SLOTS
        self._requests = [0] * self._SLOTS
        self._retries = [0] * self._SLOTS
        self._epoch = [-1] * self._SLOTS
        self._lock = threading.Lock()

    def _slot(self) -> int:
        # Caller holds the lock. A slot is reused once its epoch is a whole window old.
        epoch = int(self._clock.now() / self._slot_width)
        index = epoch % self._SLOTS
        if self._epoch[index] != epoch:
            self._epoch[index] = epoch
            self._requests[index] = 0
            self._retries[index] = 0
        return index

    def _live(self, counts: list[int]) -> int:
        oldest = int(self._clock.now() / self._slot_width) - self._SLOTS + 1
        return sum(c for c, e in zip(counts, self._epoch, strict=True) if e >= oldest)

    def deposit(self) -> None:
        """Count one new logical request (not a retry)."""
        with self._lock:
            self._requests[self._slot()] += 1

    def try_withdraw(self) -> bool:
        """Spend one retry if the budget allows it; ``False`` when exhausted."""
        with self._lock:
            index = self._slot()
            allowed = self.min_retries_per_second * self.window + self.ratio * self._live(self._requests)
            if self._live(self._retries) + 1 > allowed:
                return False
            self._retries[index] += 1
            return True

    @property
    def available(self) -> float:
        """Retries that could be made right now."""
        with self._lock:
            self._slot()
            allowed = self.min_retries_per_second * self.window + self.ratio * self._live(self._requests)
            return max(0.0, allowed - self._live(self._retries))

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio}, min_retries_per_second={self.min_retries_per_second}, "
            f"window={self.window})"
        )
