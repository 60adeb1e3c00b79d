"""``CircuitBreaker``: stop calling a provider that keeps failing, and probe it again later.

The state machine (closed → open → half-open), ``fail_max``, ``reset_timeout``,
``success_threshold``, listeners, excluded exceptions and storage are pybreaker's; its own async
path needs tornado, so this middleware drives pybreaker's state objects from asyncio itself,
under pybreaker's lock with no ``await`` held. With ``redis_url=`` the state lives in Redis
(pybreaker's ``CircuitRedisStorage``) and every process and host sharing that Redis sees the
same open breaker.

Client errors (4xx other than 408/429) do not trip it: the request was wrong, the provider is
fine. A stream counts as a success at its commit point (first content event); a failure after
that (``StreamInterrupted``, a ``response.failed`` mid-stream) counts as a failure.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pybreaker

from .._errors import CircuitOpenError, ResponseFailedError
from .._pipeline import Handler, Reply, Request
from .._streaming import EventStream, StreamEnd
from ._policy import is_client_error, is_content_policy

__all__ = ["CircuitBreaker"]

Exclusion = type[BaseException] | Callable[[BaseException], bool]


def _not_a_provider_fault(exc: BaseException) -> bool:
    if isinstance(exc, ResponseFailedError) and not exc.retryable:
        return True  # the provider reported a problem with the request (e.g. invalid_request)
    return is_client_error(exc) or is_content_policy(exc)


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
    successes close it, a failure re-opens it. ``exclude`` adds exception types or predicates
    that are not the provider's fault (client errors are always excluded). ``listeners`` are
    pybreaker ``CircuitBreakerListener`` objects. State is in memory unless ``redis_url`` (or a
    ``redis`` client, or any pybreaker ``state_storage``) is given; Redis keys are
    ``{namespace}:{name}:pybreaker:*``. ``name`` defaults to the name of the ``Provider`` whose
    middleware list holds the breaker. Put it inside ``Retry`` so an open breaker stops retries.

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
    ) -> None:
        if fail_max < 1 or success_threshold < 1 or half_open_max_calls < 1:
            raise ValueError("fail_max, success_threshold and half_open_max_calls must be >= 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must be >= 0")
        if sum(x is not None for x in (redis_url, redis, state_storage)) > 1:
            raise ValueError("pass at most one of redis_url, redis and state_storage")
        self.name = name
        self._explicit_name = name is not None
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self.success_threshold = success_threshold
        self.half_open_max_calls = half_open_max_calls
        self.namespace = namespace
        self._exclude: list[Exclusion] = [_not_a_provider_fault, *exclude]
        self._listeners = list(listeners)
        self._redis_url = redis_url
        self._redis = redis
        self._storage = state_storage
        self._transitions = _Transitions()
        self._breaker: pybreaker.CircuitBreaker | None = None
        self._probes = 0
        self._lock = threading.RLock()

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
        storage = self._storage
        client = self._redis
        if client is None and self._redis_url is not None:
            import redis as redis_lib

            # Short socket timeouts: the breaker runs on the event loop; a hung Redis must not
            # stall every call (pybreaker then falls back to ``closed`` and logs).
            client = redis_lib.Redis.from_url(self._redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        if client is not None:
            storage = pybreaker.CircuitRedisStorage(
                pybreaker.STATE_CLOSED, client, namespace=f"{self.namespace}:{name}"
            )
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

    def reopens_in(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 if not open)."""
        with self._lock:
            breaker = self.breaker
            if breaker.current_state != pybreaker.STATE_OPEN:
                return 0.0
            return self._remaining(breaker)

    def _remaining(self, breaker: pybreaker.CircuitBreaker) -> float:
        opened_at = breaker._state_storage.opened_at
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
            self._probes = 0
            self._transitions.pending.clear()

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(name={self.name!r}, fail_max={self.fail_max}, "
            f"reset_timeout={self.reset_timeout}, "
            f"storage={'redis' if (self._redis_url or self._redis) else 'memory'})"
        )

    # -- the state machine, driven from asyncio -------------------------------------------------
    # Each step holds pybreaker's lock and never awaits: safe from any thread or event loop.

    def _report(self, request: Request) -> None:
        pending = self._transitions.pending
        if not pending:
            return
        changes = list(pending)
        pending.clear()
        for old, new in changes:
            request.context.record(
                "breaker", {"provider": self.name or "default", "state": new, "previous": old}
            )

    def _admit(self, request: Request) -> bool:
        """Let the call through (``True`` if it is a half-open trial) or raise CircuitOpenError."""
        with self._lock:
            breaker = self.breaker
            with breaker._lock:
                state = breaker.state  # re-reads shared storage: another process may have tripped it
                if state.name == pybreaker.STATE_OPEN:
                    remaining = self._remaining(breaker)
                    if remaining > 0:
                        self._report(request)
                        self._reject(request, remaining)
                    breaker.half_open()
                    state = breaker.state
                probe = state.name == pybreaker.STATE_HALF_OPEN
                if probe:
                    if self._probes >= self.half_open_max_calls:
                        self._report(request)
                        self._reject(request, 0.0)
                    self._probes += 1
            self._report(request)
            return probe

    def _reject(self, request: Request, remaining: float) -> None:
        name = self.name or "default"
        request.context.record("breaker.rejected", {"provider": name, "reopens_in_s": remaining})
        raise CircuitOpenError(name, remaining)

    def _success(self, request: Request, probe: bool) -> None:
        with self._lock:
            breaker = self.breaker
            with breaker._lock:
                if probe:
                    self._probes -= 1
                breaker.state._handle_success()
            self._report(request)

    def _failure(self, request: Request, exc: BaseException, probe: bool) -> None:
        with self._lock:
            breaker = self.breaker
            with breaker._lock:
                if probe:
                    self._probes -= 1
                traceback = exc.__traceback__
                try:
                    breaker.state._handle_error(exc, reraise=False)
                except (pybreaker.CircuitBreakerError, type(exc)):
                    pass  # pybreaker re-raises when it trips; we report and re-raise ourselves
                finally:
                    exc.__traceback__ = traceback
            self._report(request)

    def _release(self, probe: bool) -> None:
        if probe:
            with self._lock:
                self._probes -= 1

    @property
    def _remote(self) -> bool:
        # Shared storage means network round trips: keep them off the event loop.
        return self._redis_url is not None or self._redis is not None or self._storage is not None

    async def _step(self, step: Callable[..., Any], *args: Any) -> Any:
        """Run a state-machine step: inline in memory, in a worker thread when the state is remote.

        Each step takes only threading locks and never awaits, so either place is safe; in a
        thread a slow Redis delays this call only, not every task on the loop.
        """
        if self._remote:
            return await asyncio.to_thread(step, *args)
        return step(*args)

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        probe = await self._step(self._admit, request)
        reply: Reply | None = None
        try:
            reply = await call_next(request)
            if isinstance(reply, EventStream):
                await reply.prime()  # a stream is a success once committed
        except Exception as exc:
            await self._step(self._failure, request, exc, probe)
            if isinstance(reply, EventStream):
                await reply.aclose()
            raise
        except BaseException:  # cancelled (a hedge lost) or interrupted: neither verdict
            self._release(probe)
            if isinstance(reply, EventStream):
                await reply.aclose()
            raise
        await self._step(self._success, request, probe)
        if isinstance(reply, EventStream):
            reply.tap(on_end=lambda end: self._on_stream_end(request, end))
        return reply

    def _on_stream_end(self, request: Request, end: StreamEnd) -> None:
        if end.error is None or end.abandoned or not isinstance(end.error, Exception):
            return
        if not self._remote:
            self._failure(request, end.error, probe=False)
            return
        # A tap cannot await: hand the remote update to a worker thread, fire and forget.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # ended outside a loop (e.g. a dropped stream collected late)
            self._failure(request, end.error, probe=False)
            return
        loop.run_in_executor(None, self._failure, request, end.error, False)
