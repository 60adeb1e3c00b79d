"""Decisions shared by Retry, Failover and CircuitBreaker: what is transient, how long to wait,
and how many retries the client may afford.

Everything here is sans-I/O: pure functions over errors, and a thread-safe :class:`RetryBudget`
(no ``await`` inside its lock, so the sync client's background loop and any thread can share one).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from typing import Literal

from .._errors import (
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
    "Jitter",
    "RetryBudget",
    "backoff_delay",
    "error_code",
    "is_client_error",
    "is_content_policy",
    "is_context_length",
    "is_transient",
    "reason_of",
]

#: Statuses retried (and failed over) by default: timeouts, rate limits, server faults.
DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
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
    """A 4xx other than 408/429: the request is wrong, the provider is healthy."""
    return (
        isinstance(exc, APIStatusError) and 400 <= exc.status_code < 500 and exc.status_code not in (408, 429)
    )


def is_transient(exc: BaseException, statuses: Iterable[int] = DEFAULT_RETRY_STATUSES) -> bool:
    """Whether repeating the same call may succeed, before anything reached the caller.

    Connection errors and timeouts, the given statuses (an explicit ``x-should-retry`` header
    wins), and ``error`` / ``response.failed`` / malformed streams that broke before the first
    delivered event. Never a stream that already delivered events, a content-policy refusal,
    a context-window overflow, or an open circuit (failing fast is its purpose).
    """
    if isinstance(exc, StreamInterrupted):
        return False
    if is_content_policy(exc) or is_context_length(exc):
        return False
    if isinstance(exc, APIStatusError):
        forced = exc.headers.get("x-should-retry")
        if forced in ("true", "false"):
            return forced == "true"
        return exc.status_code in statuses
    if isinstance(exc, APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, StreamError | ProtocolError):
        return exc.events_delivered == 0 and exc.retryable
    if isinstance(exc, AllProvidersFailed):
        return any(is_transient(inner, statuses) for inner in exc.exceptions)
    if isinstance(exc, RejectedError):
        return False
    return False


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
