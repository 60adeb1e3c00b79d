"""``RedisStore``: cached answers in Redis, shared by every process and host using the server.

Keys (``{prefix}`` then a 24-hex hash of the namespace, so a namespace never needs escaping
and a ``SCAN`` pattern never matches another one's keys):

- ``{prefix}e:{ns}:{key}``: a hash (``record`` JSON, ``vector`` float32 bytes, ``vkey``), expiring
  with the entry (``PEXPIREAT``): Redis itself drops expired answers;
- ``{prefix}v:{ns}:{bucket}:{dim}``: a hash of the bucket's vectors (field = entry key), expiring
  with its longest-lived entry; a search reads it in one ``HGETALL`` and scores it client-side in
  one matrix product (no Redis module needed), then reads the best records in one round trip.
  A vector whose entry has expired is dropped when a search meets it;
- ``{prefix}lru``: a sorted set of every entry by last use, for ``max_entries`` (least recently
  used evicted first). Without ``max_entries`` the bound is the server's ``maxmemory``.

Like the response store: redis-py's asyncio client with short socket timeouts and one immediate
retry, so a dead Redis fails a call in about ``2 * timeout`` (a miss, for ``SemanticCache``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..store.redis import RedisConnection
from ._base import CacheEntry, CacheError, Clock, Match, Vector, validate_bounds, vector_bytes
from ._index import stack_bytes, top_matches

__all__ = ["RedisStore"]

_EXTRA = "RedisStore needs the redis package: pip install 'openresponses-python[cache]'"


def _ns(namespace: str) -> str:
    return hashlib.sha256(namespace.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class RedisStore(RedisConnection):
    """A :class:`~openresponses.cache.CacheStore` in Redis: one cache for a fleet.

    ``url`` is a redis-py URL (``redis://[:password@]host:port/db``, ``rediss://`` for TLS), or
    pass ``client=`` (a ``redis.asyncio.Redis`` you own). ``prefix`` namespaces the keys;
    ``max_entries`` bounds the entries (LRU); ``timeout`` bounds connecting and each command.
    One store serves one event loop. Needs the ``cache`` extra::

        cache = SemanticCache(RedisStore("redis://redis.internal:6379/0"), ttl=86_400)
    """

    __slots__ = ("max_entries", "prefix")

    _error = CacheError
    _label = "Redis cache"
    _extra = _EXTRA

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "openresponses:cache:",
        max_entries: int | None = None,
        timeout: float = 0.5,
        client: Any = None,
        clock: Clock | None = None,
    ) -> None:
        validate_bounds("RedisStore", None, max_entries)
        self.prefix = prefix
        self.max_entries = max_entries
        super().__init__(url, client, timeout, clock)

    def __repr__(self) -> str:
        where = self.url if self._url is not None else "client"
        return f"RedisStore({where!r}, prefix={self.prefix!r}, max_entries={self.max_entries})"

    # -- the protocol -----------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        """The entry under ``key``, or ``None`` (Redis expires entries itself)."""
        name = self._entry_key(_ns(namespace), key)
        record, blob = await self._command("get", self._ensure().hmget(name, "record", "vector"))
        if record is None:
            return None
        entry = self._parse(record, blob, "get")
        if entry.expired(self._clock()):
            return None  # expired a moment ago; Redis drops the key itself
        if self.max_entries is not None:
            await self._command(
                "get", self._ensure().zadd(self._lru, {f"{_ns(namespace)}:{key}": self._clock()}, xx=True)
            )
        return entry

    async def put(self, entry: CacheEntry) -> None:
        """Store ``entry`` (and its vector in its bucket), then evict past ``max_entries``."""
        now = self._clock()
        ns = _ns(entry.namespace)
        name = self._entry_key(ns, entry.key)
        mapping: dict[str, Any] = {"record": entry.to_json()}
        pipe = self._ensure().pipeline(transaction=True)
        pipe.delete(name)
        vkey = None
        if entry.vector is not None and entry.bucket:
            vkey = f"{self.prefix}v:{ns}:{entry.bucket}:{len(entry.vector)}"
            blob = vector_bytes(entry.vector)
            mapping.update(vector=blob, vkey=vkey)
            pipe.hset(vkey, entry.key, blob)
        pipe.hset(name, mapping=mapping)
        if entry.expires_at is not None:
            at = max(1, round(entry.expires_at * 1000))
            pipe.pexpireat(name, at)
            if vkey is not None:
                # NX gives a new bucket its first expiry, GT extends it: a bucket lives as long as
                # its longest-lived entry (an expiry-less HSET target would ignore GT alone).
                pipe.pexpireat(vkey, at, nx=True)
                pipe.pexpireat(vkey, at, gt=True)
        elif vkey is not None:
            pipe.persist(vkey)
        pipe.zadd(self._lru, {f"{ns}:{entry.key}": now})
        if self.max_entries is not None:
            pipe.zcard(self._lru)
        results = await self._command("put", pipe.execute())
        if self.max_entries is not None and results[-1] > self.max_entries:
            await self._evict(int(results[-1]) - self.max_entries)

    async def search(
        self, namespace: str, bucket: str, vector: Vector, *, threshold: float, limit: int = 4
    ) -> list[Match]:
        """The best live entries of ``bucket`` at least ``threshold`` similar to ``vector``."""
        ns = _ns(namespace)
        dim = len(vector)
        vkey = f"{self.prefix}v:{ns}:{bucket}:{dim}"
        raw = await self._command("search", self._ensure().hgetall(vkey))
        if not raw:
            return []
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in raw]
        blobs = [b for b in raw.values() if len(b) == dim * 4]
        if len(blobs) != len(keys):
            pairs = [(k, b) for k, b in zip(keys, raw.values(), strict=True) if len(b) == dim * 4]
            keys, blobs = [k for k, _ in pairs], [b for _, b in pairs]
        best = top_matches(keys, stack_bytes(blobs, dim), vector, threshold, limit)
        if not best:
            return []
        pipe = self._ensure().pipeline(transaction=False)
        for key, _ in best:
            pipe.hmget(self._entry_key(ns, key), "record", "vector")
        rows = await self._command("search", pipe.execute())
        now = self._clock()
        matches: list[Match] = []
        stale: list[str] = []
        for (key, similarity), (record, blob) in zip(best, rows, strict=True):
            if record is None:
                stale.append(key)  # the entry expired or was evicted: its vector goes too
                continue
            entry = self._parse(record, blob, "search")
            if not entry.expired(now):
                matches.append(Match(entry, similarity))
        if stale:
            await self._command("search", self._ensure().hdel(vkey, *stale))
        return matches

    async def delete(self, namespace: str, key: str) -> bool:
        """Forget one entry (and its vector); whether it was there."""
        return bool(await self._remove([(_ns(namespace), key)], "delete"))

    async def clear(self, namespace: str | None = None) -> int:
        """Forget a namespace (everything under ``prefix`` when ``None``); how many entries went."""
        from redis.exceptions import RedisError

        try:
            return await self._clear(namespace)
        except (TimeoutError, RedisError, OSError) as exc:
            raise CacheError(
                f"Redis cache {self._where()} failed on clear: {type(exc).__name__}: {exc}",
                store="redis",
                operation="clear",
            ) from exc

    async def _clear(self, namespace: str | None) -> int:
        client = self._ensure()
        pattern = f"{self.prefix}*" if namespace is None else f"{self.prefix}[ev]:{_ns(namespace)}:*"
        count = 0
        batch: list[Any] = []
        members: list[str] = []
        entry_prefix = f"{self.prefix}e:".encode()
        async for name in client.scan_iter(match=pattern, count=500):
            batch.append(name)
            raw = name if isinstance(name, bytes) else str(name).encode()
            if raw.startswith(entry_prefix):
                count += 1
                members.append(raw[len(entry_prefix) :].decode())
            if len(batch) >= 500:
                await self._command("clear", client.delete(*batch))
                batch = []
        if batch:
            await self._command("clear", client.delete(*batch))
        if namespace is not None and members:
            await self._command("clear", client.zrem(self._lru, *members))
        return count

    # -- internals --------------------------------------------------------------------------------

    @property
    def _lru(self) -> str:
        return f"{self.prefix}lru"

    def _entry_key(self, ns: str, key: str) -> str:
        return f"{self.prefix}e:{ns}:{key}"

    async def _evict(self, excess: int) -> None:
        popped = await self._command("put", self._ensure().zpopmin(self._lru, excess))
        victims = []
        for member, _score in popped:
            text = member.decode() if isinstance(member, bytes) else str(member)
            ns, _, key = text.partition(":")
            victims.append((ns, key))
        await self._remove(victims, "put")

    async def _remove(self, victims: list[tuple[str, str]], operation: str) -> int:
        if not victims:
            return 0
        client = self._ensure()
        pipe = client.pipeline(transaction=False)
        for ns, key in victims:
            pipe.hget(self._entry_key(ns, key), "vkey")
        vkeys = await self._command(operation, pipe.execute())
        pipe = client.pipeline(transaction=True)
        for (ns, key), vkey in zip(victims, vkeys, strict=True):
            pipe.delete(self._entry_key(ns, key))
            if vkey:
                pipe.hdel(vkey.decode() if isinstance(vkey, bytes) else vkey, key)
            pipe.zrem(self._lru, f"{ns}:{key}")
        results = await self._command(operation, pipe.execute())
        step = [3 if vkey else 2 for vkey in vkeys]
        removed, position = 0, 0
        for size in step:
            removed += int(results[position])
            position += size
        return removed

    def _parse(self, record: Any, blob: Any, operation: str) -> CacheEntry:
        from ._base import vector_from_bytes

        try:
            return CacheEntry.from_json(record, None if not blob else vector_from_bytes(blob))
        except ValueError as exc:
            raise CacheError(
                f"Redis cache {self._where()}: a corrupt entry: {exc}", store="redis", operation=operation
            ) from exc
