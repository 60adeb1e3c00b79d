"""Pins the pybreaker internals ``_pybreaker_compat`` relies on: a pybreaker release that changes
one fails here, with a message naming what changed and where we use it."""

from __future__ import annotations

import inspect
import threading
from typing import Any

import pybreaker
import pytest

from openresponses.middleware._pybreaker_compat import exclusive, record_failure, record_success, redis_key

_WHERE = "update openresponses/middleware/_pybreaker_compat.py"


class Boom(Exception):
    pass


class Listener(pybreaker.CircuitBreakerListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.calls: list[str] = []

    def failure(self, cb: Any, exc: BaseException) -> None:
        self.calls.append("failure")

    def success(self, cb: Any) -> None:
        self.calls.append("success")

    def state_change(self, cb: Any, old: Any, new: Any) -> None:
        self.calls.append(f"{getattr(old, 'name', None)}->{new.name}")


def make(**options: Any) -> tuple[pybreaker.CircuitBreaker, Listener]:
    listener = Listener()
    breaker = pybreaker.CircuitBreaker(listeners=[listener], throw_new_error_on_trip=False, **options)
    return breaker, listener


def test_the_breaker_lock_is_a_reentrant_lock_call_itself_holds() -> None:
    breaker, _ = make()
    assert hasattr(breaker, "_lock"), f"pybreaker.CircuitBreaker has no _lock any more: {_WHERE} (exclusive)"
    lock = exclusive(breaker)
    assert isinstance(lock, type(threading.RLock())), f"CircuitBreaker._lock is no longer an RLock: {_WHERE}"
    with lock, lock:  # reentrant: pybreaker's own open()/half_open() take it again inside our step
        breaker.open()
    breaker.close()
    taken_elsewhere: list[bool] = []

    def guarded() -> None:
        other = threading.Thread(target=lambda: taken_elsewhere.append(lock.acquire(blocking=False)))
        other.start()
        other.join()

    breaker.call(guarded)
    assert taken_elsewhere == [False], f"CircuitBreaker.call() no longer holds CircuitBreaker._lock: {_WHERE}"


@pytest.mark.parametrize("state", [pybreaker.CircuitClosedState, pybreaker.CircuitHalfOpenState])
def test_the_state_hooks_keep_their_signatures(state: type) -> None:
    for name in ("_handle_success", "_handle_error"):
        assert callable(getattr(state, name, None)), f"pybreaker {state.__name__}.{name} is gone: {_WHERE}"
    params = list(inspect.signature(state._handle_error).parameters)
    assert params[:3] == ["self", "exc", "reraise"], (
        f"pybreaker CircuitBreakerState._handle_error(exc, reraise) changed to {params}: {_WHERE}"
    )
    assert list(inspect.signature(state._handle_success).parameters) == ["self"], (
        f"pybreaker CircuitBreakerState._handle_success() changed: {_WHERE}"
    )


def test_failures_count_trip_and_keep_the_callers_traceback() -> None:
    breaker, listener = make(fail_max=2)
    try:
        raise Boom("upstream")
    except Boom as caught:
        exc = caught
    traceback = exc.__traceback__
    record_failure(breaker, exc)
    assert breaker.fail_counter == 1, f"_handle_error no longer counts a failure: {_WHERE}"
    assert breaker.current_state == "closed"
    record_failure(breaker, exc)  # the trip: pybreaker raises exc itself; swallowed
    assert breaker.current_state == "open", f"_handle_error no longer trips at fail_max: {_WHERE}"
    assert exc.__traceback__ is traceback
    assert listener.calls == ["failure", "failure", "closed->open"]


def test_the_trip_is_swallowed_with_throw_new_error_on_trip_too() -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=1, throw_new_error_on_trip=True)
    record_failure(breaker, Boom())
    assert breaker.current_state == "open"


def test_a_success_resets_the_counter_and_closes_a_half_open_breaker() -> None:
    breaker, listener = make(fail_max=3, success_threshold=2)
    record_failure(breaker, Boom())
    record_success(breaker)
    assert breaker.fail_counter == 0, f"_handle_success no longer resets the failure counter: {_WHERE}"
    breaker.half_open()
    record_success(breaker)
    assert breaker.current_state == "half-open"
    record_success(breaker)
    assert breaker.current_state == "closed", (
        f"_handle_success no longer closes after success_threshold: {_WHERE}"
    )
    assert listener.calls.count("success") == 3


def test_a_half_open_failure_reopens() -> None:
    breaker, _ = make(fail_max=5)
    breaker.half_open()
    record_failure(breaker, Boom())
    assert breaker.current_state == "open"


def test_exclusions_count_as_successes() -> None:
    breaker, listener = make(fail_max=1, exclude=[lambda exc: isinstance(exc, Boom)])
    record_failure(breaker, RuntimeError())
    breaker.close()
    record_failure(breaker, Boom())
    assert breaker.current_state == "closed", f"pybreaker exclusions changed meaning: {_WHERE}"
    assert listener.calls[-1] == "success"


def test_a_listener_bug_is_not_swallowed() -> None:
    class Broken(pybreaker.CircuitBreakerListener):  # type: ignore[misc]
        def failure(self, cb: Any, exc: BaseException) -> None:
            raise KeyError("listener bug")

    breaker = pybreaker.CircuitBreaker(listeners=[Broken()])
    with pytest.raises(KeyError):
        record_failure(breaker, Boom())


def test_redis_keys_follow_circuit_redis_storage() -> None:
    class NoRedis:  # CircuitRedisStorage's constructor only SETNXes its keys
        def setnx(self, key: str, value: object) -> None:
            pass

    storage = pybreaker.CircuitRedisStorage("closed", NoRedis(), namespace="openresponses:p")
    for key in ("state", "fail_counter", "success_counter", "opened_at"):
        assert redis_key("openresponses:p", key) == storage._namespace(key), (
            f"pybreaker's CircuitRedisStorage key layout changed for {key!r}: {_WHERE} (redis_key)"
        )
