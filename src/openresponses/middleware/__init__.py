"""Middleware for ``AsyncClient(middleware=[...])`` and ``Provider(middleware=[...])``.

Listed outermost first. Each name is imported on first use, so the optional dependencies of one
middleware (OpenTelemetry, pybreaker, redis) are needed only by those who use it::

    from openresponses.middleware import Retry, Tracing

Without its extra, ``Tracing`` / ``Metrics`` (``otel``) and ``CircuitBreaker`` (``resilience``)
raise :class:`~openresponses.MissingExtraError`, an ``ImportError`` whose one line names the
``pip install`` to run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._extras import requires

if TYPE_CHECKING:
    from .cache import SemanticCache
    from .circuit_breaker import CircuitBreaker
    from .failover import Failover
    from .metrics import Metrics
    from .retry import Retry, RetryBudget, RetryPolicy
    from .stateful import Stateful
    from .timeout import Timeout
    from .tracing import Tracing

__all__ = [
    "CircuitBreaker",
    "Failover",
    "Metrics",
    "Retry",
    "RetryBudget",
    "RetryPolicy",
    "SemanticCache",
    "Stateful",
    "Timeout",
    "Tracing",
]

_MODULES = {
    "CircuitBreaker": "circuit_breaker",
    "Failover": "failover",
    "Metrics": "metrics",
    "Retry": "retry",
    "RetryBudget": "retry",
    "RetryPolicy": "retry",
    "SemanticCache": "cache",
    "Stateful": "stateful",
    "Timeout": "timeout",
    "Tracing": "tracing",
}


# Which extra a middleware's module needs: its absence is one line naming it (MissingExtraError).
_EXTRAS = {"CircuitBreaker": "resilience", "Metrics": "otel", "Tracing": "otel"}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'openresponses.middleware' has no attribute {name!r}")
    extra = _EXTRAS.get(name)
    if extra is None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    else:
        with requires(name, extra):
            value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
