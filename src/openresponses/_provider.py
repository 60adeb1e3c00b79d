"""``Provider``: one upstream in a failover chain, with its own transport and middleware.

A provider is a name, where to send (``base_url`` or any ``Transport``), how to authenticate
(an API key, or the name of the environment variable holding it), which model to ask for (an
override or a map from requested names), and its own middleware (its breaker, its retries, its
per-attempt timeouts). Its handler is ``compose(middleware, AttemptBoundary(transport))``, so
every upstream call is one observable attempt.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ._errors import ConfigError
from ._pipeline import AttemptBoundary, Handler, Middleware, Reply, Request, compose

if TYPE_CHECKING:
    import httpx

    from ._pipeline import Transport

__all__ = ["Provider"]

Adapter = Literal["open-responses", "chat-completions"]


class Provider:
    """One upstream of a :class:`~openresponses.middleware.Failover` chain.

    ``api_key_env`` names an environment variable read now (a clear error if it is unset);
    ``api_key`` passes the key directly; neither ever appears in a repr. ``model`` replaces the
    requested model; ``model_map`` maps requested names to this provider's names (unmapped
    names fall back to ``model``, else pass unchanged). ``transport`` replaces the HTTP
    transport (e.g. ``ScriptedTransport`` in tests); ``timeout`` and ``headers`` configure the
    HTTP one. ``middleware`` runs outermost first around this provider's attempts.
    ``adapter``: ``open-responses`` (native); the Chat-Completions adapter comes with the
    proxies work.

    ::

        Provider("openai", base_url="https://api.openai.com/v1", api_key_env="OPENAI_API_KEY",
                 model_map={"fast": "gpt-4.1-mini"}, middleware=[Retry(), CircuitBreaker()])
    """

    def __init__(
        self,
        name: str,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        api_key_env: str | None = None,
        model: str | None = None,
        model_map: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        middleware: Iterable[Middleware] = (),
        timeout: float | httpx.Timeout | None = None,
        headers: Mapping[str, str] | None = None,
        adapter: Adapter = "open-responses",
    ) -> None:
        if not name:
            raise ValueError("Provider needs a non-empty name")
        if adapter != "open-responses":
            raise ValueError(
                f"Provider {name!r}: adapter {adapter!r} is not available yet; only 'open-responses' "
                "(the Chat-Completions adapter ships with the proxies work)."
            )
        if api_key is not None and api_key_env is not None:
            raise ValueError(f"Provider {name!r}: pass api_key or api_key_env, not both")
        if api_key_env is not None:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                raise ConfigError(
                    f"environment variable {api_key_env} is not set (it should hold the API key "
                    f"of provider {name!r})",
                    key=f"providers.{name}.api_key_env",
                )
        self.name = name
        self.base_url = base_url
        self.model = model
        self.model_map: dict[str, str] = dict(model_map or {})
        self.api_key_env = api_key_env
        self.adapter: Adapter = adapter
        self.middleware: tuple[Middleware, ...] = tuple(middleware)
        for layer in self.middleware:
            bind = getattr(layer, "bind", None)
            if callable(bind):
                bind(name)  # e.g. a CircuitBreaker takes the provider's name
            if getattr(layer, "is_terminal", False):
                raise ValueError(f"Provider {name!r}: {type(layer).__name__} cannot be nested in a provider")
        if transport is None:
            if not base_url:
                raise ValueError(f"Provider {name!r} needs base_url=... or transport=...")
            from .transports.http import DEFAULT_TIMEOUT, HTTPTransport

            transport = HTTPTransport(
                base_url,
                api_key=api_key,
                provider=name,
                timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
                headers=headers,
            )
        self.transport: Transport = transport
        self.handler: Handler = compose(self.middleware, AttemptBoundary(transport))

    def prepare(self, request: Request) -> Request:
        """The request as this provider should receive it (model override / map applied)."""
        requested = request.body.model
        model = self.model_map.get(requested, self.model) if requested is not None else self.model
        if model is None or model == requested:
            return request
        return request.replace(body=request.body.model_copy(update={"model": model}))

    async def __call__(self, request: Request, /) -> Reply:
        """Send through this provider's middleware and transport (model mapping applied)."""
        return await self.handler(self.prepare(request))

    async def aclose(self) -> None:
        """Close the transport and any middleware holding resources."""
        for layer in self.middleware:
            close: Any = getattr(layer, "aclose", None)
            if close is not None:
                await close()
        await self.transport.aclose()

    def __repr__(self) -> str:
        parts = [f"{self.name!r}"]
        if self.base_url:
            parts.append(f"base_url={self.base_url!r}")
        if self.model:
            parts.append(f"model={self.model!r}")
        if self.model_map:
            parts.append(f"model_map={self.model_map!r}")
        if self.api_key_env:
            parts.append(f"api_key_env={self.api_key_env!r}")
        if self.middleware:
            parts.append(f"middleware={list(self.middleware)!r}")
        return f"Provider({', '.join(parts)})"
