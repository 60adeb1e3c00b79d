"""Middleware for ``AsyncClient(middleware=[...])`` and ``Provider(middleware=[...])``.

Listed outermost first. Each name is imported on first use, so the optional dependencies of one
middleware (OpenTelemetry, pybreaker, redis) are needed only by those who use it::

    from openresponses.middleware import Retry, Tracing
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    "Stateful": "stateful",
    "Timeout": "timeout",
    "Tracing": "tracing",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'openresponses.middleware' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
