"""``SQLiteStore``: responses in a SQLite file (stdlib ``sqlite3``), shared by the processes of one host.

Every statement runs on one worker thread that owns the connection, never on the event loop: a
slow disk or a writer holding the lock delays that call only (``_sqlite``, shared with the cache).
The file is in WAL mode (readers never block the writer) with a busy timeout (writers from several
processes queue instead of failing with "database is locked"); a put and its evictions are one
``BEGIN IMMEDIATE`` transaction, so the entry bound holds with any number of writers. A row count
kept by triggers makes eviction O(evicted) rather than a scan per put.
"""

from __future__ import annotations

import os
import sqlite3

from ._base import Clock, StoredResponse, StoreError, validate_bounds, wall_time
from ._sqlite import SQLiteRunner, counted, evict_past, immediate

__all__ = ["SQLiteStore"]

_TABLE = "openresponses_responses"
_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        expires_at REAL
    )""",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_expiry ON {_TABLE} (expires_at) WHERE expires_at IS NOT NULL",
    *counted(_TABLE),
)


class SQLiteStore:
    """A :class:`~openresponses.store.ResponseStore` in a SQLite database file.

    ``path`` is a file (created if missing; its directory must exist) or ``":memory:"`` (private
    to this store, gone on ``aclose``). ``ttl`` (seconds) expires records; ``max_entries`` evicts
    the oldest stored first. Several processes may share one file on a local disk (WAL needs
    shared memory: not over NFS). ``timeout`` is how long a writer waits for another's lock.
    Errors surface as :class:`~openresponses.store.StoreError`::

        store = SQLiteStore("/var/lib/myapp/responses.db", ttl=7 * 86400, max_entries=100_000)
        client = AsyncClient(base_url=url, middleware=[Stateful(store)])
    """

    __slots__ = ("_clock", "_runner", "max_entries", "path", "timeout", "ttl")

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        ttl: float | None = None,
        max_entries: int | None = None,
        timeout: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        validate_bounds("SQLiteStore", ttl, max_entries)
        if not timeout >= 0:
            raise ValueError(f"SQLiteStore: timeout must be >= 0 seconds, not {timeout!r}")
        self.path = os.fspath(path)
        self.ttl = ttl
        self.max_entries = max_entries
        self.timeout = timeout
        self._clock: Clock = clock or wall_time
        self._runner = SQLiteRunner(self, _SCHEMA, error=StoreError, name="SQLite store")

    # -- the protocol -----------------------------------------------------------------------------

    async def get(self, response_id: str) -> StoredResponse | None:
        """The record for ``response_id``, or ``None`` if unknown or expired."""
        now = self._clock()

        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                f"SELECT record, expires_at FROM {_TABLE} WHERE id = ?", (response_id,)
            ).fetchone()
            if row is None or (row[1] is not None and row[1] <= now):
                return None  # expired rows are deleted by the next put, not by readers
            return str(row[0])

        raw = await self._runner.run(read, "get")
        if raw is None:
            return None
        try:
            return StoredResponse.from_json(raw)
        except ValueError as exc:
            raise StoreError(
                f"SQLite store {self.path!r}: the record of {response_id!r} is corrupt: {exc}",
                store="sqlite",
                operation="get",
            ) from exc

    async def put(self, record: StoredResponse) -> StoredResponse:
        """Store ``record`` (replacing any with its id), purge expired rows, evict the oldest."""
        now = self._clock()
        record = record.with_expiry(self.ttl, now)
        data = record.to_json()
        max_entries = self.max_entries

        def write(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute(f"DELETE FROM {_TABLE} WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
                conn.execute(f"DELETE FROM {_TABLE} WHERE id = ?", (record.id,))
                conn.execute(
                    f"INSERT INTO {_TABLE} (id, record, expires_at) VALUES (?, ?, ?)",
                    (record.id, data, record.expires_at),
                )
                if max_entries is not None:
                    evict_past(conn, _TABLE, max_entries, key="seq", order="seq")

        await self._runner.run(write, "put")
        return record

    async def delete(self, response_id: str) -> bool:
        """Forget ``response_id``; whether it was there."""

        def remove(conn: sqlite3.Connection) -> bool:
            return conn.execute(f"DELETE FROM {_TABLE} WHERE id = ?", (response_id,)).rowcount > 0

        return await self._runner.run(remove, "delete")

    async def count(self) -> int:
        """Records held that have not expired."""
        now = self._clock()

        def read(conn: sqlite3.Connection) -> int:
            query = f"SELECT COUNT(*) FROM {_TABLE} WHERE expires_at IS NULL OR expires_at > ?"
            return int(conn.execute(query, (now,)).fetchone()[0])

        return await self._runner.run(read, "count")

    async def aclose(self) -> None:
        """Close the connection and stop the worker thread; a later call reopens them."""
        await self._runner.aclose()

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SQLiteStore(path={self.path!r}, ttl={self.ttl}, max_entries={self.max_entries})"

    @property
    def _worker(self) -> object | None:
        # tests/store/test_stateful.py checks through this that closing the client released the file.
        return self._runner.worker
