"""The request/stream contract every middleware, transport and proxy plugs into.

A call is a :class:`Request` handed to a :class:`Handler`; the reply is a ``Response`` (or a
``CompactResponse``) or an :class:`~openresponses.EventStream`. A :class:`Middleware` is the same
shape with the next handler as a second argument, so it can look at or change the request, call
the next handler any number of times (retry, failover, hedging), short-circuit (cache), and wrap
the reply: observe a stream event by event with ``EventStream.tap`` or transform it with
``EventStream.from_source``.

``compose(middleware, endpoint)`` folds a list into one handler; ``middleware[0]`` is outermost.
The result is itself a ``Handler``, so stacks nest (a ``Provider`` inside ``Failover`` has its own).

Observability without coupling: middleware report what they decide as typed values,
``request.context.record(FailedOver(source, target, reason))`` (see ``_decisions``), and every
call to an upstream goes through an :class:`AttemptBoundary`, which asks the context's observers
for per-attempt hooks. Tracing and Metrics are such observers, matching on the decision types;
retry, failover, breakers and caches know nothing about them.

Lifecycle without duck-typing: a layer that holds resources implements :class:`AsyncCloseable`;
one that needs the name of the provider it guards implements :class:`ProviderBound`. Both are
small protocols checked by mypy and by ``isinstance``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, overload, runtime_checkable

from ._decisions import AttrValue, Decision, from_kind

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ._streaming import EventStream
    from .types import CompactResponse, CompactResponseBody, CreateResponseBody, Response

__all__ = [
    "AsyncCloseable",
    "AttemptBoundary",
    "AttemptObserver",
    "AttrValue",
    "CallContext",
    "CallObserver",
    "CallOptions",
    "Endpoint",
    "Handler",
    "Middleware",
    "Operation",
    "ProviderBound",
    "Reply",
    "Request",
    "Target",
    "Transport",
    "compose",
]

logger = logging.getLogger("openresponses")

Reply: TypeAlias = "Response | CompactResponse | EventStream"
Operation = Literal["create", "compact"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where an attempt goes, for telemetry (no secrets): the provider's name (your label), its
    base URL, and ``system``, the vendor when the wire format names one (``"anthropic"``,
    ``"gcp.gemini"``, ``"aws.bedrock"``: the GenAI conventions' ``gen_ai.provider.name``)."""

    provider: str = "default"
    base_url: str | None = None
    system: str | None = None


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

    def on_record(self, decision: Decision) -> None:
        """A middleware decision (``Retried``, ``FailedOver``, ``BreakerChanged``, ...)."""

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
    ``deadline`` is an absolute ``time.monotonic()`` time set by ``Timeout`` for inner layers.
    State that only some layers may see travels on the :class:`Request` instead (it is scoped:
    ``Request.within_failover`` is true only below a ``Failover``). ``credential`` is the
    fingerprint (a keyed hash, never the key: see ``openresponses._credential``) of the
    credential the call is made with, when whoever built the call knows it (a proxy's inbound
    key); read :attr:`Request.credential`, which also sees per-call credential headers.

    ``after_reply``, when not ``None``, is set by whoever delivers the reply (the served proxy):
    plain callables it runs once the reply has been written and before it reads anything else
    from the event loop, for process-local work a caller need not wait for (``Stateful``'s write
    to a ``MemoryStore``). ``None`` (the in-process clients): such work runs before the reply
    is returned.
    """

    observers: list[CallObserver] = field(default_factory=list)
    attempts: int = 0
    provider: str | None = None
    deadline: float | None = None
    credential: str | None = None
    after_reply: list[Callable[[], None]] | None = None

    @overload
    def record(self, decision: Decision, /) -> None: ...

    @overload
    def record(self, decision: str, attributes: Mapping[str, AttrValue], /) -> None: ...

    def record(self, decision: Decision | str, attributes: Mapping[str, AttrValue] | None = None, /) -> None:
        """Report a middleware decision to the observers. Never raises.

        Pass a typed value (``record(FailedOver("a", "b", "status_503"))``); the older
        ``record(kind, attributes)`` spelling still works: known kinds become their typed value
        (``"failover"`` a ``FailedOver``), others a ``Recorded``.
        """
        if isinstance(decision, str):
            decision = from_kind(decision, attributes or {})
        for observer in self.observers:
            try:
                if _takes_kind(type(observer)):
                    # An observer written for 0.1 (``on_record(kind, attributes)``) keeps working.
                    observer.on_record(decision.kind, decision.attributes())  # type: ignore[call-arg, arg-type]
                else:
                    observer.on_record(decision)
            except Exception:  # telemetry must never break the call
                logger.exception("observer %r failed in on_record", observer)

    def remaining(self) -> float | None:
        """Seconds left until ``deadline``, or ``None`` when there is none."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()


