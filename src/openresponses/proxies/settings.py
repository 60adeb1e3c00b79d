"""``ProxySettings``: everything the served proxy is configured with, checked before it starts.

The CLI builds one from its flags; ``--workers N`` hands it to each uvicorn worker through one
environment variable (``OPENRESPONSES_PROXY_SETTINGS``, JSON) because uvicorn starts workers from
an import string (``openresponses.cli.proxy:worker_app``), not from an object. Only
names of environment variables travel there, never a key.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from .._errors import ConfigError
from .presets import Api, Preset, get_preset

if TYPE_CHECKING:
    from ..transports.http import HTTPBackend

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_STORE_TTL",
    "ENV_SETTINGS",
    "ProxySettings",
    "StoreSpec",
    "parse_store",
]

ENV_SETTINGS = "OPENRESPONSES_PROXY_SETTINGS"
#: How long the proxy keeps a stored response by default: 30 days, as OpenAI keeps them.
DEFAULT_STORE_TTL = 30 * 86400.0
DEFAULT_MAX_BODY = 16 * 1024 * 1024
_APIS = ("responses", "chat-completions")
_HTTP_BACKENDS = ("auto", "httptools", "aiohttp", "httpx")
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """A parsed ``--store`` value: ``kind`` and, for sqlite and redis, where."""

    kind: Literal["memory", "sqlite", "redis", "none"]
    target: str | None = None

    @property
    def shared(self) -> bool:
        """Whether several worker processes see the same responses (sqlite, redis)."""
        return self.kind in ("sqlite", "redis")

    def __str__(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:{self.target}"
        if self.kind == "redis":
            return _redact_url(self.target or "")
        return self.kind


def parse_store(value: str, *, flag: str = "--store") -> StoreSpec:
    """``memory`` | ``none`` | ``sqlite:PATH`` | ``redis://HOST:PORT/DB`` (or ``rediss://``)."""
    text = value.strip()
    if text in ("memory", "none"):
        return StoreSpec(text)  # type: ignore[arg-type]
    if text.startswith("sqlite:"):
        path = text[len("sqlite:") :]
        if not path:
            raise ConfigError(
                f"sqlite needs a file path: {flag} sqlite:/var/lib/proxy/responses.db", key=flag
            )
        return StoreSpec("sqlite", path)
    if text.startswith(("redis://", "rediss://", "unix://")):
        return StoreSpec("redis", text)
    raise ConfigError(
        f"expected memory, none, sqlite:PATH or redis://HOST:PORT/DB, got {_redact_url(text)!r}",
        key=flag,
    )


