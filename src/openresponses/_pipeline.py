"""The request/stream contract every middleware, transport and proxy plugs into.

A call is a :class:`Request` handed to a :class:`Handler`; the reply is a ``Response`` (or a
``CompactResponse``) or an :class:`~openresponses.EventStream`. A :class:`Middleware` is the same
shape with the next handler as a second argument, so it can look at or change the request, call
the next handler any number of times (retry, failover, hedging), short-circuit (cache), and wrap
the reply: observe a stream event by event with ``EventStream.tap`` or transform it with
``EventStream.from_source``.

``compose(middleware, endpoint)`` folds a list into one handler; ``middleware[0]`` is outermost.
The result is itself a ``Handler``, so stacks nest (a ``Provider`` inside ``Failover`` has its own).

Observability without coupling: middleware report what they decide through
``request.context.record(kind, attributes)`` and every call to an upstream goes through an
:class:`AttemptBoundary`, which asks the context's observers for per-attempt hooks. Tracing and
Metrics are such observers; retry, failover, breakers and caches know nothing about them.

The record vocabulary (``kind``: attributes), shared by the middleware that emit and the
observers that read; attribute values are low-cardinality scalars, never secrets or content:

- ``retry``: ``attempt`` (the number of the attempt about to start), ``wait_s``, ``reason``
  (``retry-after`` or ``backoff``), ``error.type``
- ``retry.budget_exhausted``: ``error.type``
- ``failover``: ``from``, ``to`` (provider names; ``to`` is empty when none is left), ``reason``
- ``hedge``: ``provider`` (the hedge started), ``after_s``; ``hedge.winner``: ``provider``
- ``restart`` / ``continue``: ``from``, ``to``, ``events_discarded`` (mid-stream recovery)
- ``breaker``: ``provider``, ``state`` (``open``, ``half-open``, ``closed``), ``previous``
- ``breaker.rejected``: ``provider``, ``reopens_in_s``
- ``timeout``: ``which`` (``total``, ``first_event``, ``idle``), ``limit_s``
- ``cache``: ``hit`` (bool), ``similarity`` (float, on hits)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ._streaming import EventStream
    from .types import CompactResponse, CompactResponseBody, CreateResponseBody, Response

__all__ = [
    "AttemptBoundary",
    "AttemptObserver",
    "AttrValue",
    "CallContext",
    "CallObserver",
    "CallOptions",
    "Handler",
    "Middleware",
    "Operation",
    "Reply",
    "Request",
    "Target",
    "Transport",
    "compose",
]

logger = logging.getLogger("openresponses")

Reply: TypeAlias = "Response | CompactResponse | EventStream"
Operation = Literal["create", "compact"]
AttrValue: TypeAlias = "str | bool | int | float"


@dataclass(frozen=True, slots=True)
class Target:
    """Where an attempt goes: the provider's name and its base URL (for telemetry; no secrets)."""

    provider: str = "default"
    base_url: str | None = None


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Per-call options that are not part of the body.

    ``timeout`` overrides the transport's timeout for this call (seconds, or an ``httpx.Timeout``
    for the HTTP transport). ``idempotency_key`` is sent as ``Idempotency-Key`` when set.
    """

    timeout: Any = None
    idempotency_key: str | None = None


class CallObserver(Protocol):
    """Receives what happens during one logical call. Tracing and Metrics implement this.

    Observer methods must not raise: errors are logged and swallowed by the caller.
    """

    def on_record(self, kind: str, attributes: Mapping[str, AttrValue]) -> None:
        """A middleware decision: ``retry``, ``failover``, ``hedge``, ``breaker``, ``cache``, ..."""

    def on_attempt(self, request: Request, number: int) -> AttemptObserver | None:
        """An attempt (one call to one upstream) starts; return hooks for it, or ``None``."""


class AttemptObserver(Protocol):
    """Hooks for one attempt, returned by :meth:`CallObserver.on_attempt`."""

    def activate(self) -> AbstractContextManager[Any]:
        """A context manager active while the transport sends (parents the HTTP client span)."""

    def headers(self) -> Mapping[str, str]:
        """Extra headers for the upstream request (e.g. W3C ``traceparent``)."""

    def on_reply(self, reply: Reply) -> Reply:
        """The attempt returned; observe it (a stream: tap it) and return it."""

    def on_error(self, error: BaseException) -> None:
        """The attempt raised before returning a reply."""


@dataclass(slots=True, eq=False)
class CallContext:
    """State of one logical call, shared by every layer and attempt of that call.

    ``attempts`` counts calls to upstreams so far; ``provider`` is the provider that served the
    reply (set when an attempt succeeds); ``observers`` get decisions and attempts;
    ``deadline`` is an absolute ``time.monotonic()`` time set by ``Timeout`` for inner layers;
    ``state`` is a scratch space for middleware that cooperate (keys are namespaced by module).
    """

    observers: list[CallObserver] = field(default_factory=list)
    attempts: int = 0
    provider: str | None = None
    deadline: float | None = None
    state: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def record(self, kind: str, attributes: Mapping[str, AttrValue]) -> None:
        """Report a middleware decision to the observers. Never raises."""
        for observer in self.observers:
            try:
                observer.on_record(kind, attributes)
            except Exception:  # telemetry must never break the call
                logger.exception("observer %r failed in on_record", observer)

    def remaining(self) -> float | None:
        """Seconds left until ``deadline``, or ``None`` when there is none."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()


