"""``RedisStore``: responses in Redis, shared by every process and host that uses the same server.

One key per response (``{prefix}{id}``, the record's JSON) written with ``SET ... PX`` so Redis
itself expires it; there is no size bound here: the bound is the server's ``maxmemory`` with an
eviction policy (``volatile-ttl`` or ``allkeys-lru``). It uses redis-py's asyncio client
(``redis.asyncio``) with short socket timeouts and a single immediate retry (a pooled connection
the server closed), so a dead Redis fails a call in about ``2 * timeout`` with a typed
:class:`~openresponses.store.StoreError` instead of hanging it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit, urlunsplit

from .._errors import OpenResponsesError
from ._base import Clock, StoredResponse, StoreError, validate_bounds, wall_time

__all__ = ["RedisConnection", "RedisStore"]

_EXTRA = "RedisStore needs the redis package: pip install 'openresponses-python[store]'"


def import_redis(message: str = _EXTRA) -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError:
        raise ImportError(message) from None
    return redis_asyncio


def connect_redis(url: str, timeout: float, *, message: str = _EXTRA) -> Any:
    """An asyncio Redis client for a store: ``timeout`` bounds connecting and each command, and
    a failed command is not retried (the caller decides what an outage means)."""
    redis_asyncio = import_redis(message)
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return redis_asyncio.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        retry_on_timeout=False,
    )


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for reprs and error messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable redis url>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class RedisConnection:
    """The connection half of a Redis-backed store, shared by this module's ``RedisStore`` and the
    cache's: ``url`` or ``client=`` (exactly one), the ``timeout`` for connecting and each
    command, the clock, closing only a pool it opened, and one typed error per failed command.

    A subclass names its error type, its label in messages and the missing-extra message.
    """

    __slots__ = ("_client", "_clock", "_owned", "_url", "timeout")

    #: Builds the error of a failed command: ``(message, store=, operation=)``.
    _error: ClassVar[Callable[..., OpenResponsesError]] = StoreError
    _label: ClassVar[str] = "Redis store"
    _extra: ClassVar[str] = _EXTRA

    def __init__(self, url: str | None, client: Any, timeout: float, clock: Clock | None) -> None:
        if (url is None) == (client is None):
            raise ValueError("RedisStore: pass exactly one of url and client")
        if not timeout > 0:
            raise ValueError(f"RedisStore: timeout must be > 0 seconds, not {timeout!r}")
        import_redis(self._extra)  # fail now, with the extra's name, rather than on the first call
        self.timeout = timeout
        self._url = url
        self._owned = client is None
        self._clock: Clock = clock or wall_time
        self._client: Any = client if client is not None else self._connect()

    @property
    def url(self) -> str | None:
        """The server URL with any password masked (``None`` when built from a client)."""
        return None if self._url is None else redact_url(self._url)

    async def aclose(self) -> None:
        """Close the connection pool this store opened (never a ``client=`` you passed)."""
        if not self._owned or self._client is None:
            return
        client, self._client = self._client, None
        close = getattr(client, "aclose", None) or client.close
        with contextlib.suppress(Exception):  # a pool whose server is gone: nothing left to release
            await close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _connect(self) -> Any:
        assert self._url is not None
        return connect_redis(self._url, self.timeout, message=self._extra)

    def _ensure(self) -> Any:
        if self._client is None:  # reopened after aclose
            self._client = self._connect()
        return self._client

    def _where(self) -> str:
        return repr(self.url) if self._url is not None else "(client)"

    async def _command(self, operation: str, awaitable: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return await awaitable
        except (TimeoutError, RedisError, OSError) as exc:
            # redis-py messages name host and port, never the password; the URL is redacted.
            raise self._error(
                f"{self._label} {self._where()} failed on {operation}: {type(exc).__name__}: {exc}",
                store="redis",
                operation=operation,
            ) from exc


class RedisStore(RedisConnection):
    """A :class:`~openresponses.store.ResponseStore` in Redis: ``previous_response_id`` across a fleet.

    ``url`` is a redis-py URL (``redis://[:password@]host:port/db``, ``rediss://`` for TLS);
    or pass ``client=`` (a ``redis.asyncio.Redis`` you own and close). ``prefix`` namespaces the
    keys; ``ttl`` (seconds) becomes each key's expiry; ``timeout`` bounds connecting and each
    command. One store serves one event loop (redis-py's pools are bound to the loop that first
    used them; the sync client's background loop is one loop). Needs the ``store`` extra::

        store = RedisStore("redis://redis.internal:6379/0", ttl=86_400)
        app_middleware = [Stateful(store)]
    """

    __slots__ = ("prefix", "ttl")

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "openresponses:resp:",
        ttl: float | None = None,
        timeout: float = 0.5,
        client: Any = None,
        clock: Clock | None = None,
    ) -> None:
        validate_bounds("RedisStore", ttl, None)
        self.prefix = prefix
        self.ttl = ttl
        super().__init__(url, client, timeout, clock)

    # -- the protocol -----------------------------------------------------------------------------

    async def get(self, response_id: str) -> StoredResponse | None:
        """The record for ``response_id``, or ``None`` if unknown or expired (Redis expires keys)."""
        raw = await self._command("get", self._ensure().get(self.prefix + response_id))
        if raw is None:
            return None
        try:
            return StoredResponse.from_json(raw)
        except ValueError as exc:
            raise StoreError(
                f"Redis store {self._where()}: the record of {response_id!r} is corrupt: {exc}",
                store="redis",
                operation="get",
            ) from exc

    async def put(self, record: StoredResponse) -> StoredResponse:
        """``SET`` the record, with ``PX`` = ``ttl`` when set."""
        record = record.with_expiry(self.ttl, self._clock())
        px = None if self.ttl is None else max(1, round(self.ttl * 1000))
        await self._command("put", self._ensure().set(self.prefix + record.id, record.to_json(), px=px))
        return record

    async def delete(self, response_id: str) -> bool:
        """``DEL`` the key; whether it was there."""
        removed = await self._command("delete", self._ensure().delete(self.prefix + response_id))
        return bool(removed)

    def __repr__(self) -> str:
        where = self.url if self._url is not None else "client"
        return f"RedisStore({where!r}, prefix={self.prefix!r}, ttl={self.ttl})"