@functools.cache
def _takes_kind(observer_type: type) -> bool:
    """Whether ``observer_type.on_record`` has the 0.1 signature ``(kind, attributes)``."""
    try:
        parameters = inspect.signature(observer_type.on_record).parameters  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return False
    return len(parameters) == 3  # self, kind, attributes


@dataclass(frozen=True, slots=True)
class Request:
    """One call as it flows through the middleware: immutable; use :meth:`replace` to change it.

    ``body`` is the typed request body; ``operation`` says which endpoint (``create`` is
    ``POST /responses``, ``compact`` is ``POST /responses/compact``); ``stream`` whether a
    stream is wanted (mirrors ``body.stream``); ``headers`` are extra per-call headers (never
    credentials: transports own those); ``target`` is set by the attempt boundary;
    ``within_failover`` is set by ``Failover`` on the requests it hands its providers, so a layer
    below a Failover knows that moving on is someone else's job (a first-token timeout is not
    retried there) while the layers above it never see the flag.
    """

    body: CreateResponseBody | CompactResponseBody
    operation: Operation = "create"
    stream: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)
    context: CallContext = field(default_factory=CallContext)
    target: Target | None = None
    within_failover: bool = False

    def replace(self, **changes: Any) -> Request:
        """A copy with some fields changed (as ``dataclasses.replace``)."""
        if type(self) is not Request:
            return dataclasses.replace(self, **changes)
        # Why not dataclasses.replace: it was 2 µs of every call, which passes here two or three
        # times. The same copy: every field is an init field and there is no __post_init__.
        new = _new_request(Request)
        for name in _REQUEST_FIELDS:
            _set_field(new, name, changes.pop(name) if name in changes else getattr(self, name))
        if changes:
            raise TypeError(f"Request.replace() got an unexpected keyword argument {next(iter(changes))!r}")
        return new

    @property
    def model(self) -> str | None:
        """The requested model, if any."""
        return self.body.model

    @property
    def credential(self) -> str | None:
        """The fingerprint of the credential this call is made with (never the key), if known.

        A per-call credential header (``authorization``, ``x-api-key``, ...) wins, as it does on
        the wire; else ``context.credential``. ``None`` means "the transport's own key": find it
        with ``openresponses._credential.credential_of(handler)``.
        """
        from ._credential import header_credential

        return header_credential(self.headers) or self.context.credential

    def __repr__(self) -> str:
        return (
            f"Request(operation={self.operation!r}, model={self.model!r}, stream={self.stream}, "
            f"target={self.target!r}, headers={sorted(self.headers)!r})"
        )


_new_request = object.__new__
_set_field = object.__setattr__
_REQUEST_FIELDS = tuple(field.name for field in dataclasses.fields(Request))


@runtime_checkable
class Handler(Protocol):
    """Anything that turns a request into a reply: a transport, or a composed stack."""

    async def __call__(self, request: Request, /) -> Reply: ...


@runtime_checkable
class Middleware(Protocol):
    """A layer: sees the request, calls ``call_next`` (zero or more times), returns a reply."""

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply: ...


class Endpoint:
    """Base of the handlers that end a chain but are not transports (``Failover``).

    An endpoint is a ``Handler`` (``await endpoint(request)``), never a middleware: ``compose``
    refuses one in a middleware list, with a message saying where it goes instead.
    """

    __slots__ = ()

    async def __call__(self, request: Request, /) -> Reply:
        raise NotImplementedError


@runtime_checkable
class AsyncCloseable(Protocol):
    """A layer or endpoint holding resources (connections, executors): the client closes it."""

    async def aclose(self) -> None: ...


@runtime_checkable
class ProviderBound(Protocol):
    """A layer that guards one provider and takes its name (e.g. ``CircuitBreaker``)."""

    def bind(self, provider: str) -> None: ...


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
        if isinstance(layer, Endpoint):
            raise TypeError(
                f"{type(layer).__name__} is an endpoint, not a middleware: pass it as "
                "AsyncClient(endpoint=...) or as the last entry of AsyncClient(middleware=[...]), "
                "or as a member of a Failover"
            )
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
