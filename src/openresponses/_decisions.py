"""Typed decisions: what a middleware decided, recorded on the call for observers to match on.

Polly hands its telemetry an ``OnRetryArguments``; we do the same: every decision is a small
frozen value (``FailedOver(source, target, reason)``) passed to
``request.context.record(decision)``. Observers (Tracing, Metrics, your own) match on the type
instead of parsing a string kind and an untyped dict, and mypy checks both sides. Each value
still exposes its ``kind`` and flat ``attributes()`` — the span-event name and attributes
Tracing has always exported, unchanged — so a generic observer needs no per-type code.

Attribute values are low-cardinality scalars, never secrets or content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeAlias

__all__ = [
    "AttrValue",
    "BreakerChanged",
    "BreakerRejected",
    "BudgetExhausted",
    "CacheLookup",
    "Decision",
    "FailedOver",
    "HedgeStarted",
    "HedgeWon",
    "Recorded",
    "Recovered",
    "Retried",
    "TimedOut",
    "from_kind",
]

AttrValue: TypeAlias = "str | bool | int | float"


class Decision:
    """Base of every recorded decision: a ``kind`` (the span-event name) and flat attributes."""

    __slots__ = ()
    kind: ClassVar[str] = "decision"

    def attributes(self) -> Mapping[str, AttrValue]:
        """The decision as flat span-event attributes (names relative to ``openresponses.<kind>``)."""
        return {}


@dataclass(frozen=True, slots=True)
class Retried(Decision):
    """Retry is about to wait ``wait_s`` and start attempt number ``attempt``."""

    kind: ClassVar[str] = "retry"
    attempt: int
    wait_s: float
    reason: Literal["retry-after", "backoff"] | str
    error_type: str
    """The class name of the error being retried (``error.type``)."""

    def attributes(self) -> Mapping[str, AttrValue]:
        return {
            "attempt": self.attempt,
            "wait_s": self.wait_s,
            "reason": self.reason,
            "error.type": self.error_type,
        }


@dataclass(frozen=True, slots=True)
class BudgetExhausted(Decision):
    """Retry did not retry: the retry budget is spent."""

    kind: ClassVar[str] = "retry.budget_exhausted"
    error_type: str

    def attributes(self) -> Mapping[str, AttrValue]:
        return {"error.type": self.error_type}


@dataclass(frozen=True, slots=True)
class FailedOver(Decision):
    """Failover leaves ``source`` for ``target`` (``""`` when no provider is left) because of ``reason``."""

    kind: ClassVar[str] = "failover"
    source: str
    target: str
    reason: str

    def attributes(self) -> Mapping[str, AttrValue]:
        return {"from": self.source, "to": self.target, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class HedgeStarted(Decision):
    """Failover started ``provider`` in parallel after ``after_s`` without a first content event."""

    kind: ClassVar[str] = "hedge"
    provider: str
    after_s: float

    def attributes(self) -> Mapping[str, AttrValue]:
        return {"provider": self.provider, "after_s": self.after_s}


@dataclass(frozen=True, slots=True)
class HedgeWon(Decision):
    """Of the hedged attempts, ``provider`` produced the first content event."""

    kind: ClassVar[str] = "hedge.winner"
    provider: str

    def attributes(self) -> Mapping[str, AttrValue]:
        return {"provider": self.provider}


@dataclass(frozen=True, slots=True)
class Recovered(Decision):
    """A stream that broke mid-way was restarted or continued on ``target``."""

    mode: Literal["restart", "continue"]
    source: str
    target: str
    events_discarded: int = 0

    @property
    def kind(self) -> str:  # type: ignore[override]
        """``restart`` or ``continue``: the span-event name."""
        return self.mode

    def attributes(self) -> Mapping[str, AttrValue]:
        return {"from": self.source, "to": self.target, "events_discarded": self.events_discarded}


@dataclass(frozen=True, slots=True)
class BreakerChanged(Decision):
    """The breaker of ``provider`` moved from ``previous`` to ``state``."""

    kind: ClassVar[str] = "breaker"
    provider: str
    state: Literal["open", "half-open", "closed"] | str
    previous: str

    def attributes(self) -> Mapping[str, AttrValue]:
        return {"provider": self.provider, "state": self.state, "previous": self.previous}


@dataclass(frozen=True, slots=True)
class BreakerRejected(Decision):
    """The breaker of ``provider`` refused the call; it half-opens in ``reopens_in_s``."""

    kind: ClassVar[str] = "breaker.rejected"
    provider: str
    reopens_in_s: float

    def attributes(self) -> Mapping[str, AttrValue]:
        return {"provider": self.provider, "reopens_in_s": self.reopens_in_s}


@dataclass(frozen=True, slots=True)
class TimedOut(Decision):
    """A time limit fired: ``which`` is ``total``, ``first_event`` or ``idle``."""

    kind: ClassVar[str] = "timeout"
    which: str
    limit_s: float

    def attributes(self) -> Mapping[str, AttrValue]:
        return {"which": self.which, "limit_s": self.limit_s}


@dataclass(frozen=True, slots=True)
class CacheLookup(Decision):
    """A cache lookup: ``hit``, and the ``similarity`` of a semantic hit.

    ``layer`` is ``exact`` or ``semantic`` on a hit; ``status`` the outcome as a proxy's
    ``X-Cache-Status`` says it (``HIT``, ``SEMANTIC-HIT``, ``MISS``, ``BYPASS``, ``REFRESH``);
    ``namespace`` a short hash of the namespace (never a credential); ``reason`` why a call
    bypassed the cache (``header``, ``sampled``, ``previous_response_id``, ...).
    """

    kind: ClassVar[str] = "cache"
    hit: bool
    similarity: float | None = None
    layer: str | None = None
    status: str | None = None
    namespace: str | None = None
    reason: str | None = None

    def attributes(self) -> Mapping[str, AttrValue]:
        attrs: dict[str, AttrValue] = {"hit": self.hit}
        if self.similarity is not None:
            attrs["similarity"] = self.similarity
        for name in ("layer", "status", "namespace", "reason"):
            value = getattr(self, name)
            if value is not None:
                attrs[name] = value
        return attrs


@dataclass(frozen=True, slots=True)
class Recorded(Decision):
    """A decision of your own middleware, or the pre-0.2 ``record(kind, attributes)`` spelling."""

    name: str
    values: Mapping[str, AttrValue] = field(default_factory=dict)

    @property
    def kind(self) -> str:  # type: ignore[override]
        """The name given."""
        return self.name

    def attributes(self) -> Mapping[str, AttrValue]:
        return self.values


def from_kind(kind: str, attributes: Mapping[str, AttrValue]) -> Decision:
    """The typed decision for the 0.1 spelling ``record(kind, attributes)`` (unknown kinds:
    :class:`Recorded`), so middleware written for 0.1 still reach Tracing and Metrics."""
    a = attributes
    try:
        if kind == "retry":
            return Retried(
                int(a.get("attempt", 0)),
                float(a.get("wait_s", 0.0)),
                str(a.get("reason", "")),
                str(a.get("error.type", "")),
            )
        if kind == "retry.budget_exhausted":
            return BudgetExhausted(str(a.get("error.type", "")))
        if kind == "failover":
            return FailedOver(str(a.get("from", "")), str(a.get("to", "")), str(a.get("reason", "")))
        if kind == "hedge":
            return HedgeStarted(str(a.get("provider", "")), float(a.get("after_s", 0.0)))
        if kind == "hedge.winner":
            return HedgeWon(str(a.get("provider", "")))
        if kind in ("restart", "continue"):
            mode: Literal["restart", "continue"] = "restart" if kind == "restart" else "continue"
            return Recovered(
                mode, str(a.get("from", "")), str(a.get("to", "")), int(a.get("events_discarded", 0))
            )
        if kind == "breaker":
            return BreakerChanged(
                str(a.get("provider", "")), str(a.get("state", "")), str(a.get("previous", ""))
            )
        if kind == "breaker.rejected":
            return BreakerRejected(str(a.get("provider", "")), float(a.get("reopens_in_s", 0.0)))
        if kind == "timeout":
            return TimedOut(str(a.get("which", "")), float(a.get("limit_s", 0.0)))
        if kind == "cache":
            similarity = a.get("similarity")
            return CacheLookup(
                bool(a.get("hit")),
                float(similarity)
                if isinstance(similarity, int | float) and not isinstance(similarity, bool)
                else None,
            )
    except (TypeError, ValueError):
        pass  # malformed attributes: keep them as they came
    return Recorded(kind, dict(attributes))
