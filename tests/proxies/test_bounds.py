"""The proxy's bounds: its response store's (a TTL, 30 days by default, ``--store-ttl``, and in
memory and SQLite a count, ``--store-max-entries``, on every kind of store it opens) and a
non-streamed call's time (``--non-stream-timeout``); ``--api`` against a vendor preset."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openresponses import ConfigError
from openresponses.cli import main
from openresponses.proxies import ProxySettings, create_app_from_settings
from openresponses.proxies.settings import DEFAULT_STORE_TTL
from openresponses.testing.chat import ChatCompletionsServer, chat_stall, chat_text

from .conftest import asgi_client

THIRTY_DAYS = 30 * 86400


@pytest.fixture
async def chat_upstream() -> AsyncIterator[ChatCompletionsServer]:
    async with ChatCompletionsServer() as server:
        yield server


def settings(upstream: ChatCompletionsServer, **changes: Any) -> ProxySettings:
    return ProxySettings(preset="ollama", base_url=upstream.base_url, model="qwen3:8b", **changes)


async def continue_from(client: Any, previous: str) -> int:
    reply = await client.post("/v1/responses", json={"input": "Go on", "previous_response_id": previous})
    return int(reply.status_code)


def test_the_default_ttl_is_thirty_days() -> None:
    assert DEFAULT_STORE_TTL == THIRTY_DAYS
    assert ProxySettings(preset="ollama").store_ttl == THIRTY_DAYS


async def test_a_stored_response_expires_after_the_ttl(chat_upstream: ChatCompletionsServer) -> None:
    chat_upstream.push(chat_text("one"), chat_text("two"))
    async with asgi_client(create_app_from_settings(settings(chat_upstream, store_ttl=0.3))) as client:
        kept = (await client.post("/v1/responses", json={"input": "Hi"})).json()["id"]
        assert await continue_from(client, kept) == 200
        await asyncio.sleep(0.6)  # 2x the TTL
        assert await continue_from(client, kept) == 404  # previous_response_not_found


async def test_max_entries_evicts_the_least_recently_used(chat_upstream: ChatCompletionsServer) -> None:
    chat_upstream.push(chat_text("one"), chat_text("two"), chat_text("three"))
    async with asgi_client(create_app_from_settings(settings(chat_upstream, store_max_entries=1))) as client:
        first = (await client.post("/v1/responses", json={"input": "A"})).json()["id"]
        second = (await client.post("/v1/responses", json={"input": "B"})).json()["id"]
        assert await continue_from(client, first) == 404
        assert await continue_from(client, second) == 200


async def test_sqlite_rows_carry_the_default_expiry(
    chat_upstream: ChatCompletionsServer, tmp_path: Path
) -> None:
    path = tmp_path / "responses.db"
    chat_upstream.push(chat_text("one"))
    async with asgi_client(
        create_app_from_settings(settings(chat_upstream, store=f"sqlite:{path}"))
    ) as client:
        kept = (await client.post("/v1/responses", json={"input": "Hi"})).json()["id"]
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(openresponses_responses)")]
        assert "expires_at" in columns, columns
        (expires_at,) = db.execute(
            "SELECT expires_at FROM openresponses_responses WHERE id = ?", (kept,)
        ).fetchone()
    assert expires_at is not None and abs(expires_at - (time.time() + THIRTY_DAYS)) < 60


async def test_redis_keys_carry_the_ttl(chat_upstream: ChatCompletionsServer, redis_url: str) -> None:
    import redis.asyncio as redis_lib

    chat_upstream.push(chat_text("one"), chat_text("two"))
    async with asgi_client(create_app_from_settings(settings(chat_upstream, store=redis_url))) as client:
        default = (await client.post("/v1/responses", json={"input": "Hi"})).json()["id"]
    short = settings(chat_upstream, store=redis_url, store_ttl=120.0)
    async with asgi_client(create_app_from_settings(short)) as client:
        brief = (await client.post("/v1/responses", json={"input": "Hi"})).json()["id"]
    connection = redis_lib.from_url(redis_url)
    try:
        default_ttl = await connection.ttl(f"openresponses:resp:{default}")
        brief_ttl = await connection.ttl(f"openresponses:resp:{brief}")
    finally:
        await connection.aclose()
    assert THIRTY_DAYS - 60 < default_ttl <= THIRTY_DAYS
    assert 60 < brief_ttl <= 120


def test_store_bounds_flags(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from openresponses.cli.proxy import _add_arguments, settings_from_args

    parser = argparse.ArgumentParser()
    _add_arguments(parser)
    parsed = settings_from_args(parser.parse_args(["--preset", "ollama", "--store-ttl", "none"]))
    assert parsed.store_ttl is None
    parsed = settings_from_args(
        parser.parse_args(["--preset", "ollama", "--store-ttl", "3600", "--store-max-entries", "5"])
    )
    assert (parsed.store_ttl, parsed.store_max_entries) == (3600.0, 5)
    assert main(["proxy", "--preset", "ollama", "--store-max-entries", "0"]) == 2
    assert "--store-max-entries" in capsys.readouterr().err
    with pytest.raises(ConfigError) as info:
        ProxySettings(preset="ollama", store_ttl=-5.0).validate()
    assert info.value.key == "--store-ttl"
    assert (
        main(["proxy", "--preset", "ollama", "--store", "redis://127.0.0.1:9/0", "--store-max-entries", "9"])
        == 2
    )
    assert "maxmemory" in capsys.readouterr().err


def test_api_cannot_change_a_vendor_presets_protocol() -> None:
    with pytest.raises(ConfigError) as info:
        ProxySettings(preset="anthropic", api="chat-completions").validate()
    assert info.value.key == "--api" and "anthropic" in str(info.value)
    with pytest.raises(ConfigError):
        ProxySettings(preset="gemini", api="responses").validate()
    ProxySettings(preset="lmstudio", api="responses").validate()  # a chat preset may switch


# -- a non-streamed call has its own bound: its answer arrives at once -----------------------------


async def test_a_silent_upstream_gives_a_non_streamed_call_a_504(
    chat_upstream: ChatCompletionsServer,
) -> None:
    # Without this bound only the HTTP read timeout (600 s) and the retries would end it.
    chat_upstream.push(chat_stall(0), chat_stall(0))
    app = create_app_from_settings(settings(chat_upstream, non_stream_timeout=0.3, store="none"))
    async with asgi_client(app) as client:
        started = time.monotonic()
        reply = await client.post("/v1/responses", json={"input": "Hi"})
        elapsed = time.monotonic() - started
    assert reply.status_code == 504 and reply.json()["error"]["code"] == "upstream_timeout"
    assert elapsed < 3.0, elapsed  # 0.3 s for the whole call, retries included (10x margin)


async def test_the_non_stream_bound_leaves_streams_to_first_event_and_idle(
    chat_upstream: ChatCompletionsServer,
) -> None:
    chat_upstream.push(chat_text("slow but streaming", first_chunk_delay=0.6))
    app = create_app_from_settings(settings(chat_upstream, non_stream_timeout=0.2, store="none"))
    async with asgi_client(app) as client:
        reply = await client.post("/v1/responses", json={"input": "Hi", "stream": True})
    assert reply.status_code == 200 and "response.completed" in reply.text


def test_the_non_stream_timeout_flag() -> None:
    assert ProxySettings(preset="ollama").non_stream_timeout == 300.0
    with pytest.raises(ConfigError) as info:
        ProxySettings(preset="ollama", non_stream_timeout=0.0).validate()
    assert info.value.key == "--non-stream-timeout"