@dataclass(frozen=True, slots=True)
class Request:
    """One call as it flows through the middleware: immutable; use :meth:`replace` to change it.

    ``body`` is the typed request body; ``operation`` says which endpoint (``create`` is
    ``POST /responses``, ``compact`` is ``POST /responses/compact``); ``stream`` whether a
    stream is wanted (mirrors ``body.stream``); ``headers`` are extra per-call headers (never
    credentials: transports own those); ``target`` is set by the attempt boundary.
    """

    body: CreateResponseBody | CompactResponseBody
    operation: Operation = "create"
    stream: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)
    context: CallContext = field(default_factory=CallContext)
    target: Target | None = None

    def replace(self, **changes: Any) -> Request:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    @property
    def model(self) -> str | None:
        """The requested model, if any."""
        return self.body.model

    def __repr__(self) -> str:
        return (
            f"Request(operation={self.operation!r}, model={self.model!r}, stream={self.stream}, "
            f"target={self.target!r}, headers={sorted(self.headers)!r})"
        )


@runtime_checkable
class Handler(Protocol):
    """Anything that turns a request into a reply: a transport, or a composed stack."""

    async def __call__(self, request: Request, /) -> Reply: ...


@runtime_checkable
class Middleware(Protocol):
    """A layer: sees the request, calls ``call_next`` (zero or more times), returns a reply."""

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply: ...


@runtime_checkable
class Transport(Handler, Protocol):
    """The end of a chain: a handler that talks to one upstream, described by ``target``."""

    @property
    def target(self) -> Target: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Link:
    layer: Middleware
    next: Handler

    async def __call__(self, request: Request, /) -> Reply:
        return await self.layer(request, self.next)

    def __repr__(self) -> str:
        return f"{self.layer!r} -> {self.next!r}"


def compose(middleware: Sequence[Middleware], endpoint: Handler) -> Handler:
    """Fold ``middleware`` around ``endpoint``; ``middleware[0]`` is outermost.

    The result is a ``Handler``, so stacks nest and tests can call any stack directly.
    """
    handler = endpoint
    for layer in reversed(middleware):
        if not callable(layer):
            raise TypeError(f"middleware must be callable as (request, call_next), got {layer!r}")
        handler = _Link(layer, handler)
    return handler


@dataclass(frozen=True, slots=True)
class AttemptBoundary:
    """Wraps a transport so each call to it is one attempt, visible to the call's observers.

    Counts attempts, stamps ``request.target``, lets observers add headers and parent the HTTP
    span, and records which provider served the reply.
    """

    transport: Transport

    async def __call__(self, request: Request, /) -> Reply:
        context = request.context
        context.attempts += 1
        number = context.attempts
        request = request.replace(target=self.transport.target)
        hooks: list[AttemptObserver] = []
        for observer in context.observers:
            try:
                hook = observer.on_attempt(request, number)
            except Exception:
                logger.exception("observer %r failed in on_attempt", observer)
                continue
            if hook is not None:
                hooks.append(hook)
        if not hooks:
            reply = await self.transport(request)
            context.provider = self.transport.target.provider
            return reply
        return await self._observed(request, hooks)

    async def _observed(self, request: Request, hooks: list[AttemptObserver]) -> Reply:
        extra: dict[str, str] = {}
        for hook in hooks:
            try:
                extra.update(hook.headers())
            except Exception:
                logger.exception("attempt observer %r failed in headers", hook)
        if extra:
            request = request.replace(headers={**request.headers, **extra})
        try:
            # Only the first hook parents the HTTP span: one active span at a time.
            with hooks[0].activate():
                reply = await self.transport(request)
        except BaseException as exc:
            for hook in hooks:
                try:
                    hook.on_error(exc)
                except Exception:
                    logger.exception("attempt observer %r failed in on_error", hook)
            raise
        request.context.provider = self.transport.target.provider
        for hook in hooks:
            try:
                reply = hook.on_reply(reply)
            except Exception:
                logger.exception("attempt observer %r failed in on_reply", hook)
        return reply

    def __repr__(self) -> str:
        return f"AttemptBoundary({self.transport!r})"