def _redact_url(url: str) -> str:
    """``redis://:secret@host`` -> ``redis://***@host``: a store URL may carry a password."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """The served proxy's configuration (see ``openresponses proxy --help`` and docs/proxy.md).

    Exactly one of ``preset`` and ``config`` names the upstream. ``base_url``, ``api`` and
    ``model`` override the preset; ``upstream_api_key_env`` its key variable. ``api_key_env``
    names the variable holding the key *clients* must send (``Authorization: Bearer``; unset:
    no inbound auth). ``store`` is ``auto`` (memory, except in front of a native Responses
    upstream that keeps state itself), ``memory``, ``none``, ``sqlite:PATH`` or a redis URL;
    ``store_ttl`` how long it keeps a response (seconds; default 30 days, as OpenAI keeps stored
    responses; ``None``: until evicted) and ``store_max_entries`` how many (beyond it memory
    drops the least recently used, SQLite the oldest stored; ``None``: 10,000 in memory, no
    limit in SQLite; Redis is bounded by the TTL and its own ``maxmemory`` policy).
    ``redis_url`` is the Redis that workers and hosts share: the response store when ``store``
    is ``auto`` (where a store is needed), and the state of every circuit breaker of a
    ``config`` file that names no ``redis_url`` of its own. ``cache`` turns on the semantic cache
    (``memory``, ``sqlite:PATH`` or a redis URL; ``None``: no cache), answering with an
    ``X-Cache-Status`` header.
    Timeouts are seconds (``None``: no limit): ``first_event`` and ``idle`` bound streams,
    ``non_stream`` a whole non-streamed call (its answer arrives at once, so nothing else can
    tell a hung upstream from a long answer), ``total`` any call; ``retries`` counts attempts
    per call (1: none).
    ``http_backend`` is the HTTP client the upstream calls go through: ``auto`` (httptools when
    installed, as the ``proxy`` extra does; else aiohttp; else httpx), ``httptools``,
    ``aiohttp`` or ``httpx``.
    """

    preset: str | None = None
    config: str | None = None
    chain: str | None = None
    base_url: str | None = None
    api: Api | None = None
    model: str | None = None
    upstream_api_key_env: str | None = None
    api_key_env: str | None = None
    store: str = "auto"
    store_ttl: float | None = DEFAULT_STORE_TTL
    store_max_entries: int | None = None
    redis_url: str | None = None
    cache: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    first_event_timeout: float | None = 60.0
    idle_timeout: float | None = 300.0
    total_timeout: float | None = None
    non_stream_timeout: float | None = 300.0
    retries: int = 2
    http_backend: str = "auto"
    trace: bool = False
    host: str = "127.0.0.1"
    port: int | None = None
    workers: int = 1
    log_level: str = "info"

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{f.name}={_redact_url(v) if f.name in ('store', 'redis_url', 'cache') else v!r}"
            for f in dataclasses.fields(self)
            if (v := getattr(self, f.name)) != f.default
        )
        return f"ProxySettings({fields})"

    # -- derived --------------------------------------------------------------------------------

    @property
    def preset_object(self) -> Preset | None:
        """The :class:`Preset` named by ``preset``, if any."""
        return get_preset(self.preset) if self.preset else None

    @property
    def effective_api(self) -> Api | None:
        """The API spoken to the upstream: ``api`` or the preset's (``None`` with ``config``)."""
        preset = self.preset_object
        return self.api or (preset.api if preset is not None else None)

    def store_spec(self) -> StoreSpec:
        """``store`` parsed, with ``auto`` resolved."""
        if self.store != "auto":
            return parse_store(self.store)
        preset = self.preset_object
        if preset is not None and preset.stateful and self.effective_api == "responses":
            return StoreSpec("none")  # the upstream resolves previous_response_id itself
        if self.redis_url is not None:
            return StoreSpec("redis", self.redis_url)
        return StoreSpec("memory")

    def bind_port(self) -> int:
        """The port to listen on: ``port``, else the preset's, else 8000."""
        if self.port is not None:
            return self.port
        preset = self.preset_object
        return preset.port if preset is not None else 8000

    # -- checks ---------------------------------------------------------------------------------

    def validate(self) -> ProxySettings:
        """Raise ``ConfigError`` naming the flag when the combination cannot work; return self."""
        if (self.preset is None) == (self.config is None):
            raise ConfigError("pass exactly one of --preset NAME and --config FILE", key="--preset")
        if self.preset is not None:
            get_preset(self.preset)
        if self.config is not None:
            for flag, value in (("--base-url", self.base_url), ("--api", self.api), ("--model", self.model)):
                if value is not None:
                    raise ConfigError(f"{flag} applies to presets; set it in {self.config}", key=flag)
            if self.upstream_api_key_env is not None:
                raise ConfigError(
                    "name each provider's key with api_key_env in the config file", key="--config"
                )
        elif self.chain is not None:
            raise ConfigError("--chain needs --config", key="--chain")
        if self.api is not None and self.api not in _APIS:
            raise ConfigError(f"expected one of {', '.join(_APIS)}, got {self.api!r}", key="--api")
        preset = self.preset_object
        if self.api is not None and preset is not None and preset.api not in _APIS and self.api != preset.api:
            raise ConfigError(
                f"--preset {preset.name} speaks its vendor's own API ({preset.api}); --api applies to "
                "the Chat Completions and Responses presets",
                key="--api",
            )
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                f"expected a redis://, rediss:// or unix:// URL, got {_redact_url(self.redis_url)!r}",
                key="--redis-url",
            )
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"expected an http(s) URL, got {self.base_url!r}", key="--base-url")
        if self.max_body_bytes < 1024:
            raise ConfigError(f"must be at least 1024 bytes, got {self.max_body_bytes}", key="--max-body")
        for flag, timeout in (
            ("--first-event-timeout", self.first_event_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--total-timeout", self.total_timeout),
            ("--non-stream-timeout", self.non_stream_timeout),
        ):
            if timeout is not None and timeout <= 0:
                raise ConfigError(f"must be > 0 seconds, got {timeout!r}", key=flag)
        if self.retries < 1:
            raise ConfigError(f"counts attempts and must be >= 1, got {self.retries}", key="--retries")
        if self.http_backend not in _HTTP_BACKENDS:
            raise ConfigError(
                f"expected one of {', '.join(_HTTP_BACKENDS)}, got {self.http_backend!r}",
                key="--http-backend",
            )
        if self.http_backend in ("aiohttp", "httptools"):
            from ..transports._aiohttp import import_aiohttp
            from ..transports._httptools import import_httptools

            try:
                (import_aiohttp if self.http_backend == "aiohttp" else import_httptools)()
            except ImportError as exc:
                raise ConfigError(str(exc), key="--http-backend") from None
        if self.workers < 1:
            raise ConfigError(f"must be >= 1, got {self.workers}", key="--workers")
        if self.port is not None and not 0 <= self.port <= 65535:
            raise ConfigError(f"must be 0..65535, got {self.port}", key="--port")
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(
                f"expected one of {', '.join(_LOG_LEVELS)}, got {self.log_level!r}", key="--log-level"
            )
        if self.cache is not None:
            cache = parse_store(self.cache, flag="--cache")
            if cache.kind == "none":
                raise ConfigError("expected memory, sqlite:PATH or redis://HOST:PORT/DB", key="--cache")
            if self.workers > 1 and cache.kind == "memory":
                raise ConfigError(
                    f"--workers {self.workers} with --cache memory: each worker would cache apart; "
                    "use --cache sqlite:PATH or --cache redis://HOST:PORT/DB",
                    key="--cache",
                )
        spec = self.store_spec()
        if self.store_ttl is not None and not self.store_ttl > 0:
            raise ConfigError(f"must be > 0 seconds or none, got {self.store_ttl!r}", key="--store-ttl")
        if self.store_max_entries is not None:
            if self.store_max_entries < 1:
                raise ConfigError(f"must be >= 1, got {self.store_max_entries}", key="--store-max-entries")
            if spec.kind == "redis":
                raise ConfigError(
                    "a Redis store is bounded by --store-ttl and the server's maxmemory policy, "
                    "not by a count",
                    key="--store-max-entries",
                )
        if self.workers > 1 and spec.kind == "memory":  # "none" keeps nothing, so nothing to share
            raise ConfigError(
                f"--workers {self.workers} needs a store the workers share: --store sqlite:PATH or "
                f"--store redis://HOST:PORT/DB or --redis-url (with {spec.kind!s}, a response stored "
                "by one worker is unknown to the others)",
                key="--store",
            )
        if self.workers > 1 and self.port == 0:
            raise ConfigError("--port 0 cannot be combined with --workers > 1", key="--port")
        return self

    # -- hand-over to worker processes ----------------------------------------------------------

    def resolved_http_backend(self) -> HTTPBackend:
        """``http_backend`` with ``auto`` resolved: httptools when it can be imported (the
        ``proxy`` extra installs it), else aiohttp, else httpx."""
        if self.http_backend != "auto":
            return cast("HTTPBackend", self.http_backend)
        if importlib.util.find_spec("httptools") is not None:
            return "httptools"
        return "aiohttp" if importlib.util.find_spec("aiohttp") is not None else "httpx"

    def to_env(self) -> dict[str, str]:
        """The environment variable that carries these settings to a worker process."""
        return {ENV_SETTINGS: json.dumps(dataclasses.asdict(self), sort_keys=True)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProxySettings:
        """Settings written by :meth:`to_env` (a clear ``ConfigError`` if missing or invalid)."""
        env = os.environ if environ is None else environ
        raw = env.get(ENV_SETTINGS)
        if not raw:
            raise ConfigError(
                f"{ENV_SETTINGS} is not set: start the proxy with `openresponses proxy ...` "
                "(it sets it for its workers)",
                key=ENV_SETTINGS,
            )
        try:
            data: Any = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"not valid JSON: {exc}", key=ENV_SETTINGS) from None
        if not isinstance(data, dict):
            raise ConfigError("expected a JSON object", key=ENV_SETTINGS)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown settings {unknown}", key=ENV_SETTINGS)
        return cls(**data).validate()
