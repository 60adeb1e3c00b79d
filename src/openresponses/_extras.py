"""Optional dependencies: one clear line naming the extra to install when one is missing.

The core needs only httpx and pydantic; OpenTelemetry (``otel``), pybreaker and redis
(``resilience``), Starlette (``proxy``) and jsonschema (``check``) are extras. An import site that
needs one wraps the import in :func:`requires`, so a user without the extra reads
``Tracing needs the 'otel' extra: pip install 'openresponses-python[otel]'`` instead of a bare
``ModuleNotFoundError: No module named 'opentelemetry'`` several frames deep.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["EXTRA_PACKAGES", "MissingExtraError", "requires"]

EXTRA_PACKAGES: dict[str, tuple[str, ...]] = {
    "otel": ("opentelemetry",),
    "resilience": ("pybreaker", "redis"),
    "proxy": ("starlette", "uvicorn"),
    "aiohttp": ("aiohttp", "yarl", "multidict"),
    "httptools": ("httptools",),
    "store": ("redis",),
    "cache": ("redis",),
    "check": ("jsonschema",),
    "websocket": ("websockets",),
    "bedrock": ("botocore",),
    "vertex": ("google",),
    "pydantic-ai": ("pydantic_ai", "pydantic_graph"),
    "agents": ("agents", "openai"),
    "langchain": ("langchain_core",),
}
"""Top-level module names each extra provides (which missing module means which extra)."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that provides it.

    An :class:`ImportError` (so ``except ImportError`` keeps working), with ``.feature`` (what
    needed it), ``.extra`` (the ``pip install 'openresponses-python[EXTRA]'`` name) and ``.name``
    (the module that is missing).
    """

    def __init__(self, feature: str, extra: str, *, missing: str | None = None) -> None:
        self.feature = feature
        self.extra = extra
        message = f"{feature} needs the '{extra}' extra: pip install 'openresponses-python[{extra}]'"
        if missing:
            message += f" (no module named {missing!r})"
        super().__init__(message, name=missing)


@contextmanager
def requires(feature: str, extra: str) -> Iterator[None]:
    """Turn a ``ModuleNotFoundError`` for one of ``extra``'s packages into :class:`MissingExtraError`.

    Only the extra's own packages are translated: a missing module of ours, or a broken
    installation of something else, still raises as it is (it is a bug, not a missing extra).
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing.split(".")[0] not in EXTRA_PACKAGES.get(extra, ()):
            raise
        # Not chained: the one line says it all, and the cause would double the traceback.
        raise MissingExtraError(feature, extra, missing=missing) from None
