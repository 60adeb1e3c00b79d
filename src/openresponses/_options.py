"""Checks on client and provider construction options: a bad value fails at construction.

Each problem is a :class:`~openresponses.ConfigError` (also a ``ValueError``) naming the option,
never showing a key. Shared by ``AsyncClient``, ``Client`` and ``Provider``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError, RequestValidationError
from ._validate import check_headers, check_timeout

if TYPE_CHECKING:
    from ._pipeline import Middleware

__all__ = ["check_http_client", "config_api_key", "config_headers", "config_timeout", "retry_layers"]


def check_http_client(http_client: object, owner: str) -> None:
    """``http_client=`` must be an ``httpx.AsyncClient``: the pipeline is async (the sync
    ``Client`` runs it on a background loop), so a sync ``httpx.Client`` cannot carry it."""
    from .transports._kinds import http_client_kind

    kind = http_client_kind(http_client)
    if kind == "async":
        return
    if kind == "sync":
        why = (
            "openresponses.Client runs the async pipeline on its own background event loop"
            if owner == "Client"
            else "AsyncClient sends with await"
        )
        raise ConfigError(
            f"{owner}(http_client=...) needs an httpx.AsyncClient, got a sync httpx.Client: {why}. "
            "Build httpx.AsyncClient(...) with the same settings (verify=, proxy=, limits=, ...).",
            key="http_client",
        )
    raise ConfigError(
        f"{owner}(http_client=...) needs an httpx.AsyncClient, got {type(http_client).__name__}.",
        key="http_client",
    )


def retry_layers(max_retries: object, layers: Sequence[Middleware]) -> list[Middleware]:
    """The ``Retry`` that ``max_retries=`` stands for, innermost (none for ``None`` or 0)."""
    if max_retries is None:
        return []
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(
            f"expected a whole number >= 0 (retries after the first attempt), got {max_retries!r}",
            key="max_retries",
        )
    from .middleware.retry import Retry, RetryPolicy

    if any(isinstance(layer, Retry) for layer in layers):
        raise ConfigError(
            "pass max_retries= or a Retry middleware, not both "
            "(max_retries=N is Retry(RetryPolicy(attempts=N + 1)))",
            key="max_retries",
        )
    return [Retry(RetryPolicy(attempts=max_retries + 1))] if max_retries else []


def _config_error(exc: RequestValidationError, key: str) -> ConfigError:
    problem = exc.errors[0]["msg"] if exc.errors else str(exc)
    return ConfigError(problem, key=key)


def config_timeout(timeout: object) -> Any:
    try:
        return check_timeout(timeout)
    except RequestValidationError as exc:
        raise _config_error(exc, "timeout") from None


def config_headers(headers: object) -> dict[str, str] | None:
    if headers is None:
        return None
    try:
        return check_headers(headers, "default_headers")
    except RequestValidationError as exc:
        raise _config_error(exc, str(exc.errors[0]["loc"][0]) if exc.errors else "default_headers") from None


def config_api_key(api_key: object) -> str | None:
    """A key must be a header-safe string; the message never shows it."""
    if api_key is None or api_key == "":
        return None
    if not isinstance(api_key, str):
        raise ConfigError(f"expected a string, got {type(api_key).__name__}", key="api_key")
    try:
        check_headers({"authorization": api_key}, "api_key")
    except RequestValidationError:
        raise ConfigError(
            "the key must be printable ASCII without line breaks (check for a trailing newline)",
            key="api_key",
        ) from None
    return api_key
