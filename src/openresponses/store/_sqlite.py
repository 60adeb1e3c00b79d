"""The SQLite plumbing the response store and the cache share: one worker thread, one WAL file.

Every statement of a store runs on one worker thread that owns the connection, never on the
event loop: a slow disk or a writer holding the lock delays that call only. :class:`SQLiteRunner`
opens the worker on first use, reopens it after ``aclose`` and turns a ``sqlite3`` or OS error
into the owner's error type (``StoreError``, ``CacheError``); :func:`connect_wal` opens the file
in WAL mode with a busy timeout, so several processes can share it. A put and its evictions are
one :func:`immediate` transaction, so a ``max_entries`` bound holds with any number of writers;
the row count :func:`counted` keeps by triggers makes :func:`evict_past` O(evicted), not a scan.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Protocol, TypeVar

__all__ = ["SQLiteRunner", "connect_wal", "counted", "evict_past", "immediate"]

T = TypeVar("T")


class _Owner(Protocol):
    """What the runner reads from its store, when it opens the file and when it reports an error."""

    path: str
    timeout: float


class _ErrorType(Protocol):
    """``StoreError`` or ``CacheError``: both take a message, the backend's name and the operation."""

    def __call__(self, message: str, *, store: str, operation: str) -> Exception: ...


class SQLiteRunner:
    """Runs a store's statements on its worker thread; errors become the store's own type.

    ``name`` starts the error message (``"SQLite store"``: ``SQLite store '/x.db' failed on put:
    OperationalError: database is locked``); ``schema`` is created when the file is first opened.
    The owner's ``path`` and ``timeout`` are read at that moment.
    """

    __slots__ = ("_error", "_lock", "_name", "_owner", "_schema", "_worker")

    def __init__(self, owner: _Owner, schema: Sequence[str], *, error: _ErrorType, name: str) -> None:
        self._owner = owner
        self._schema = schema
        self._error = error
        self._name = name
        self._lock = threading.Lock()
        self._worker: _Worker | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T], operation: str) -> T:
        """``work(connection)`` on the worker thread (opened now if need be); ``operation`` names it."""
        with self._lock:
            if self._worker is None:
                self._worker = _Worker(self._connect)
            worker = self._worker
        try:
            return await worker.run(work)
        except (sqlite3.Error, OSError) as exc:
            raise self._error(
                f"{self._name} {self._owner.path!r} failed on {operation}: {type(exc).__name__}: {exc}",
                store="sqlite",
                operation=operation,
            ) from exc

    @property
    def worker(self) -> object | None:
        """The worker while the file is open; ``None`` before first use and after ``aclose``."""
        return self._worker

    async def aclose(self) -> None:
        """Close the connection and stop the worker thread; a later :meth:`run` reopens them."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            await worker.aclose()

    def _connect(self) -> sqlite3.Connection:
        return connect_wal(self._owner.path, self._owner.timeout, self._schema)


def connect_wal(path: str, timeout: float, schema: Iterable[str]) -> sqlite3.Connection:
    """A connection for a store shared by processes: WAL, a busy timeout, the schema created once.

    Autocommit (``isolation_level=None``): the only transactions are explicit ``BEGIN IMMEDIATE``.
    """
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")  # persistent in the file; "memory" for :memory:
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes of the app in WAL mode
        with immediate(conn):  # one process creates the schema, the others wait
            for statement in schema:
                conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction (the write lock taken at once): committed at the end,
    rolled back on any error, the commit's own included."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def counted(table: str) -> tuple[str, ...]:
    """Schema statements keeping ``table``'s row count in ``{table}_meta``, by triggers.

    A ``REPLACE`` would delete without firing them (``recursive_triggers`` is off): a put deletes
    the old row first.
    """
    return (
        f"CREATE TABLE IF NOT EXISTS {table}_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        f"INSERT OR IGNORE INTO {table}_meta (key, value) VALUES ('count', 0)",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_added AFTER INSERT ON {table}
        BEGIN UPDATE {table}_meta SET value = value + 1 WHERE key = 'count'; END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_removed AFTER DELETE ON {table}
        BEGIN UPDATE {table}_meta SET value = value - 1 WHERE key = 'count'; END""",
    )


def evict_past(conn: sqlite3.Connection, table: str, max_entries: int, *, key: str, order: str) -> None:
    """Delete ``table``'s first rows by ``order`` beyond ``max_entries`` (its :func:`counted` rows).

    ``key`` is the integer primary key; call inside the put's :func:`immediate` transaction.
    """
    (count,) = conn.execute(f"SELECT value FROM {table}_meta WHERE key = 'count'").fetchone()
    if count > max_entries:
        conn.execute(
            f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} ORDER BY {order} LIMIT ?)",
            (count - max_entries,),
        )


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
