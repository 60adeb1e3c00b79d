"""OpenTelemetry auto-instrumentation: ``OpenResponsesInstrumentor``.

``opentelemetry-instrument python app.py`` (the instrumentor is registered under the
``opentelemetry_instrumentor`` entry point) or ``OpenResponsesInstrumentor().instrument()`` adds
:class:`~openresponses.middleware.Tracing` and :class:`~openresponses.middleware.Metrics`,
outermost, to every ``AsyncClient`` / ``Client``: those created afterwards and those that exist
(they recompose on their next call). ``uninstrument()`` removes them the same way.

Both layers use the global tracer and meter providers (what ``opentelemetry-instrument``
configures from ``OTEL_*`` variables) unless ``tracer_provider=`` / ``meter_provider=`` are
given; content capture follows ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` unless
``capture_content=`` is. A client that already has its own ``Tracing`` (or ``Metrics``) keeps it
and gets no second one. The hook is :func:`openresponses._client.register_default_middleware`:
no monkeypatching. Needs the ``otel`` extra (``opentelemetry-instrumentation`` included).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from .._extras import requires

with requires("OpenResponsesInstrumentor", "otel"):
    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from .._client import register_default_middleware
from .._pipeline import Middleware

__all__ = ["HOOK_NAME", "OpenResponsesInstrumentor"]

HOOK_NAME = "opentelemetry"
"""The name the instrumentor registers its middleware factory under."""


class OpenResponsesInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Add ``Tracing`` and ``Metrics`` to every openresponses client, without code changes.

    ``instrument(tracer_provider=..., meter_provider=..., capture_content=..., tracing=True,
    metrics=True)``; every keyword is optional (``opentelemetry-instrument`` passes none).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """The packages this instruments (checked by ``BaseInstrumentor``)."""
        return ("openresponses-python >= 0.1",)

    def _instrument(self, **kwargs: Any) -> None:
        from ..middleware.metrics import Metrics
        from ..middleware.tracing import Tracing

        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        capture_content = kwargs.get("capture_content")
        want_tracing = kwargs.get("tracing", True)
        want_metrics = kwargs.get("metrics", True)

        def layers(existing: tuple[Middleware, ...]) -> Sequence[Middleware]:
            out: list[Middleware] = []
            if want_tracing and not any(isinstance(layer, Tracing) for layer in existing):
                out.append(Tracing(tracer_provider=tracer_provider, capture_content=capture_content))
            if want_metrics and not any(isinstance(layer, Metrics) for layer in existing):
                out.append(Metrics(meter_provider=meter_provider))
            return out

        register_default_middleware(HOOK_NAME, layers)

    def _uninstrument(self, **kwargs: Any) -> None:
        register_default_middleware(HOOK_NAME, None)
