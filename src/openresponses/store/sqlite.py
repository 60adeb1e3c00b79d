"""``SQLiteStore``: responses in a SQLite file (stdlib ``sqlite3``), shared by the processes of one host.

Every statement runs on one worker thread that owns the connection, never on the event loop: a
slow disk or a writer holding the lock delays that call only. The file is in WAL mode (readers
never block the writer) with a busy timeout (writers from several processes queue instead of
failing with "database is locked"); a put and its evictions are one ``BEGIN IMMEDIATE``
transaction, so the entry bound holds with any number of writers. A row count kept by triggers
makes eviction O(evicted) rather than a scan per put.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ._base import Clock, StoredResponse, StoreError, validate_bounds, wall_time

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_TABLE = "openresponses_responses"
_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        expires_at REAL
    )""",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_expiry ON {_TABLE} (expires_at) WHERE expires_at IS NOT NULL",
    f"CREATE TABLE IF NOT EXISTS {_TABLE}_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    f"INSERT OR IGNORE INTO {_TABLE}_meta (key, value) VALUES ('count', 0)",
    # REPLACE would delete without firing these (recursive_triggers is off): put deletes first.
    f"""CREATE TRIGGER IF NOT EXISTS {_TABLE}_added AFTER INSERT ON {_TABLE}
        BEGIN UPDATE {_TABLE}_meta SET value = value + 1 WHERE key = 'count'; END""",
    f"""CREATE TRIGGER IF NOT EXISTS {_TABLE}_removed AFTER DELETE ON {_TABLE}
        BEGIN UPDATE {_TABLE}_meta SET value = value - 1 WHERE key = 'count'; END""",
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

    __slots__ = ("_clock", "_lock", "_worker", "max_entries", "path", "timeout", "ttl")

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
        self._lock = threading.Lock()
        self._worker: _Worker | None = None

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

        raw = await self._run(read, "get")
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
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(f"DELETE FROM {_TABLE} WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
                conn.execute(f"DELETE FROM {_TABLE} WHERE id = ?", (record.id,))
                conn.execute(
                    f"INSERT INTO {_TABLE} (id, record, expires_at) VALUES (?, ?, ?)",
                    (record.id, data, record.expires_at),
                )
                if max_entries is not None:
                    (count,) = conn.execute(f"SELECT value FROM {_TABLE}_meta WHERE key = 'count'").fetchone()
                    if count > max_entries:
                        conn.execute(
                            f"DELETE FROM {_TABLE} WHERE seq IN "
                            f"(SELECT seq FROM {_TABLE} ORDER BY seq LIMIT ?)",
                            (count - max_entries,),
                        )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._run(write, "put")
        return record

    async def delete(self, response_id: str) -> bool:
        """Forget ``response_id``; whether it was there."""

        def remove(conn: sqlite3.Connection) -> bool:
            return conn.execute(f"DELETE FROM {_TABLE} WHERE id = ?", (response_id,)).rowcount > 0

        return await self._run(remove, "delete")

    async def count(self) -> int:
        """Records held that have not expired."""
        now = self._clock()

        def read(conn: sqlite3.Connection) -> int:
            query = f"SELECT COUNT(*) FROM {_TABLE} WHERE expires_at IS NULL OR expires_at > ?"
            return int(conn.execute(query, (now,)).fetchone()[0])

        return await self._run(read, "count")

    async def aclose(self) -> None:
        """Close the connection and stop the worker thread; a later call reopens them."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            await worker.aclose()

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"SQLiteStore(path={self.path!r}, ttl={self.ttl}, max_entries={self.max_entries})"

    # -- the worker thread ------------------------------------------------------------------------

    async def _run(self, work: Callable[[sqlite3.Connection], T], operation: str) -> T:
        with self._lock:
            if self._worker is None:
                self._worker = _Worker(self._connect)
            worker = self._worker
        try:
            return await worker.run(work)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"SQLite store {self.path!r} failed on {operation}: {type(exc).__name__}: {exc}",
                store="sqlite",
                operation=operation,
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        return connect_wal(self.path, self.timeout, _SCHEMA)


def connect_wal(path: str, timeout: float, schema: Iterable[str]) -> sqlite3.Connection:
    """A connection for a store shared by processes: WAL, a busy timeout, the schema created once.

    Autocommit (``isolation_level=None``): the only transactions are explicit ``BEGIN IMMEDIATE``.
    """
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")  # persistent in the file; "memory" for :memory:
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes of the app in WAL mode
        conn.execute("BEGIN IMMEDIATE")  # one process creates the schema, the others wait
        try:
            for statement in schema:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except BaseException:
        conn.close()
        raise
    return conn


class _Worker:
    """One thread owning one connection (opened on first use): statements run there, in order.

    A connection per worker, not per store: a store closed and reopened while a call is still
    running gets a new thread and connection; the old pair finishes its queue, then closes.
    """

    __slots__ = ("_conn", "_executor", "_open")

    def __init__(self, open: Callable[[], sqlite3.Connection]) -> None:
        self._open = open
        self._conn: sqlite3.Connection | None = None  # touched only on the worker's thread
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openresponses-sqlite")

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, work)

    async def aclose(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        finally:
            self._executor.shutdown(wait=False)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._open()
        return work(self._conn)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
