"""``MemoryStore``: answers in this process, bounded (LRU) and searched with one matrix product.

Entries live in an ``OrderedDict`` in least-recently-used order (a hit moves its entry to the
end; a put past ``max_entries`` evicts from the front), and the vectors of each
``(namespace, bucket)`` in a :class:`~openresponses.cache._index.VectorIndex`. Expired entries
are dropped when met and by a sweep at most once a minute. A ``threading.Lock`` guards the
state (never held across an ``await``), so the sync and async clients may share one store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from ._base import CacheEntry, Clock, Match, Vector, validate_bounds, wall_time
from ._index import VectorIndex

__all__ = ["DEFAULT_MAX_ENTRIES", "MemoryStore"]

#: The default bound: enough for a busy service's hot set, a few hundred MB at most.
DEFAULT_MAX_ENTRIES = 10_000
_SWEEP_EVERY = 60.0


class MemoryStore:
    """A :class:`~openresponses.cache.CacheStore` in this process's memory (the default).

    ``max_entries`` bounds it (least recently used evicted first; ``None``: unbounded, only for
    tests and benchmarks); ``clock`` replaces ``time.time`` (TTL tests)::

        cache = SemanticCache(MemoryStore(max_entries=50_000), ttl=3600)
    """

    __slots__ = ("_clock", "_entries", "_indexes", "_lock", "_next_sweep", "max_entries")

    def __init__(self, *, max_entries: int | None = DEFAULT_MAX_ENTRIES, clock: Clock | None = None) -> None:
        validate_bounds("MemoryStore", None, max_entries)
        self.max_entries = max_entries
        self._clock: Clock = clock or wall_time
        self._entries: OrderedDict[tuple[str, str], CacheEntry] = OrderedDict()
        self._indexes: dict[tuple[str, str], VectorIndex] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryStore(entries={len(self._entries)}, max_entries={self.max_entries})"

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        """The entry under ``key``, or ``None``; a hit becomes the most recently used."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get((namespace, key))
            if entry is None:
                return None
            if entry.expired(now):
                self._drop((namespace, key))
                return None
            self._entries.move_to_end((namespace, key))
            return entry

    async def put(self, entry: CacheEntry) -> None:
        """Store ``entry``; evict the least recently used past ``max_entries``."""
        now = self._clock()
        with self._lock:
            ident = (entry.namespace, entry.key)
            if ident in self._entries:
                self._drop(ident)
            if entry.vector is not None and entry.bucket:
                index = self._indexes.get((entry.namespace, entry.bucket))
                if index is None:
                    index = self._indexes[(entry.namespace, entry.bucket)] = VectorIndex()
                index.add(entry.key, entry.vector)
                # The index holds the vector (float32 row); a list of Python floats per entry
                # would cost ~8 KB each at 256 dimensions.
                entry = replace(entry, vector=None)
            self._entries[ident] = entry
            if now >= self._next_sweep:
                self._sweep(now)
            while self.max_entries is not None and len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))

    async def search(
        self, namespace: str, bucket: str, vector: Vector, *, threshold: float, limit: int = 4
    ) -> list[Match]:
        """The best unexpired entries of ``bucket`` at least ``threshold`` similar to ``vector``."""
        now = self._clock()
        with self._lock:
            index = self._indexes.get((namespace, bucket))
            if index is None:
                return []
            matches: list[Match] = []
            for key, similarity in index.search(vector, threshold, limit):
                entry = self._entries.get((namespace, key))
                if entry is None:
                    continue
                if entry.expired(now):
                    self._drop((namespace, key))
                    continue
                matches.append(Match(entry, similarity))
            return matches

    def touch(self, entry: CacheEntry) -> None:
        """Mark ``entry`` as just used (a semantic hit), for the LRU order."""
        with self._lock:
            ident = (entry.namespace, entry.key)
            if ident in self._entries:
                self._entries.move_to_end(ident)

    async def delete(self, namespace: str, key: str) -> bool:
        """Forget one entry; whether it was there."""
        with self._lock:
            return self._drop((namespace, key))

    async def clear(self, namespace: str | None = None) -> int:
        """Forget a namespace (everything when ``None``); how many entries went."""
        with self._lock:
            if namespace is None:
                count = len(self._entries)
                self._entries.clear()
                self._indexes.clear()
                return count
            idents = [ident for ident in self._entries if ident[0] == namespace]
            for ident in idents:
                self._drop(ident)
            return len(idents)

    async def aclose(self) -> None:
        """Nothing to release (the entries stay until the store is dropped)."""

    # -- internals (lock held) --------------------------------------------------------------------

    def _drop(self, ident: tuple[str, str]) -> bool:
        entry = self._entries.pop(ident, None)
        if entry is None:
            return False
        if entry.bucket:
            index = self._indexes.get((entry.namespace, entry.bucket))
            if index is not None:
                index.remove(entry.key)
                if not len(index):
                    del self._indexes[(entry.namespace, entry.bucket)]
        return True

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + _SWEEP_EVERY
        for ident in [ident for ident, entry in self._entries.items() if entry.expired(now)]:
            self._drop(ident)
