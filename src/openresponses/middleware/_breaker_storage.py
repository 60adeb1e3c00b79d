"""Breaker state that is shared through Redis while Redis answers, and local while it does not.

pybreaker's ``CircuitRedisStorage`` touches Redis in its constructor (a raw ``ConnectionError``
escapes when Redis is down) and then catches every later ``RedisError``, logs its traceback and
answers ``closed``: with Redis gone that is several ERROR tracebacks per call, each after a full
socket timeout, with every breaker step queued behind them. Here instead:

- :class:`RedisStorage` keeps pybreaker's key layout (processes using either share state) but
  raises, so a failure can be noticed;
- :class:`FallbackStorage` wraps any shared storage. The first failing operation switches it to
  a local in-memory storage (one WARNING per outage), seeded with the last shared state seen
  (an open breaker stays open for the rest of its cool-down) and fresh counters. While degraded,
  no operation touches Redis: every ``retry_after`` seconds one probe runs in the background
  (never under the breaker's lock, never on the event loop), and once it succeeds the shared
  state is used again (the shared value wins; Redis restarted empty means ``closed``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pybreaker

from ._pybreaker_compat import redis_key

__all__ = ["FallbackStorage", "RedisStorage", "redis_client"]

logger = logging.getLogger("openresponses")

T = TypeVar("T")


def redis_client(url: str, timeout: float) -> Any:
    """A Redis client for breaker state at ``url``: ``timeout`` seconds per socket operation and
    no retries, so a dead or hung Redis is noticed in one timeout, after which
    :class:`FallbackStorage` stops asking it (retrying is its job, in the background)."""
    import redis as redis_lib  # the caller checked the extra (``requires``)
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis_lib.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


# Set ``opened_at`` only if newer, in one round trip (CircuitRedisStorage does it with WATCH).
_SET_IF_GREATER = """
local current = tonumber(redis.call('GET', KEYS[1]))
if not current or tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
"""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker's Redis layout (``{namespace}:pybreaker:*``), raising ``RedisError`` on failure.

    Nothing is sent on construction: the keys are created (``SETNX``) the first time the state
    is read and found missing, as ``CircuitRedisStorage`` does after a Redis restart.
    """

    def __init__(self, client: Any, namespace: str) -> None:
        super().__init__("redis")
        self._client = client
        self._state_key = redis_key(namespace, "state")
        self._fail_key = redis_key(namespace, "fail_counter")
        self._success_key = redis_key(namespace, "success_counter")
        self._opened_key = redis_key(namespace, "opened_at")

    @property
    def state(self) -> str:
        raw = self._client.get(self._state_key)
        if raw is None:
            pipe = self._client.pipeline(transaction=False)
            pipe.setnx(self._fail_key, 0)
            pipe.setnx(self._success_key, 0)
            pipe.setnx(self._state_key, pybreaker.STATE_CLOSED)
            pipe.execute()
            return pybreaker.STATE_CLOSED
        return _text(raw)

    @state.setter
    def state(self, state: str) -> None:
        self._client.set(self._state_key, str(state))

    def increment_counter(self) -> None:
        self._client.incr(self._fail_key)

    def reset_counter(self) -> None:
        self._client.set(self._fail_key, 0)

    def increment_success_counter(self) -> None:
        self._client.incr(self._success_key)

    def reset_success_counter(self) -> None:
        self._client.set(self._success_key, 0)

    @property
    def counter(self) -> int:
        value = self._client.get(self._fail_key)
        return int(value) if value else 0

    @property
    def success_counter(self) -> int:
        value = self._client.get(self._success_key)
        return int(value) if value else 0

    @property
    def opened_at(self) -> datetime | None:
        value = self._client.get(self._opened_key)
        return datetime.fromtimestamp(int(value), UTC) if value else None

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        # Whole UTC seconds, as CircuitRedisStorage stores them.
        self._client.eval(_SET_IF_GREATER, 1, self._opened_key, int(now.timestamp()))


