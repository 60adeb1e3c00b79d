"""``CircuitBreaker``: stop calling a provider that keeps failing, and probe it again later.

The state machine (closed → open → half-open), ``fail_max``, ``reset_timeout``,
``success_threshold``, listeners, excluded exceptions and storage are pybreaker's; its own async
path needs tornado, so this middleware drives pybreaker's state from asyncio itself, one step at
a time under pybreaker's lock with no ``await`` held (the private hooks that takes are all in
``_pybreaker_compat``). With ``redis_url=`` the state lives in Redis (pybreaker's key layout)
and every process and host sharing that Redis sees the same open breaker; while Redis is down
or hung each process serves from local state (``_breaker_storage``).

Only the upstream's failures count: connection errors and timeouts, 408/429/498/5xx, malformed or
failed streams. Client errors (other 4xx) do not trip it (the request was wrong, the provider is
fine), and an error raised locally before or instead of the call (a ``TypeError`` from a bad
header, a ``RequestValidationError``, a rejection by another layer) counts neither way. A stream
counts as a success at its commit point (first content event); a failure after that
(``StreamInterrupted``, a ``response.failed`` mid-stream) counts as a failure.
The rule is ``_policy.reached_upstream`` and ``_policy.provider_fault``, beside the retry rule.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from .._extras import MissingExtraError, requires

with requires("CircuitBreaker", "resilience"):
    import pybreaker

from .._decisions import BreakerChanged, BreakerRejected
from .._errors import CircuitOpenError
from .._pipeline import Handler, Reply, Request
from .._streaming import EventStream, StreamEnd, committed
from ._breaker_storage import FallbackStorage, RedisStorage, redis_client
from ._policy import not_a_provider_fault, reached_upstream
from ._pybreaker_compat import exclusive, record_failure, record_success

__all__ = ["CircuitBreaker"]

logger = logging.getLogger("openresponses")

Exclusion = type[BaseException] | Callable[[BaseException], bool]

_WORKERS = 4  # per breaker; its steps are serialised by its lock anyway


def _log_failed_step(future: Future[None]) -> None:
    """A fire-and-forget step has no caller to raise to (e.g. a listener's bug): log it."""
    exc = future.exception()
    if exc is not None:
        logger.error("circuit breaker: recording a stream failure failed", exc_info=exc)


class _Transitions(pybreaker.CircuitBreakerListener):
    """Collects state changes so they can be reported on the call that caused them."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str]] = []

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        self.pending.append((getattr(old_state, "name", "") or "", new_state.name))


class CircuitBreaker:
    """Middleware: fail fast with :class:`~openresponses.CircuitOpenError` while a provider is down.

    ``fail_max`` consecutive provider failures open the breaker for ``reset_timeout`` seconds;
    then up to ``half_open_max_calls`` trial calls (per process) go through: ``success_threshold``
    successes close it, a failure re-opens it. Only upstream failures count (see the module);
    ``exclude`` adds exception types or predicates that are not the provider's fault (client
    errors are always excluded). ``listeners`` are pybreaker ``CircuitBreakerListener`` objects.
    State is in memory unless ``redis_url`` (or a ``redis`` client, or any pybreaker
    ``state_storage``) is given; Redis keys are ``{namespace}:{name}:pybreaker:*``. The client
    built from ``redis_url`` gives up after ``redis_timeout`` seconds; when the shared storage
    fails, the breaker logs one warning and uses local state, probing the storage again every
    ``redis_retry_after`` seconds in the background. ``name`` defaults to the name of the
    ``Provider`` whose middleware list holds the breaker. Put it inside ``Retry`` so an open
    breaker stops retries.

    ::

        Provider("openai", base_url=url, api_key_env="OPENAI_API_KEY",
                 middleware=[Retry(), CircuitBreaker(fail_max=5, reset_timeout=30,
                                                     redis_url="redis://127.0.0.1:6379/0")])
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        fail_max: int = 5,
        reset_timeout: float = 30.0,
        success_threshold: int = 1,
        half_open_max_calls: int = 1,
        exclude: Iterable[Exclusion] = (),
        listeners: Sequence[pybreaker.CircuitBreakerListener] = (),
        redis_url: str | None = None,
        redis: Any = None,
        state_storage: pybreaker.CircuitBreakerStorage | None = None,
        namespace: str = "openresponses",
        redis_timeout: float = 0.25,
        redis_retry_after: float = 5.0,
    ) -> None:
        if fail_max < 1 or success_threshold < 1 or half_open_max_calls < 1:
            raise ValueError("fail_max, success_threshold and half_open_max_calls must be >= 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must be >= 0")
        if redis_timeout <= 0 or redis_retry_after <= 0:
            raise ValueError("redis_timeout and redis_retry_after must be > 0")
        if sum(x is not None for x in (redis_url, redis, state_storage)) > 1:
            raise ValueError("pass at most one of redis_url, redis and state_storage")
        self.name = name
        self._explicit_name = name is not None
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self.success_threshold = success_threshold
        self.half_open_max_calls = half_open_max_calls
        self.namespace = namespace
        self.redis_timeout = redis_timeout
        self.redis_retry_after = redis_retry_after
        self._exclude: list[Exclusion] = [not_a_provider_fault, *exclude]
        self._listeners = list(listeners)
        if redis_url is not None and importlib.util.find_spec("redis") is None:
            # At construction, not at the first call: a missing package is not a Redis outage.
            raise MissingExtraError("CircuitBreaker(redis_url=...)", "resilience", missing="redis")
        self._redis_url = redis_url
        self._redis = redis
        self._storage = state_storage
        self._transitions = _Transitions()
        self._breaker: pybreaker.CircuitBreaker | None = None
        self._store: pybreaker.CircuitBreakerStorage | None = None  # what pybreaker was given
        self._fallback: FallbackStorage | None = None  # the same object, when state is shared
        self._probes = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        # ``_lock`` serialises state steps (and is held during their storage I/O); ``_guard``
        # protects the trial-call count and the executor and is never held during I/O, so the
        # event loop can take it at any time without waiting on Redis.
        self._lock = threading.RLock()
        self._guard = threading.Lock()

    # -- configuration --------------------------------------------------------------------------

    def bind(self, provider: str) -> None:
        """Called by ``Provider``: name the breaker after its provider unless named explicitly."""
        with self._lock:
            if self._explicit_name:
                return
            if self.name is not None and self.name != provider:
                raise ValueError(
                    f"this CircuitBreaker is already used by provider {self.name!r}; give it an explicit "
                    f"name= to share one breaker between providers (here {provider!r})."
                )
            self.name = provider

    @property
    def breaker(self) -> pybreaker.CircuitBreaker:
        """The underlying ``pybreaker.CircuitBreaker`` (created on first use)."""
        with self._lock:
            if self._breaker is None:
                self._breaker = self._build()
            return self._breaker

    def _build(self) -> pybreaker.CircuitBreaker:
        name = self.name or "default"
        shared = self._shared_storage(name)
        storage: pybreaker.CircuitBreakerStorage
        if shared is None:
            storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        else:
            storage = self._fallback = FallbackStorage(
                shared, breaker_name=name, retry_after=self.redis_retry_after, submit=self._submit
            )
        self._store = storage
        return pybreaker.CircuitBreaker(
            fail_max=self.fail_max,
            reset_timeout=self.reset_timeout,
            success_threshold=self.success_threshold,
            exclude=self._exclude,
            listeners=[self._transitions, *self._listeners],
            state_storage=storage,
            name=name,
            throw_new_error_on_trip=False,
        )

    def _shared_storage(self, name: str) -> pybreaker.CircuitBreakerStorage | None:
        if self._storage is not None:
            return self._storage
        client = self._redis
        if client is None and self._redis_url is not None:
            with requires("CircuitBreaker(redis_url=...)", "resilience"):
                client = redis_client(self._redis_url, self.redis_timeout)
        if client is None:
            return None
        return RedisStorage(client, f"{self.namespace}:{name}")

    def _executor(self) -> ThreadPoolExecutor:
        """This breaker's own small pool for storage I/O (not the loop's default executor)."""
        with self._guard:
            if self._pool is None or self._pool_pid != os.getpid():  # threads do not survive fork
                self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="openresponses-breaker")
                self._pool_pid = os.getpid()
            return self._pool

    def _submit(self, job: Callable[[], None]) -> object:
        return self._executor().submit(job)

    # -- state ----------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (as stored: shared when Redis-backed)."""
        with self._lock:
            return str(self.breaker.current_state)

    @property
    def fail_counter(self) -> int:
        """Consecutive failures counted so far."""
        return int(self.breaker.fail_counter)

    @property
    def shared(self) -> bool:
        """Whether the state lives outside this process (Redis or a custom storage), so every
        process using the same storage sees one breaker; ``False``: per process, in memory."""
        return self._remote

    @property
    def degraded(self) -> bool:
        """``True`` while the shared storage (Redis) is failing and this process uses local state."""
        return self._fallback is not None and self._fallback.degraded

    def reopens_in(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 if not open)."""
        with self._lock:
            breaker = self.breaker
            if breaker.current_state != pybreaker.STATE_OPEN:
                return 0.0
            return self._remaining()

    def _remaining(self) -> float:
        opened_at = self._store.opened_at if self._store is not None else None
        if opened_at is None:
            return 0.0
        elapsed = (datetime.now(UTC) - opened_at).total_seconds()
        return max(0.0, float(self.reset_timeout) - elapsed)

    def open(self) -> None:
        """Force the breaker open (e.g. from an operator command)."""
        with self._lock:
            self.breaker.open()
            self._transitions.pending.clear()

    def close(self) -> None:
        """Force the breaker closed."""
        with self._lock:
            self.breaker.close()
            with self._guard:
                self._probes = 0
            self._transitions.pending.clear()

    def __repr__(self) -> str:
        storage = "redis" if (self._redis_url or self._redis) else "custom" if self._storage else "memory"
        return (
            f"CircuitBreaker(name={self.name!r}, fail_max={self.fail_max}, "
            f"reset_timeout={self.reset_timeout}, storage={storage})"
        )

    # -- the state machine, driven from asyncio -------------------------------------------------
    # Each step holds pybreaker's lock and never awaits: safe from any thread or event loop.
    # pybreaker's private hooks are reached only through ``_pybreaker_compat``.

    def _report(self, request: Request) -> None:
        pending = self._transitions.pending
        if not pending:
            return
        changes = list(pending)
        pending.clear()
        for old, new in changes:
            request.context.record(BreakerChanged(self.name or "default", new, old))

    def _admit(self, request: Request) -> bool:
        """Let the call through (``True`` if it is a half-open trial) or raise CircuitOpenError."""
        with self._lock:
            breaker = self.breaker
            with exclusive(breaker):
                state = breaker.state  # re-reads shared storage: another process may have tripped it
                if state.name == pybreaker.STATE_OPEN:
                    remaining = self._remaining()
                    if remaining > 0:
                        self._report(request)
                        self._reject(request, remaining)
                    breaker.half_open()
                    state = breaker.state
                probe = state.name == pybreaker.STATE_HALF_OPEN
                if probe:
                    with self._guard:
                        full = self._probes >= self.half_open_max_calls
                        if not full:
                            self._probes += 1
                    if full:
                        self._report(request)
                        self._reject(request, 0.0)
            self._report(request)
            return probe

    def _reject(self, request: Request, remaining: float) -> None:
        name = self.name or "default"
        request.context.record(BreakerRejected(name, remaining))
        raise CircuitOpenError(name, remaining)

    def _success(self, request: Request, probe: bool) -> None:
        with self._lock:
            breaker = self.breaker
            with exclusive(breaker):
                self._release(probe)
                record_success(breaker)
            self._report(request)

    def _failure(self, request: Request, exc: BaseException, probe: bool) -> None:
        if not reached_upstream(exc):  # raised locally (a caller's mistake, a bug): no verdict
            self._release(probe)
            return
        with self._lock:
            breaker = self.breaker
            with exclusive(breaker):
                self._release(probe)
                record_failure(breaker, exc)  # pybreaker's exclusions decide whether it counts
            self._report(request)

    def _release(self, probe: bool) -> None:
        if probe:
            with self._guard:
                self._probes -= 1

    @property
    def _remote(self) -> bool:
        # Shared storage means network round trips: keep them off the event loop.
        return self._redis_url is not None or self._redis is not None or self._storage is not None

    def _inline(self) -> AbstractContextManager[None] | None:
        """How to run a step on the loop thread now, or ``None`` when it must go to the executor.

        In memory, or while the shared storage is down (local state only, pinned so that a
        probe succeeding meanwhile cannot make this step wait on Redis), a step takes
        microseconds: running it inline queues nothing behind a dead Redis.
        """
        if not self._remote:
            return nullcontext()
        fallback = self._fallback
        if fallback is not None and fallback.degraded:
            return fallback.local_only()
        return None

    async def _step(self, step: Callable[..., Any], *args: Any) -> Any:
        """Run a state-machine step: inline when it is in memory, else on this breaker's executor.

        Each step takes only threading locks and never awaits, so either place is safe; in a
        thread a slow Redis delays this call only, not every task on the loop.
        """
        inline = self._inline()
        if inline is not None:
            with inline:
                return step(*args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), functools.partial(step, *args))

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        probe = await self._step(self._admit, request)
        try:
            reply = await committed(await call_next(request))  # a stream is a success once committed
        except Exception as exc:
            await self._step(self._failure, request, exc, probe)
            raise
        except BaseException:  # cancelled (a hedge lost) or interrupted: neither verdict
            self._release(probe)
            raise
        await self._step(self._success, request, probe)
        if isinstance(reply, EventStream):
            reply.tap(on_end=lambda end: self._on_stream_end(request, end))
        return reply

    def _on_stream_end(self, request: Request, end: StreamEnd) -> None:
        if end.error is None or end.abandoned or not isinstance(end.error, Exception):
            return
        inline = self._inline()
        if inline is not None:
            with inline:
                self._failure(request, end.error, probe=False)
            return
        # A tap cannot await (and may run outside any loop, when a dropped stream is collected
        # late): hand the remote update to the executor, fire and forget.
        self._executor().submit(self._failure, request, end.error, False).add_done_callback(_log_failed_step)
