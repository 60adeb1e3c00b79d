"""The CacheStore contract, for every store: exact, semantic, expiry, bounds, invalidation; and
sharing across processes (a real SQLite file, the real redis-server)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openresponses.cache import CacheEntry, CacheError, CacheStore, MemoryStore, RedisStore, SQLiteStore
from openresponses.cache._base import unit
from openresponses.testing import FakeClock


def entry(
    key: str, vector: list[float] | None = None, *, ns: str = "ns", bucket: str = "b", **kw: Any
) -> CacheEntry:
    return CacheEntry(
        namespace=ns,
        key=key,
        response={"id": "resp_" + key, "output": []},
        bucket=bucket if vector is not None else "",
        vector=None if vector is None else unit(vector),
        embedder="test",
        **kw,
    )


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def make_store(request: Any, tmp_path: Path) -> AsyncIterator[Any]:
    made: list[CacheStore] = []

    def make(clock: FakeClock | None = None, max_entries: int | None = None) -> CacheStore:
        now = clock.now if clock is not None else None
        store: CacheStore
        if request.param == "memory":
            store = MemoryStore(clock=now, max_entries=max_entries)
        elif request.param == "sqlite":
            store = SQLiteStore(tmp_path / "cache.db", clock=now, max_entries=max_entries)
        else:
            url = request.getfixturevalue("redis_server")
            store = RedisStore(url, prefix=f"t{uuid.uuid4().hex[:8]}:", clock=now, max_entries=max_entries)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.aclose()


async def test_exact_get_put_delete(make_store: Any) -> None:
    store = make_store()
    assert await store.get("ns", "k") is None
    await store.put(entry("k", [1.0, 0.0]))
    found = await store.get("ns", "k")
    assert found is not None and found.response["id"] == "resp_k"
    assert await store.get("other", "k") is None  # namespaces never mix
    assert await store.delete("ns", "k") is True
    assert await store.delete("ns", "k") is False
    assert await store.get("ns", "k") is None


async def test_search_ranks_within_namespace_and_bucket(make_store: Any) -> None:
    store = make_store()
    await store.put(entry("near", [1.0, 0.1, 0.0]))
    await store.put(entry("far", [0.0, 1.0, 0.0]))
    await store.put(entry("mid", [1.0, 1.0, 0.0]))
    await store.put(entry("other-bucket", [1.0, 0.0, 0.0], bucket="b2"))
    await store.put(entry("other-ns", [1.0, 0.0, 0.0], ns="ns2"))
    matches = await store.search("ns", "b", unit([1.0, 0.0, 0.0]), threshold=0.5, limit=4)
    assert [m.entry.key for m in matches] == ["near", "mid"]
    assert matches[0].similarity > matches[1].similarity >= 0.5
    assert await store.search("ns", "b", unit([1.0, 0.0]), threshold=0.1) == []  # other dimensions


async def test_expired_entries_are_never_returned(make_store: Any) -> None:
    # Wall time as the start: Redis applies PEXPIREAT itself, against its own clock.
    clock = FakeClock(start=time.time())
    store = make_store(clock)
    now = clock.now()
    await store.put(entry("k", [1.0, 0.0], expires_at=now + 10))
    assert await store.get("ns", "k") is not None
    await clock.sleep(11)
    assert await store.get("ns", "k") is None
    assert await store.search("ns", "b", unit([1.0, 0.0]), threshold=0.1) == []


async def test_max_entries_evicts_least_recently_used(make_store: Any) -> None:
    clock = FakeClock()
    store = make_store(clock, max_entries=2)
    await store.put(entry("a", [1.0, 0.0]))
    await clock.sleep(2)
    await store.put(entry("b", [0.0, 1.0]))
    await clock.sleep(2)
    assert await store.get("ns", "a") is not None  # "a" used: "b" is now the oldest
    await clock.sleep(2)
    await store.put(entry("c", [1.0, 1.0]))
    assert await store.get("ns", "b") is None
    assert await store.get("ns", "a") is not None and await store.get("ns", "c") is not None
    assert [m.entry.key for m in await store.search("ns", "b", unit([0.0, 1.0]), threshold=0.1)] == ["c"]


async def test_clear_one_namespace_or_all(make_store: Any) -> None:
    store = make_store()
    await store.put(entry("a", [1.0, 0.0]))
    await store.put(entry("b", None))
    await store.put(entry("a", [1.0, 0.0], ns="keep"))
    assert await store.clear("ns") == 2
    assert await store.get("ns", "a") is None and await store.get("keep", "a") is not None
    assert await store.search("ns", "b", unit([1.0, 0.0]), threshold=0.1) == []
    assert await store.clear() == 1
    assert await store.get("keep", "a") is None


async def test_replacing_an_entry_replaces_its_vector(make_store: Any) -> None:
    store = make_store()
    await store.put(entry("k", [1.0, 0.0]))
    await store.put(entry("k", [0.0, 1.0]))
    assert await store.search("ns", "b", unit([1.0, 0.0]), threshold=0.5) == []
    assert [m.entry.key for m in await store.search("ns", "b", unit([0.0, 1.0]), threshold=0.5)] == ["k"]


async def test_unreachable_redis_is_a_typed_error() -> None:
    store = RedisStore("redis://:hunter2-password@127.0.0.1:1/0", timeout=0.2)
    with pytest.raises(CacheError) as caught:
        await store.get("ns", "k")
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(store)
    await store.aclose()


async def test_unwritable_sqlite_is_a_typed_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing-dir" / "cache.db")
    with pytest.raises(CacheError, match=r"SQLite cache"):
        await store.put(entry("k", None))
    await store.aclose()


_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from openresponses.cache import {store}
    from openresponses.middleware import SemanticCache
    from openresponses.testing import Script, text
    from openresponses import Request, CallContext
    from openresponses.types import CreateResponseBody

    async def main(mode, prompt):
        store = {make}
        cache = SemanticCache(store, namespace="shared")
        upstream = Script(text("written by process " + mode))
        body = CreateResponseBody(model="m", input=prompt)
        reply = await cache(Request(body=body, context=CallContext()), upstream)
        await store.aclose()
        marker = (reply.model_extra or {{}}).get("openresponses:cache", {{}})
        print(upstream.calls, reply.output_text, marker.get("layer"))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def run_child(store: str, make: str, mode: str, prompt: str) -> str:
    code = _CHILD.format(store=store, make=make)
    done = subprocess.run(
        [sys.executable, "-c", code, mode, prompt], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_two_processes_share_the_cache(kind: str, tmp_path: Path, request: Any) -> None:
    if kind == "sqlite":
        make = f"SQLiteStore({str(tmp_path / 'shared.db')!r})"
        store = "SQLiteStore"
    else:
        url = request.getfixturevalue("redis_server")
        make = f"RedisStore({url!r}, prefix={'p' + uuid.uuid4().hex[:8] + ':'!r})"
        store = "RedisStore"
    first = run_child(store, make, "one", "What is the capital of France?")
    assert first == "1 written by process one None"  # a miss, stored
    second = run_child(store, make, "two", "What is the capital of France?")
    assert second == "0 written by process one exact"  # the other process's answer, no upstream call
    third = run_child(store, make, "three", "Which city is the capital of France?")
    assert third == "0 written by process one semantic"