class FallbackStorage(pybreaker.CircuitBreakerStorage):
    """``shared`` while it works; a local in-memory storage while it does not (see the module).

    ``submit`` runs the background probe (the breaker's own executor); ``clock`` is monotonic.
    """

    def __init__(
        self,
        shared: pybreaker.CircuitBreakerStorage,
        *,
        breaker_name: str,
        retry_after: float,
        submit: Callable[[Callable[[], None]], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(shared.name)
        self._shared = shared
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._breaker_name = breaker_name
        self._retry_after = retry_after
        self._submit = submit
        self._clock = clock
        self._guard = threading.Lock()  # guards the fields below; never held during I/O
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._probing = False
        self._pinned = threading.local()

    @property
    def degraded(self) -> bool:
        """Serving from local memory because the shared storage failed."""
        return self._down_since is not None

    def local_only(self) -> _Pinned:
        """Within this block, on this thread, use local state only: for steps run on the event loop."""
        return _Pinned(self._pinned)

    # -- routing ----------------------------------------------------------------------------------

    def _run(self, op: Callable[[pybreaker.CircuitBreakerStorage], T]) -> T:
        if self._down_since is None and not getattr(self._pinned, "on", False):
            try:
                return op(self._shared)
            except Exception as exc:  # any failure of the shared store: serve locally instead
                self._degrade(exc)
        self._maybe_probe()
        return op(self._local)

    def _degrade(self, exc: Exception) -> None:
        with self._guard:
            if self._down_since is not None:
                return
            self._down_since = now = self._clock()
            self._retry_at = now + self._retry_after
        self._local.reset_counter()
        self._local.reset_success_counter()
        # The exception's class only: a store's message may carry a host name, never needed here.
        logger.warning(
            "circuit breaker %r: its shared state storage failed (%s); using local state, "
            "probing again every %.1fs",
            self._breaker_name,
            type(exc).__name__,
            self._retry_after,
        )

    def _maybe_probe(self) -> None:
        with self._guard:
            if self._down_since is None or self._probing or self._clock() < self._retry_at:
                return
            self._probing = True
        try:
            self._submit(self._probe)
        except RuntimeError:  # the executor is shutting down (interpreter exit)
            with self._guard:
                self._probing = False

    def _probe(self) -> None:
        try:
            state = self._shared.state  # one round trip; re-creates the keys after a Redis restart
        except Exception:
            with self._guard:
                self._retry_at = self._clock() + self._retry_after
                self._probing = False
            return
        with self._guard:
            down_since, self._down_since, self._probing = self._down_since, None, False
        self._local.state = state
        outage = self._clock() - down_since if down_since is not None else 0.0
        logger.info(
            "circuit breaker %r: shared state storage reachable again after %.1fs; shared state resumed",
            self._breaker_name,
            outage,
        )

    # -- pybreaker's storage interface ------------------------------------------------------------

    @property
    def state(self) -> str:
        value = self._run(lambda store: store.state)
        self._local.state = value  # the last shared state seen seeds the local one
        return value

    @state.setter
    def state(self, state: str) -> None:
        self._run(lambda store: setattr(store, "state", state))
        self._local.state = state

    def increment_counter(self) -> None:
        self._run(lambda store: store.increment_counter())

    def reset_counter(self) -> None:
        self._run(lambda store: store.reset_counter())

    def increment_success_counter(self) -> None:
        self._run(lambda store: store.increment_success_counter())

    def reset_success_counter(self) -> None:
        self._run(lambda store: store.reset_success_counter())

    @property
    def counter(self) -> int:
        return self._run(lambda store: store.counter)

    @property
    def success_counter(self) -> int:
        return self._run(lambda store: store.success_counter)

    @property
    def opened_at(self) -> datetime | None:
        value = self._run(lambda store: store.opened_at)
        if value is not None:
            self._local.opened_at = value
        return value

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        self._run(lambda store: setattr(store, "opened_at", now))
        self._local.opened_at = now


class _Pinned:
    """``FallbackStorage.local_only()``: a thread-local flag set for the duration of a block."""

    __slots__ = ("_flag",)

    def __init__(self, flag: threading.local) -> None:
        self._flag = flag

    def __enter__(self) -> None:
        self._flag.on = True

    def __exit__(self, *exc: object) -> None:
        self._flag.on = False
