"""RedisStore against a real redis-server: put/get, TTL, keys, a dead server, the missing extra."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from openresponses.store import RedisStore, ResponseStore, StoreError


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:8]}:"


async def test_put_get_delete(redis_server: str, prefix: str, make_record: Any) -> None:
    async with RedisStore(redis_server, prefix=prefix) as store:
        assert isinstance(store, ResponseStore)
        stored = await store.put(make_record("resp_a"))
        assert stored.expires_at is None
        assert await store.get("resp_a") == stored
        assert await store.get("resp_b") is None
        assert await store.delete("resp_a") is True
        assert await store.delete("resp_a") is False
        assert await store.get("resp_a") is None


async def test_keys_are_prefixed_and_expire_in_redis(
    redis_server: str, prefix: str, make_record: Any
) -> None:
    raw = redis_asyncio.Redis.from_url(redis_server)
    try:
        async with RedisStore(redis_server, prefix=prefix, ttl=0.15) as store:
            stored = await store.put(make_record("resp_a"))
            assert stored.expires_at is not None and stored.expires_at == pytest.approx(
                time.time() + 0.3, abs=1
            )
            assert 0 < await raw.pttl(f"{prefix}resp_a") <= 150
            assert await store.get("resp_a") is not None
            await asyncio.sleep(0.2)
            assert await store.get("resp_a") is None
            assert await raw.exists(f"{prefix}resp_a") == 0
    finally:
        await raw.aclose()


async def test_two_prefixes_do_not_see_each_other(redis_server: str, make_record: Any) -> None:
    async with RedisStore(redis_server, prefix="a:") as a, RedisStore(redis_server, prefix="b:") as b:
        await a.put(make_record("resp_same", "from a"))
        assert await b.get("resp_same") is None
        await a.delete("resp_same")


async def test_a_client_you_pass_is_used_and_not_closed(
    redis_server: str, prefix: str, make_record: Any
) -> None:
    client = redis_asyncio.Redis.from_url(redis_server)
    store = RedisStore(client=client, prefix=prefix)
    await store.put(make_record("resp_a"))
    await store.aclose()
    assert await client.exists(f"{prefix}resp_a") == 1  # still usable: the store did not close it
    assert "client" in repr(store)
    await client.aclose()


async def test_closing_then_using_again_reopens(redis_server: str, prefix: str, make_record: Any) -> None:
    store = RedisStore(redis_server, prefix=prefix)
    await store.put(make_record("resp_a"))
    await store.aclose()
    await store.aclose()
    assert await store.get("resp_a") is not None
    await store.aclose()


async def test_a_dead_redis_fails_fast_with_a_store_error_and_no_password(dead_port: int) -> None:
    store = RedisStore(f"redis://:s3cret-pw@127.0.0.1:{dead_port}/0", timeout=0.2)
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        await store.get("resp_a")
    assert time.monotonic() - started < 2
    error = caught.value
    assert error.store == "redis" and error.operation == "get" and not error.retryable
    assert f"127.0.0.1:{dead_port}" in str(error)
    for text in (str(error), repr(error), repr(store), str(store.url)):
        assert "s3cret-pw" not in text
    assert "***" in repr(store)
    await store.aclose()


async def test_a_blackholed_redis_times_out(make_record: Any) -> None:
    # A server that accepts and never answers: the short socket timeout fires.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=0.1)
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match="put"):
            await store.put(make_record("resp_a"))
        assert time.monotonic() - started < 1.5
    finally:
        await store.aclose()
        server.close()


async def test_a_corrupt_record_is_a_store_error(redis_server: str, prefix: str) -> None:
    raw = redis_asyncio.Redis.from_url(redis_server)
    await raw.set(f"{prefix}resp_a", b"\x00not json")
    async with RedisStore(redis_server, prefix=prefix) as store:
        with pytest.raises(StoreError, match=r"resp_a.*corrupt"):
            await store.get("resp_a")
    await raw.aclose()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="exactly one of url and client"):
        RedisStore()
    with pytest.raises(ValueError, match="RedisStore: ttl"):
        RedisStore("redis://127.0.0.1:1/0", ttl=0)
    with pytest.raises(ValueError, match="RedisStore: timeout"):
        RedisStore("redis://127.0.0.1:1/0", timeout=0)


def test_without_redis_installed_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"pip install 'openresponses-python\[store\]'"):
        RedisStore("redis://127.0.0.1:6379/0")


def test_importing_the_store_package_does_not_import_redis() -> None:
    import subprocess

    code = "import sys, openresponses.store, openresponses.middleware.stateful; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
