"""Every use of pybreaker's private API, in one place (pybreaker 1.x).

pybreaker's public way to run a call is ``breaker.call(func)``: it holds the breaker's lock for
the whole call and counts the result. An async call cannot be held under a threading lock, and a
stream is judged at its commit point, long after it was admitted, so ``CircuitBreaker`` drives
pybreaker in steps instead: admit (public API: ``state``, ``half_open()``), then record the
verdict through the three private hooks below, which are what ``call()`` itself uses.

Redis keys follow ``CircuitRedisStorage``'s layout (``{namespace}:pybreaker:{key}``) so that
breakers of other processes (and older releases of this library) share the same state.

tests/middleware/test_pybreaker_compat.py pins each of these; a pybreaker release that changes
one fails there with a message naming it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pybreaker

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["exclusive", "record_failure", "record_success", "redis_key"]


def exclusive(breaker: pybreaker.CircuitBreaker) -> AbstractContextManager[bool]:
    """pybreaker's own lock (``CircuitBreaker._lock``, an ``RLock``), held by ``call()`` itself.

    Taking it keeps a step atomic against anyone driving the same pybreaker object directly.
    """
    lock: threading.RLock = breaker._lock
    return lock


def record_success(breaker: pybreaker.CircuitBreaker) -> None:
    """Count a success in the current state (``CircuitBreakerState._handle_success``).

    Resets the failure counter, lets a half-open breaker close after ``success_threshold``
    successes, and notifies the listeners; exactly what ``call()`` does after ``func`` returns.
    """
    breaker.state._handle_success()


def record_failure(breaker: pybreaker.CircuitBreaker, exc: BaseException) -> None:
    """Count ``exc`` in the current state (``CircuitBreakerState._handle_error(exc, reraise=False)``).

    pybreaker applies its exclusions (an excluded error counts as a success), notifies the
    listeners and may trip the breaker. On a trip it raises ``exc`` itself (or
    ``CircuitBreakerError`` with ``throw_new_error_on_trip``): swallowed here, since the caller
    re-raises the error it already holds; ``exc``'s traceback is left as it was. Any other error
    (a listener's bug) propagates.
    """
    traceback = exc.__traceback__
    try:
        breaker.state._handle_error(exc, reraise=False)
    except pybreaker.CircuitBreakerError:
        pass
    except BaseException as raised:
        if raised is not exc:
            raise
    finally:
        exc.__traceback__ = traceback


def redis_key(namespace: str, key: str) -> str:
    """The Redis key ``CircuitRedisStorage`` uses for ``key`` (``state``, ``fail_counter``, ...)."""
    return f"{namespace}:{pybreaker.CircuitRedisStorage.BASE_NAMESPACE}:{key}"
