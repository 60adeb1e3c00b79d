"""``Provider``: one upstream in a failover chain, with its own transport and middleware.

A provider is a name, where to send (``base_url`` or any ``Transport``), how to authenticate
(an API key, or the name of the environment variable holding it), which model to ask for (an
override or a map from requested names), and its own middleware (its breaker, its retries, its
per-attempt timeouts). Its handler is ``compose(middleware, AttemptBoundary(transport))``, so
every upstream call is one observable attempt.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from ._errors import ConfigError
from ._failed import RaiseOnFailed
from ._options import config_api_key, config_headers, config_timeout
from ._pipeline import (
    AsyncCloseable,
    AttemptBoundary,
    Handler,
    Middleware,
    ProviderBound,
    Reply,
    Request,
    compose,
)
from ._redact import display_url
from .transports._dialect import HasDefaultBaseURL

if TYPE_CHECKING:
    import httpx

    from ._pipeline import Transport
    from .transports._dialect import Dialect
    from .transports.http import HTTPBackend

__all__ = ["ADAPTERS", "ADAPTER_DIALECTS", "Provider", "dialect_for"]

Adapter = Literal["open-responses", "chat-completions", "anthropic", "gemini", "vertex", "bedrock-converse"]

#: Adapter name -> ``module:Class`` of its default dialect, imported on first use (so the core
#: loads only the wire formats a program uses, and a vendor's optional dependency only then).
ADAPTER_DIALECTS: Mapping[str, str] = MappingProxyType(
    {
        "open-responses": "openresponses.transports._dialect:OpenResponsesDialect",
        "chat-completions": "openresponses.transports.chat_completions:ChatCompletionsDialect",
        "anthropic": "openresponses.transports.anthropic:AnthropicDialect",
        "gemini": "openresponses.transports.gemini:GeminiDialect",
        "vertex": "openresponses.transports.gemini:VertexDialect",
        "bedrock-converse": "openresponses.transports.bedrock:BedrockConverseDialect",
    }
)
#: The wire formats ``Provider(adapter=...)`` speaks.
ADAPTERS: tuple[str, ...] = tuple(ADAPTER_DIALECTS)


class Provider:
    """One upstream of a :class:`~openresponses.middleware.Failover` chain.

    ``api_key_env`` names an environment variable read now (a clear error if it is unset);
    ``api_key`` passes the key directly; neither ever appears in a repr. ``model`` replaces the
    requested model; ``model_map`` maps requested names to this provider's names (unmapped
    names fall back to ``model``, else pass unchanged). ``transport`` replaces the HTTP
    transport (e.g. ``ScriptedTransport`` in tests); ``timeout`` and ``headers`` configure the
    HTTP one. ``middleware`` runs outermost first around this provider's attempts.
    ``adapter`` is the wire format: ``open-responses`` (native, the default) or
    ``chat-completions`` (any OpenAI-compatible ``/chat/completions`` server: Ollama, vLLM,
    TGI, LM Studio, llama.cpp, Groq, ...; translated in-process, see docs/chat-completions.md);
    ``dialect`` passes a configured dialect instead (e.g.
    ``ChatCompletionsDialect(reasoning_field="reasoning")``). ``http_backend="httptools"`` (the
    ``httptools`` extra) or ``"aiohttp"`` (the ``aiohttp`` extra) sends through those instead of
    httpx's pool, at a fraction of the CPU per request (see
    :class:`~openresponses.transports.http.HTTPTransport`).

    ::

        Provider("openai", base_url="https://api.openai.com/v1", api_key_env="OPENAI_API_KEY",
                 model_map={"fast": "gpt-4.1-mini"}, middleware=[Retry(), CircuitBreaker()])
        Provider("ollama", base_url="http://localhost:11434/v1", adapter="chat-completions",
                 model="qwen3:8b")
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
        dialect: Dialect | None = None,
        http_backend: HTTPBackend = "httpx",
    ) -> None:
        if not name:
            raise ValueError("Provider needs a non-empty name")
        if adapter not in ADAPTERS:
            raise ValueError(
                f"Provider {name!r}: unknown adapter {adapter!r}; expected one of {', '.join(ADAPTERS)}."
            )
        if dialect is not None and transport is not None:
            raise ValueError(f"Provider {name!r}: pass dialect or transport, not both")
        if http_backend != "httpx" and transport is not None:
            raise ValueError(
                f"Provider {name!r}: http_backend picks the HTTP transport's client; it does not apply "
                "to your own transport="
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
        self.adapter: str = dialect.name if dialect is not None else adapter
        self.middleware: tuple[Middleware, ...] = tuple(middleware)
        for layer in self.middleware:
            if isinstance(layer, ProviderBound):
                layer.bind(name)  # e.g. a CircuitBreaker takes the provider's name
        if transport is None:
            if dialect is None:
                dialect = dialect_for(adapter)
            if not base_url and isinstance(dialect, HasDefaultBaseURL):
                base_url = dialect.default_base_url  # a vendor's public endpoint
                self.base_url = base_url
            if not base_url:
                raise ValueError(f"Provider {name!r} needs base_url=... or transport=...")
            from .transports.http import DEFAULT_TIMEOUT, HTTPTransport

            # Built now, so a bad base URL, key or timeout fails here, not at the first call.
            transport = HTTPTransport(
                base_url,
                api_key=config_api_key(api_key),
                provider=name,
                timeout=DEFAULT_TIMEOUT if timeout is None else config_timeout(timeout),
                headers=config_headers(headers),
                dialect=dialect,
                http_backend=http_backend,
            )
        self.transport: Transport = transport
        # A whole response reporting failure raises here, as a failed stream does, so this
        # provider's middleware (and a Failover around it) see it as a failure.
        self.handler: Handler = compose(self.middleware, AttemptBoundary(RaiseOnFailed(transport)))

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
            if isinstance(layer, AsyncCloseable):
                await layer.aclose()
        await self.transport.aclose()

    def __repr__(self) -> str:
        parts = [f"{self.name!r}"]
        if self.base_url:
            parts.append(f"base_url={display_url(self.base_url)!r}")  # no userinfo password
        if self.model:
            parts.append(f"model={self.model!r}")
        if self.model_map:
            parts.append(f"model_map={self.model_map!r}")
        if self.adapter != "open-responses":
            parts.append(f"adapter={self.adapter!r}")
        if self.api_key_env:
            parts.append(f"api_key_env={self.api_key_env!r}")
        if self.middleware:
            parts.append(f"middleware={list(self.middleware)!r}")
        return f"Provider({', '.join(parts)})"


def dialect_for(adapter: str, /, **options: Any) -> Dialect:
    """A new dialect for an adapter name, with ``options`` passed to its constructor.

    Imported lazily; an unknown name or option is a ``ConfigError`` naming it.
    """
    target = ADAPTER_DIALECTS.get(adapter)
    if target is None:
        known = ", ".join(ADAPTERS)
        raise ConfigError(f"unknown adapter {adapter!r}; expected one of {known}", key="adapter")
    module_name, _, class_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), class_name)
    try:
        dialect: Dialect = factory(**options)
    except TypeError as exc:
        raise ConfigError(f"adapter {adapter!r}: {exc}", key="adapter") from None
    return dialect
