"""MemoryStore: put/get, TTL expiry, LRU eviction, bounds."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from openresponses.store import MemoryStore, ResponseStore


async def test_put_then_get_round_trips_and_stamps_the_ttl(clock: Any, make_record: Any) -> None:
    store = MemoryStore(ttl=60, clock=clock)
    stored = await store.put(make_record("resp_a"))
    assert stored.expires_at == clock.now + 60
    got = await store.get("resp_a")
    assert got == stored
    assert await store.get("resp_unknown") is None
    assert isinstance(store, ResponseStore)


async def test_no_ttl_means_no_expiry(clock: Any, make_record: Any) -> None:
    store = MemoryStore(clock=clock)
    assert (await store.put(make_record("resp_a"))).expires_at is None
    clock.advance(10 * 365 * 86400)
    assert await store.get("resp_a") is not None


async def test_records_expire_after_the_ttl(clock: Any, make_record: Any) -> None:
    store = MemoryStore(ttl=10, clock=clock)
    await store.put(make_record("resp_a"))
    clock.advance(9.9)
    assert await store.get("resp_a") is not None
    clock.advance(0.1)
    assert await store.get("resp_a") is None
    assert len(store) == 0


async def test_expired_records_are_purged_as_the_store_is_used(clock: Any, make_record: Any) -> None:
    # Without max_entries, memory is bounded by what arrives within one ttl.
    store = MemoryStore(ttl=5, max_entries=None, clock=clock)
    for n in range(100):
        await store.put(make_record(f"resp_{n}"))
        clock.advance(1)
    assert len(store) <= 6
    assert await store.get("resp_99") is not None
    assert await store.get("resp_0") is None


async def test_a_re_put_refreshes_the_ttl(clock: Any, make_record: Any) -> None:
    store = MemoryStore(ttl=10, clock=clock)
    await store.put(make_record("resp_a", "first"))
    clock.advance(8)
    await store.put(make_record("resp_a", "second"))
    clock.advance(8)
    got = await store.get("resp_a")
    assert got is not None and got.output[0]["content"][0]["text"] == "second"
    assert len(store) == 1


async def test_eviction_is_least_recently_used(make_record: Any) -> None:
    store = MemoryStore(max_entries=2)
    await store.put(make_record("resp_a"))
    await store.put(make_record("resp_b"))
    assert await store.get("resp_a") is not None  # a is now the most recently used
    await store.put(make_record("resp_c"))
    assert await store.get("resp_b") is None
    assert await store.get("resp_a") is not None
    assert await store.get("resp_c") is not None
    assert len(store) == 2


async def test_delete(make_record: Any) -> None:
    store = MemoryStore()
    await store.put(make_record("resp_a"))
    assert await store.delete("resp_a") is True
    assert await store.delete("resp_a") is False
    assert await store.get("resp_a") is None


def test_the_default_is_bounded() -> None:
    assert MemoryStore().max_entries == 10_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl": 0}, "ttl must be a positive number"),
        ({"ttl": -1}, "ttl must be a positive number"),
        ({"ttl": float("nan")}, "ttl must be a positive number"),
        ({"ttl": True}, "ttl must be a positive number"),
        ({"max_entries": 0}, "max_entries must be an integer >= 1"),
        ({"max_entries": 1.5}, "max_entries must be an integer >= 1"),
    ],
)
def test_bad_bounds_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemoryStore(**kwargs)


def test_one_store_serves_several_event_loops(make_record: Any) -> None:
    # The sync client runs on its own loop thread; the lock is a threading lock, never held
    # across an await, so one store can serve it and any other loop at once.
    store = MemoryStore(max_entries=50)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        async def run() -> None:
            for i in range(200):
                await store.put(make_record(f"resp_{n}_{i}"))
                await store.get(f"resp_{n}_{i // 2}")

        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store) == 50


def test_with_expiry_carries_every_field_over() -> None:
    # with_expiry builds the copy with the constructor (faster than dataclasses.replace): a field
    # added to StoredResponse must be added there too, or this fails.
    from dataclasses import fields, replace

    from openresponses.store import StoredResponse

    values = {f.name: f"v-{f.name}" for f in fields(StoredResponse)}
    record = StoredResponse(**values)  # type: ignore[arg-type]
    assert record.with_expiry(10.0, 5.0) == replace(record, expires_at=15.0)
    assert record.with_expiry(None, 5.0) is record
