"""``SQLiteStore``: cached answers in a SQLite file, persistent across restarts and shared by the
processes of one host.

Built like the response store (``openresponses.store.sqlite``): every statement runs on one
worker thread owning the connection, the file is in WAL mode with a busy timeout, and a put
with its evictions is one ``BEGIN IMMEDIATE`` transaction, so the ``max_entries`` bound holds
with any number of writers (least recently used evicted first; a row count kept by triggers
makes that O(evicted)). Vectors are float32 blobs; a semantic search reads the bucket's vectors
in one indexed query and scores them in one matrix product, then reads only the best records.
"""

from __future__ import annotations

import os
import sqlite3

from ..store._sqlite import SQLiteRunner, counted, evict_past, immediate
from ._base import (
    CacheEntry,
    CacheError,
    Clock,
    Match,
    Vector,
    validate_bounds,
    vector_bytes,
    vector_from_bytes,
    wall_time,
)
from ._index import stack_bytes, top_matches

__all__ = ["SQLiteStore"]

_T = "openresponses_cache"
_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {_T} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        bucket TEXT NOT NULL DEFAULT '',
        dim INTEGER,
        vector BLOB,
        record TEXT NOT NULL,
        used_at REAL NOT NULL,
        expires_at REAL,
        UNIQUE (namespace, key)
    )""",
    f"CREATE INDEX IF NOT EXISTS {_T}_bucket ON {_T} (namespace, bucket, dim) WHERE vector IS NOT NULL",
    f"CREATE INDEX IF NOT EXISTS {_T}_used ON {_T} (used_at)",
    f"CREATE INDEX IF NOT EXISTS {_T}_expiry ON {_T} (expires_at) WHERE expires_at IS NOT NULL",
    *counted(_T),
)
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
#: A hit refreshes ``used_at`` at most this often (seconds): LRU order without a write per hit.
_TOUCH_EVERY = 1.0


class SQLiteStore:
    """A :class:`~openresponses.cache.CacheStore` in a SQLite database file.

    ``path`` is a file (created if missing; its directory must exist) or ``":memory:"``.
    ``max_entries`` evicts the least recently used past it (``None``: unbounded). Several
    processes may share one file on a local disk (WAL: not over NFS). ``timeout`` is how long a
    writer waits for another's lock. Errors surface as :class:`~openresponses.cache.CacheError`::

        cache = SemanticCache(SQLiteStore("/var/lib/myapp/cache.db", max_entries=100_000), ttl=86_400)
    """

    __slots__ = ("_clock", "_runner", "max_entries", "path", "timeout")

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        max_entries: int | None = None,
        timeout: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        validate_bounds("SQLiteStore", None, max_entries)
        if not timeout >= 0:
            raise ValueError(f"SQLiteStore: timeout must be >= 0 seconds, not {timeout!r}")
        self.path = os.fspath(path)
        self.max_entries = max_entries
        self.timeout = timeout
        self._clock: Clock = clock or wall_time
        self._runner = SQLiteRunner(self, _SCHEMA, error=CacheError, name="SQLite cache")

    def __repr__(self) -> str:
        return f"SQLiteStore(path={self.path!r}, max_entries={self.max_entries})"

    # -- the protocol -----------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        """The unexpired entry under ``key``, or ``None`` (a hit refreshes its LRU position)."""
        now = self._clock()

        def read(conn: sqlite3.Connection) -> tuple[str, bytes | None] | None:
            row = conn.execute(
                f"SELECT record, vector, used_at FROM {_T} WHERE namespace = ? AND key = ? AND {_LIVE}",
                (namespace, key, now),
            ).fetchone()
            if row is None:
                return None
            if row[2] < now - _TOUCH_EVERY:
                conn.execute(
                    f"UPDATE {_T} SET used_at = ? WHERE namespace = ? AND key = ?", (now, namespace, key)
                )
            return str(row[0]), row[1]

        found = await self._runner.run(read, "get")
        return None if found is None else self._entry(found[0], found[1], "get")

    async def put(self, entry: CacheEntry) -> None:
        """Store ``entry``, purge expired rows, evict the least recently used past the bound."""
        now = self._clock()
        vector = entry.vector
        blob = None if vector is None else vector_bytes(vector)
        dim = None if vector is None else len(vector)
        record = entry.to_json()
        max_entries = self.max_entries

        def write(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute(f"DELETE FROM {_T} WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
                conn.execute(
                    f"DELETE FROM {_T} WHERE namespace = ? AND key = ?", (entry.namespace, entry.key)
                )
                conn.execute(
                    f"INSERT INTO {_T} (namespace, key, bucket, dim, vector, record, used_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.namespace, entry.key, entry.bucket, dim, blob, record, now, entry.expires_at),
                )
                if max_entries is not None:
                    evict_past(conn, _T, max_entries, key="id", order="used_at, id")

        await self._runner.run(write, "put")

    async def search(
        self, namespace: str, bucket: str, vector: Vector, *, threshold: float, limit: int = 4
    ) -> list[Match]:
        """The best unexpired entries of ``bucket`` at least ``threshold`` similar to ``vector``."""
        now = self._clock()
        dim = len(vector)

        def read(conn: sqlite3.Connection) -> list[tuple[str, bytes | None, float]]:
            rows = conn.execute(
                f"SELECT key, vector FROM {_T} WHERE namespace = ? AND bucket = ? AND dim = ? "
                f"AND vector IS NOT NULL AND {_LIVE}",
                (namespace, bucket, dim, now),
            ).fetchall()
            if not rows:
                return []
            keys = [str(row[0]) for row in rows]
            best = top_matches(keys, stack_bytes([row[1] for row in rows], dim), vector, threshold, limit)
            out: list[tuple[str, bytes | None, float]] = []
            for key, similarity in best:
                found = conn.execute(
                    f"SELECT record, vector FROM {_T} WHERE namespace = ? AND key = ?", (namespace, key)
                ).fetchone()
                if found is not None:
                    out.append((str(found[0]), found[1], similarity))
            return out

        found = await self._runner.run(read, "search")
        return [Match(self._entry(record, blob, "search"), similarity) for record, blob, similarity in found]

    async def delete(self, namespace: str, key: str) -> bool:
        """Forget one entry; whether it was there."""

        def remove(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(f"DELETE FROM {_T} WHERE namespace = ? AND key = ?", (namespace, key)).rowcount
                > 0
            )

        return await self._runner.run(remove, "delete")

    async def clear(self, namespace: str | None = None) -> int:
        """Forget a namespace (everything when ``None``); how many entries went."""

        def remove(conn: sqlite3.Connection) -> int:
            if namespace is None:
                return int(conn.execute(f"DELETE FROM {_T}").rowcount)
            return int(conn.execute(f"DELETE FROM {_T} WHERE namespace = ?", (namespace,)).rowcount)

        return await self._runner.run(remove, "clear")

    async def count(self) -> int:
        """Entries held that have not expired."""
        now = self._clock()

        def read(conn: sqlite3.Connection) -> int:
            return int(conn.execute(f"SELECT COUNT(*) FROM {_T} WHERE {_LIVE}", (now,)).fetchone()[0])

        return await self._runner.run(read, "count")

    async def aclose(self) -> None:
        """Close the connection and stop the worker thread; a later call reopens them."""
        await self._runner.aclose()

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- internals --------------------------------------------------------------------------------

    def _entry(self, record: str, blob: bytes | None, operation: str) -> CacheEntry:
        try:
            return CacheEntry.from_json(record, None if blob is None else vector_from_bytes(blob))
        except ValueError as exc:
            raise CacheError(
                f"SQLite cache {self.path!r}: a corrupt entry: {exc}", store="sqlite", operation=operation
            ) from exc
