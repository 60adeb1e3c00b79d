"""SQLiteStore: put/get, TTL, oldest-first eviction, a real file shared by several processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from openresponses.store import ResponseStore, SQLiteStore, StoreError

# A child process writing records with its own store on the same file.
_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from openresponses.store import SQLiteStore, StoredResponse

    async def main(path, prefix, count, max_entries):
        store = SQLiteStore(path, max_entries=max_entries or None)
        for n in range(count):
            await store.put(StoredResponse(
                id=f"{prefix}_{n}", model="m", created_at=n, status="completed",
                input=({"type": "message", "role": "user", "content": f"q{n}"},),
                output=({"type": "message", "id": f"msg_{n}", "status": "completed", "role": "assistant",
                         "content": [{"type": "output_text", "text": f"a{n}", "annotations": []}]},),
            ))
        await store.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    """
)


def _writer(path: Path, prefix: str, count: int, max_entries: int = 0) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), prefix, str(count), str(max_entries)],
        stderr=subprocess.PIPE,
    )


def _wait(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()


async def test_put_get_delete_in_memory(make_record: Any) -> None:
    async with SQLiteStore() as store:
        assert isinstance(store, ResponseStore)
        stored = await store.put(make_record("resp_a"))
        assert await store.get("resp_a") == stored
        assert await store.get("resp_b") is None
        assert await store.delete("resp_a") is True
        assert await store.delete("resp_a") is False
        assert await store.get("resp_a") is None


async def test_a_file_survives_reopening_and_is_in_wal_mode(tmp_path: Path, make_record: Any) -> None:
    path = tmp_path / "responses.db"
    async with SQLiteStore(path) as store:
        await store.put(make_record("resp_a", "persisted"))
    async with SQLiteStore(path) as again:
        got = await again.get("resp_a")
    assert got is not None and got.output[0]["content"][0]["text"] == "persisted"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_records_expire_and_are_purged_by_later_puts(
    tmp_path: Path, clock: Any, make_record: Any
) -> None:
    store = SQLiteStore(tmp_path / "r.db", ttl=10, clock=clock)
    stored = await store.put(make_record("resp_a"))
    assert stored.expires_at == clock.now + 10
    clock.advance(9.9)
    assert await store.get("resp_a") is not None
    clock.advance(0.1)
    assert await store.get("resp_a") is None
    assert await store.count() == 0
    await store.put(make_record("resp_b"))
    with sqlite3.connect(tmp_path / "r.db") as conn:  # the expired row is gone from the file
        ids = [row[0] for row in conn.execute("SELECT id FROM openresponses_responses")]
    assert ids == ["resp_b"]
    await store.aclose()


async def test_eviction_is_oldest_stored_first(make_record: Any) -> None:
    async with SQLiteStore(max_entries=3) as store:
        for name in "abcd":
            await store.put(make_record(f"resp_{name}"))
            await store.get("resp_a")  # reads do not refresh: oldest-first, not LRU
        assert await store.get("resp_a") is None
        assert [await store.get(f"resp_{n}") is not None for n in "bcd"] == [True, True, True]
        await store.put(make_record("resp_b", "again"))  # a re-put is the newest
        await store.put(make_record("resp_e"))
        assert await store.get("resp_c") is None
        assert await store.get("resp_b") is not None
        assert await store.count() == 3


async def test_closing_then_using_again_reopens(tmp_path: Path, make_record: Any) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    await store.put(make_record("resp_a"))
    await store.aclose()
    await store.aclose()  # idempotent
    assert await store.get("resp_a") is not None
    await store.aclose()


async def test_records_written_by_other_processes_are_read_here_and_the_bound_holds(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    async with SQLiteStore(path, max_entries=30) as store:
        await store.count()  # the schema exists before the writers race
        writers = [_writer(path, f"resp_w{n}", 25, max_entries=30) for n in range(2)]
        for writer in writers:  # none fails with "database is locked"
            await asyncio.to_thread(_wait, writer)
        assert await store.count() == 30
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT id FROM openresponses_responses ORDER BY seq").fetchall()
        (counted,) = conn.execute("SELECT value FROM openresponses_responses_meta").fetchone()
    assert counted == len(rows) == 30  # the trigger-kept count agrees with the table
    newest = rows[-1][0]
    number = newest.rsplit("_", 1)[1]
    async with SQLiteStore(path) as store:  # written by a child process, read by this one
        got = await store.get(newest)
    assert got is not None
    assert got.history() == [
        {"type": "message", "role": "user", "content": f"q{number}"},
        {"type": "message", "role": "assistant", "id": f"msg_{number}", "status": "completed",
         "content": [{"type": "output_text", "text": f"a{number}"}]},
    ]  # fmt: skip
    # Eviction took the oldest stored: each writer's survivors are its last ones, ending at 24.
    for child in range(2):
        kept = sorted(int(r[0].rsplit("_", 1)[1]) for r in rows if r[0].startswith(f"resp_w{child}_"))
        assert kept == list(range(25 - len(kept), 25))


async def test_a_writer_holding_the_lock_is_waited_for_off_the_event_loop(
    tmp_path: Path, make_record: Any
) -> None:
    path = tmp_path / "r.db"
    store = SQLiteStore(path, timeout=5)
    await store.count()
    locked = threading.Event()

    def hold_lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(0.3)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    await asyncio.to_thread(locked.wait)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    await store.put(make_record("resp_a"))  # waits for the lock (busy timeout), does not fail
    waited = time.monotonic() - started
    ticker.cancel()
    holder.join()
    assert waited >= 0.2
    assert ticks >= 10  # the loop kept running while the put waited
    assert await store.get("resp_a") is not None
    await store.aclose()


async def test_a_lock_held_past_the_timeout_is_a_store_error(tmp_path: Path, make_record: Any) -> None:
    path = tmp_path / "r.db"
    store = SQLiteStore(path, timeout=0.05)
    await store.count()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError) as caught:
            await store.put(make_record("resp_a"))
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert caught.value.store == "sqlite" and caught.value.operation == "put"
    assert "locked" in str(caught.value)
    assert not caught.value.retryable
    await store.put(make_record("resp_a"))  # the failed transaction left nothing behind
    assert await store.count() == 1
    await store.aclose()


async def test_an_unopenable_path_is_a_store_error_naming_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing-dir" / "r.db")
    with pytest.raises(StoreError, match="missing-dir") as caught:
        await store.get("resp_a")
    assert caught.value.operation == "get"
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    await store.aclose()


async def test_a_corrupt_record_is_a_store_error(tmp_path: Path, make_record: Any) -> None:
    path = tmp_path / "r.db"
    async with SQLiteStore(path) as store:
        await store.put(make_record("resp_a"))
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE openresponses_responses SET record = '{oops' WHERE id = 'resp_a'")
        with pytest.raises(StoreError, match=r"resp_a.*corrupt"):
            await store.get("resp_a")


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="SQLiteStore: ttl"):
        SQLiteStore(ttl=-5)
    with pytest.raises(ValueError, match="SQLiteStore: max_entries"):
        SQLiteStore(max_entries=0)
    with pytest.raises(ValueError, match="SQLiteStore: timeout"):
        SQLiteStore(timeout=-1)
