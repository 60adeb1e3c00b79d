"""The proxy's side facing the provider: an ``AsyncClient`` pipeline built from ``ProxySettings``.

The proxy is a client like any other: the same middleware and the same ``Provider`` serve an
in-process caller and a served one. The default stack, outermost first::

    Tracing (--trace)  ->  Stateful(store) (unless --store none)
      ->  SummaryCompaction (when an upstream speaks Chat Completions)
      ->  Timeout(first_event=60 s, idle=300 s, total=--total-timeout)  ->  Retry(attempts=2)
      ->  Provider (preset) | Failover (config file)

``Timeout`` sits outside ``Retry`` on purpose: a silent upstream gets one first-event budget for
all attempts (a 504 after 60 s, not after two minutes), while quick failures (connection refused,
a 503) are retried within it. With ``--config`` the file's providers carry their own retries,
breakers and timeouts, so only the outer ``Timeout`` is added.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._client import AsyncClient
from .._errors import ConfigError
from .._provider import Provider, dialect_for
from ..transports._dialect import HasDefaultBaseURL
from ._errors import MIN_SECRET_LENGTH, Redactor
from .settings import ProxySettings, StoreSpec, parse_store

if TYPE_CHECKING:
    from .._pipeline import Handler, Middleware
    from ..transports.passthrough import Passthrough

__all__ = [
    "Upstream",
    "build_upstream",
    "check_store",
    "exposure_warnings",
    "open_store",
    "per_process_warnings",
]

logger = logging.getLogger("openresponses.proxy")


@dataclass(slots=True)
class Upstream:
    """What the app talks to: the client pipeline, the ``/models`` passthrough and the redactor.

    ``redactor`` knows every key the proxy holds (the upstream keys and the inbound one).
    ``label`` describes the upstream for logs: names and URLs, never keys.
    """

    client: AsyncClient
    models: Passthrough | None
    redactor: Redactor
    label: str
    #: Circuit breakers whose state is per process (no Redis): with several workers, each
    #: worker counts failures and opens its own breaker.
    local_breakers: tuple[str, ...] = ()
    #: Every provider is translated (none speaks Open Responses natively): their own token limits
    #: start at 1, so a ``max_output_tokens`` under the spec's minimum of 16 can be passed on.
    translated: bool = False
    #: ``--trace``: the proxy's own spans continue the caller's trace and send their own context.
    traced: bool = False

    async def aclose(self) -> None:
        """Close the client (transports, stores) and the passthrough pool."""
        try:
            await self.client.aclose()
        finally:
            if self.models is not None:
                await self.models.aclose()


def open_store(spec: StoreSpec, *, ttl: float | None = None, max_entries: int | None = None) -> Any:
    """The ``ResponseStore`` for a ``--store`` value (``None`` for ``none``), bounded by ``ttl``
    seconds and ``max_entries`` (``None``: the store's own default)."""
    from ..store import MemoryStore, SQLiteStore

    if spec.kind == "none":
        return None
    if spec.kind == "memory":
        return MemoryStore(ttl=ttl) if max_entries is None else MemoryStore(ttl=ttl, max_entries=max_entries)
    if spec.kind == "sqlite":
        assert spec.target is not None
        return SQLiteStore(spec.target, ttl=ttl, max_entries=max_entries)
    try:
        from ..store import RedisStore
    except ImportError as exc:
        raise ConfigError(
            f"--store {spec} needs redis: pip install 'openresponses-python[store]' ({exc})", key="--store"
        ) from None
    return RedisStore(spec.target, ttl=ttl)


def _settings_store(settings: ProxySettings, spec: StoreSpec) -> Any:
    """The store ``spec`` names, bounded as the settings say (``--store-ttl``, ``--store-max-entries``)."""
    return open_store(spec, ttl=settings.store_ttl, max_entries=settings.store_max_entries)


def _env_key(name: str | None) -> str | None:
    return os.environ.get(name) if name else None


def _preset_provider(settings: ProxySettings) -> Provider:
    preset = settings.preset_object
    assert preset is not None
    api = settings.effective_api
    adapter = preset.adapter(api)
    key_env = settings.upstream_api_key_env or preset.api_key_env
    required = preset.key_required or settings.upstream_api_key_env is not None
    if key_env is not None and required and not _env_key(key_env):
        raise ConfigError(
            f"environment variable {key_env} is not set: it must hold the {preset.name} API key "
            "(the proxy reads it from its own environment; clients never send it)",
            key="--upstream-api-key-env" if settings.upstream_api_key_env else "--preset",
        )
    if api == "responses" and preset.native_responses is None:
        logger.warning("%s has no native Responses API known to work: --api responses may fail", preset.name)
    dialect: Any = None
    if adapter != "open-responses":
        dialect = _dialect(preset.name, adapter, dict(preset.dialect_options))
    # A vendor dialect computes its endpoint from its own settings (Vertex: the location).
    vendor_url = dialect.default_base_url if isinstance(dialect, HasDefaultBaseURL) else None
    return Provider(
        preset.name,
        settings.base_url or vendor_url or preset.base_url,
        api_key_env=key_env if key_env is not None and _env_key(key_env) else None,
        model=settings.model or preset.model,
        adapter=adapter,
        dialect=dialect,
        http_backend=settings.resolved_http_backend(),
    )


def _dialect(name: str, adapter: str, options: dict[str, Any]) -> Any:
    try:
        return dialect_for(adapter, **options)
    except ConfigError:
        raise  # names its own key (an unknown option, a missing project, ...)
    except ValueError as exc:
        raise ConfigError(
            f"the {name} preset's dialect options are not accepted: {exc}", key="--preset"
        ) from exc


def _middleware(settings: ProxySettings, *, retries: bool, compaction: bool) -> list[Middleware]:
    from ..middleware.retry import Retry, RetryPolicy
    from ..middleware.timeout import Timeout

    stack: list[Any] = []
    if settings.trace:
        try:
            from ..middleware.tracing import Tracing
        except ImportError as exc:
            raise ConfigError(
                f"--trace needs OpenTelemetry: pip install 'openresponses-python[otel]' ({exc})",
                key="--trace",
            ) from None
        stack.append(Tracing())
    store = _settings_store(settings, settings.store_spec())
    if store is not None:
        from ..middleware.stateful import Stateful

        stack.append(Stateful(store))
    if settings.cache is not None:
        # Inside Stateful (the cache sees the expanded history: a continuation never hits an
        # answer given to another chain), outside Retry (a hit never reaches the upstream).
        stack.append(_semantic_cache(settings.cache))
    if compaction:
        # Inside Stateful (previous_response_id already expanded), outside Timeout and Retry
        # (the summarising call is bounded and retried like any other).
        from .compaction import SummaryCompaction

        stack.append(SummaryCompaction())
    limits = (settings.first_event_timeout, settings.idle_timeout, settings.total_timeout)
    if any(limits) or settings.non_stream_timeout:
        stack.append(
            Timeout(
                settings.total_timeout,
                first_event=settings.first_event_timeout,
                idle=settings.idle_timeout,
                non_stream=settings.non_stream_timeout,
            )
        )
    if retries and settings.retries > 1:
        # Short waits only: a client behind the proxy has its own retry logic, and a long
        # Retry-After is better passed on (with the 429) than slept through here.
        stack.append(
            Retry(RetryPolicy(attempts=settings.retries, base_delay=0.2, max_delay=2.0, max_retry_after=2.0))
        )
    return stack


def _semantic_cache(value: str) -> Middleware:
    """``--cache memory | sqlite:PATH | redis://...`` as a SemanticCache on that store."""
    spec = parse_store(value, flag="--cache")
    try:
        from ..cache import MemoryStore, RedisStore, SQLiteStore
        from ..middleware.cache import SemanticCache
    except ImportError as exc:
        raise ConfigError(
            f"--cache needs the 'cache' extra: pip install 'openresponses-python[cache]' ({exc})",
            key="--cache",
        ) from None
    store: Any
    if spec.kind == "sqlite":
        store = SQLiteStore(spec.target or "")
    elif spec.kind == "redis":
        store = RedisStore(spec.target)
    else:
        store = MemoryStore()
    return SemanticCache(store)


def build_upstream(settings: ProxySettings, *, inbound_key: str | None = None) -> Upstream:
    """Build the pipeline, the ``/models`` passthrough and the redactor for ``settings``.

    Raises ``ConfigError`` (naming the flag or the config key) for anything that cannot work:
    an unknown preset, a missing upstream key, a bad config file, a store that cannot open.
    """
    from ..transports.passthrough import Passthrough

    settings.validate()
    endpoint: Handler
    if settings.config is not None:
        from .._config import load_client_options

        options = load_client_options(
            settings.config,
            chain=settings.chain,
            redis_url=settings.redis_url,
            http_backend=settings.resolved_http_backend(),
        )
        endpoint = options["endpoint"]
        providers: Sequence[Provider] = tuple(getattr(endpoint, "providers", ()))
        chat = any(p.adapter != "open-responses" for p in providers)  # translated upstreams
        middleware = [*_middleware(settings, retries=False, compaction=chat), *options["middleware"]]
        label = f"{settings.config} ({', '.join(p.name for p in providers)})"
    else:
        provider = _preset_provider(settings)
        providers, endpoint = (provider,), provider
        middleware = _middleware(settings, retries=True, compaction=provider.adapter != "open-responses")
        label = f"{provider.name} -> {provider.base_url} ({settings.effective_api})"
    keys = [_env_key(p.api_key_env) for p in providers]
    for secret in (*keys, inbound_key):
        if secret and len(secret) < MIN_SECRET_LENGTH:
            logger.warning(
                "a configured API key is shorter than %d characters: it cannot be redacted", MIN_SECRET_LENGTH
            )
    client = AsyncClient(middleware=middleware, endpoint=endpoint)
    models = None
    if providers and providers[0].base_url:
        first = providers[0]
        models = Passthrough(first.base_url or "", api_key=keys[0], provider=first.name)
    return Upstream(
        client=client,
        models=models,
        redactor=Redactor([*keys, inbound_key]),
        label=label,
        local_breakers=_local_breakers(providers),
        translated=bool(providers) and all(p.adapter != "open-responses" for p in providers),
        traced=settings.trace,
    )


def _local_breakers(providers: Sequence[Provider]) -> tuple[str, ...]:
    try:
        from ..middleware.circuit_breaker import CircuitBreaker
    except ImportError:  # no `resilience` extra: no breaker can exist (the proxy needs none)
        return ()

    return tuple(
        layer.name or provider.name
        for provider in providers
        for layer in provider.middleware
        if isinstance(layer, CircuitBreaker) and not layer.shared
    )


def per_process_warnings(settings: ProxySettings, upstream: Upstream) -> list[str]:
    """What is *not* shared between ``settings.workers`` worker processes, one line each.

    Nothing with one worker. With several: circuit breakers without Redis (each worker opens
    its own), and a SQLite store (shared by the workers of this host only, not by other hosts).
    """
    if settings.workers <= 1:
        return []
    lines: list[str] = []
    if upstream.local_breakers:
        lines.append(
            f"--workers {settings.workers}: circuit breaker state is per worker process for "
            f"{', '.join(upstream.local_breakers)} (each worker counts failures and opens on its own); "
            "set --redis-url (or redis_url in the config file's [circuit_breaker]) to share it"
        )
    spec = settings.store_spec()
    if spec.kind == "sqlite":
        lines.append(
            f"--workers {settings.workers}: the response store {spec} is shared by this host's workers "
            "(SQLite in WAL mode); use --redis-url to share it with other hosts"
        )
    return lines


def check_store(settings: ProxySettings) -> None:
    """Open the configured response store once and read from it: a ``ConfigError`` naming the
    flag when it cannot be used (a SQLite path in a missing directory, a Redis that does not
    answer), so the proxy refuses to start rather than answering every continuation with an
    error. Memory and ``none`` need no check."""
    import asyncio

    from .._redact import scrub

    spec = settings.store_spec()
    if spec.kind in ("none", "memory"):
        return
    flag = "--redis-url" if settings.store == "auto" else "--store"
    store = _settings_store(settings, spec)

    async def probe() -> None:
        try:
            await store.get("resp_startup_probe")
        finally:
            await store.aclose()

    try:
        asyncio.run(probe())
    except Exception as exc:  # any failure here is the store's: say which and why, in one line
        reason = scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise ConfigError(f"the response store {spec} cannot be used: {reason}", key=flag) from None


def exposure_warnings(settings: ProxySettings) -> list[str]:
    """Start-up warnings about who can reach the proxy: bound beyond loopback without an
    inbound key means anyone who reaches the port spends the upstream key."""
    if _is_loopback(settings.host) or settings.api_key_env:
        return []
    return [
        f"--host {settings.host} without --api-key-env: anyone who can reach this port can use the "
        "proxy, and the upstream key behind it; set --api-key-env VAR (clients then send "
        "Authorization: Bearer $VAR)"
    ]


def _is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ``::1``, IPv4-mapped forms)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a host name: it may resolve anywhere
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)
