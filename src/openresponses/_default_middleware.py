"""The default-middleware hook: outer layers added to every ``AsyncClient``, existing ones too.

A small registry the client reads when it composes its pipeline (auto-instrumentation such as
``openresponses.integrations.otel.OpenResponsesInstrumentor`` registers here instead of
monkeypatching). ``openresponses._client`` re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._pipeline import Middleware

__all__ = ["register_default_middleware"]

#: Outer middleware added to every client (auto-instrumentation): name -> factory. A factory gets
#: the client's own middleware and returns the layers to run outermost (none to skip this client).
#: Change it only through :func:`register_default_middleware`; clients recompose on their next call.
_DEFAULT_MIDDLEWARE: dict[str, Callable[[tuple[Middleware, ...]], Sequence[Middleware]]] = {}
_default_generation = [0]


def register_default_middleware(
    name: str, factory: Callable[[tuple[Middleware, ...]], Sequence[Middleware]] | None
) -> None:
    """Add (or, with ``factory=None``, remove) outer middleware for every client, existing ones too.

    The hook ``openresponses.integrations.otel.OpenResponsesInstrumentor`` uses: no monkeypatching.
    Registered factories run in registration order, outermost first; each client calls them when
    it composes its pipeline, and again on its next call after any change here.
    """
    if factory is None:
        _DEFAULT_MIDDLEWARE.pop(name, None)
    else:
        _DEFAULT_MIDDLEWARE[name] = factory
    _default_generation[0] += 1
