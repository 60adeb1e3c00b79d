"""``MemoryStore``: responses kept in this process, bounded by entries (LRU) and by age (TTL).

The default store of ``Stateful``. Nothing survives a restart and nothing is shared between
processes: for several proxy workers use ``SQLiteStore`` (one host) or ``RedisStore``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from ._base import Clock, StoredResponse, validate_bounds, wall_time

__all__ = ["MemoryStore"]


class MemoryStore:
    """A bounded in-process :class:`~openresponses.store.ResponseStore`.

    ``max_entries`` (default 10,000; ``None``: unbounded) evicts the least recently used record
    (a ``get`` counts as a use: a chain being continued stays); ``ttl`` (seconds, default
    ``None``: no expiry) forgets records that long after they were stored. Expired records are
    purged as the store is used, so memory is bounded by ``max_entries`` or by what arrives
    within one ``ttl``. Thread-safe (the lock is never held across an ``await``), so one store
    can serve the sync client's loop and any other. ``clock`` (Unix seconds) is for tests::

        Stateful(MemoryStore(max_entries=1_000, ttl=3600))
    """

    __slots__ = ("_by_age", "_clock", "_lock", "_records", "max_entries", "ttl")

    def __init__(
        self, *, max_entries: int | None = 10_000, ttl: float | None = None, clock: Clock | None = None
    ) -> None:
        validate_bounds("MemoryStore", ttl, max_entries)
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock: Clock = clock or wall_time
        self._lock = threading.Lock()
        # LRU order (oldest use first) and, with one ttl for all, expiry order = order of puts.
        self._records: OrderedDict[str, StoredResponse] = OrderedDict()
        self._by_age: OrderedDict[str, float] = OrderedDict()

    async def get(self, response_id: str) -> StoredResponse | None:
        """The record for ``response_id`` (marking it recently used), or ``None``."""
        now = self._clock()
        with self._lock:
            self._purge(now)
            record = self._records.get(response_id)
            if record is None:
                return None
            if record.expired(now):  # clock skew between put and purge order: check anyway
                self._drop(response_id)
                return None
            self._records.move_to_end(response_id)
            return record

    async def put(self, record: StoredResponse) -> StoredResponse:
        """Store ``record``, stamped with this store's TTL; evicts the least recently used."""
        return self.put_nowait(record)

    def put_nowait(self, record: StoredResponse) -> StoredResponse:
        """:meth:`put`, as a plain call: it never waits (``Stateful`` uses it to store after the
        served proxy's reply is written, see ``CallContext.after_reply``)."""
        now = self._clock()
        record = record.with_expiry(self.ttl, now)
        with self._lock:
            self._purge(now)
            self._records[record.id] = record
            self._records.move_to_end(record.id)
            if record.expires_at is not None:
                self._by_age[record.id] = record.expires_at
                self._by_age.move_to_end(record.id)
            if self.max_entries is not None:
                while len(self._records) > self.max_entries:
                    oldest = next(iter(self._records))
                    self._drop(oldest)
        return record

    async def delete(self, response_id: str) -> bool:
        """Forget ``response_id``; whether it was there."""
        with self._lock:
            return self._drop(response_id)

    async def aclose(self) -> None:
        """Nothing to release (the records stay until evicted)."""

    def __len__(self) -> int:
        """Records held, expired ones not yet purged included."""
        return len(self._records)

    def _purge(self, now: float) -> None:
        by_age = self._by_age
        while by_age:
            response_id, expires_at = next(iter(by_age.items()))
            if expires_at > now:
                return
            self._drop(response_id)

    def _drop(self, response_id: str) -> bool:
        self._by_age.pop(response_id, None)
        return self._records.pop(response_id, None) is not None

    def __repr__(self) -> str:
        return f"MemoryStore(entries={len(self._records)}, max_entries={self.max_entries}, ttl={self.ttl})"
