"""``CacheStatus``: the cache outcome of one call, for a proxy's ``X-Cache-Status`` header.

A :class:`~openresponses.CallObserver` added to the call's context before it is sent; it keeps
the ``status`` of the last :class:`~openresponses._decisions.CacheLookup` recorded
(``HIT``, ``SEMANTIC-HIT``, ``MISS``, ``BYPASS``, ``REFRESH``), or ``None`` when no cache is in
the pipeline. The served proxy sets the header from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

from .._decisions import CacheLookup, Decision

if TYPE_CHECKING:
    from starlette.responses import Response

    from .._pipeline import Request

__all__ = ["CONTROL_HEADER", "STATUS_HEADER", "CacheStatus", "control_headers"]

#: The response header the served proxy sets.
STATUS_HEADER = "x-cache-status"
#: The per-call control header (``bypass`` / ``refresh``) the proxy passes on to the pipeline.
CONTROL_HEADER = "x-openresponses-cache"

R = TypeVar("R", bound="Response")


class CacheStatus:
    """Observes one call; ``value`` is its cache status, or ``None`` without a cache."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: str | None = None

    @classmethod
    def watch(cls, request: Request) -> CacheStatus:
        """A new observer, registered on ``request.context``."""
        status = cls()
        request.context.observers.append(status)
        return status

    def on_record(self, decision: Decision) -> None:
        if isinstance(decision, CacheLookup) and decision.status is not None:
            self.value = decision.status

    def on_attempt(self, request: Request, number: int) -> None:
        return None

    def mark(self, response: R) -> R:
        """``response`` with ``X-Cache-Status`` set when a cache decided; returned."""
        if self.value is not None:
            response.headers[STATUS_HEADER] = self.value
        return response


def control_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's cache control header, to hand to the pipeline (nothing else of theirs)."""
    value = headers.get(CONTROL_HEADER)
    return {CONTROL_HEADER: value} if value else {}
