"""Where telemetry goes: OTLP (Jaeger, any collector), the console, memory, or a terminal tree.

::

    from openresponses import exporters

    telemetry = exporters.setup(service_name="my-service")      # OTLP/HTTP to localhost:4318
    ...
    telemetry.shutdown()                                          # flushes

    mem = exporters.memory()                                      # for tests: in-memory providers
    client = AsyncClient(..., middleware=[Tracing(tracer_provider=mem.tracer_provider)])
    print(mem.render_last_trace())

OpenTelemetry is imported on first use (the ``otel`` extra), so the names in ``semconv`` can be
used without it; without it, ``exporters.memory`` / ``setup`` / ``Telemetry`` raise
:class:`~openresponses.MissingExtraError` naming ``pip install 'openresponses-python[otel]'``.
``Telemetry.shutdown()`` is bounded (3 s by default): an unreachable collector costs one warning
line, not a long wait.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._extras import MissingExtraError
from . import semconv

if TYPE_CHECKING:
    from .otel import MemoryTelemetry, Telemetry, memory, setup
    from .tree import print_last_trace, render_trace

__all__ = ["MemoryTelemetry", "Telemetry", "memory", "print_last_trace", "render_trace", "semconv", "setup"]

_LAZY = {
    "MemoryTelemetry": "otel",
    "Telemetry": "otel",
    "memory": "otel",
    "setup": "otel",
    "print_last_trace": "tree",
    "render_trace": "tree",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'openresponses.exporters' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    except MissingExtraError as exc:  # name what the caller asked for, not our module
        raise MissingExtraError(f"exporters.{name}", exc.extra, missing=exc.name) from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
