"""Scaling out: two proxy processes sharing one redis-server (``--redis-url``) share circuit
breaker state and the response store; without Redis, what is per process is said."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from openresponses import ConfigError
from openresponses._config import load_client_options
from openresponses.middleware import CircuitBreaker
from openresponses.proxies import ProxySettings
from openresponses.proxies.upstream import build_upstream, per_process_warnings
from openresponses.testing.chat import ChatCompletionsServer, chat_status, chat_text

from .conftest import start_proxy, stop_proxy


def _config(path: Path, base_url: str, name: str) -> str:
    path.write_text(
        f"""
[providers.{name}]
base_url = "{base_url}"
adapter = "chat-completions"
model = "m"
retry = false
circuit_breaker = {{ fail_max = 2, reset_timeout = 60, redis_timeout = 1.0, redis_retry_after = 2.0 }}
"""
    )
    return str(path)


async def _healthy(http: httpx.AsyncClient) -> None:
    for _ in range(100):
        try:
            if (await http.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the proxy never became healthy")


async def test_two_proxy_processes_share_breaker_and_store_through_redis(
    tmp_path: Path, redis_server: str
) -> None:
    name = f"up{uuid.uuid4().hex[:10]}"  # the breaker's Redis keys are per provider name
    async with ChatCompletionsServer() as upstream:
        config = _config(tmp_path / "proxy.toml", upstream.base_url, name)
        command = ["-m", "openresponses", "proxy", "--config", config, "--redis-url", redis_server]
        command += ["--port", "0", "--log-level", "warning", "--retries", "1"]
        one, url_one = await start_proxy(*command)
        try:
            two, url_two = await start_proxy(*command)
        except BaseException:
            await stop_proxy(one)
            raise
        try:
            async with (
                httpx.AsyncClient(base_url=url_one, timeout=10) as first,
                httpx.AsyncClient(base_url=url_two, timeout=10) as second,
            ):
                await _healthy(first)
                await _healthy(second)
                # A chain started on one process continues on the other (the store is in Redis).
                upstream.push(chat_text("Stored by process one."), chat_text("Continued by process two."))
                started = (await first.post("/v1/responses", json={"model": "m", "input": "Hi"})).json()
                continued = await second.post(
                    "/v1/responses",
                    json={"model": "m", "input": "Go on", "previous_response_id": started["id"]},
                )
                # A caller's mistake (a 400) does not count; upstream failures through one open
                # the breaker for both.
                upstream.push(chat_status(400, message="bad temperature"))
                mistake = await first.post("/v1/responses", json={"model": "m", "input": "x"})
                upstream.push(chat_status(500), chat_status(503))
                failures = [
                    (await first.post("/v1/responses", json={"model": "m", "input": "x"})).status_code
                    for _ in range(2)
                ]
                calls_before = len(upstream.requests)
                rejected = await second.post("/v1/responses", json={"model": "m", "input": "x"})
                calls_after = len(upstream.requests)
        finally:
            code_two, err_two = await stop_proxy(two)
            code_one, err_one = await stop_proxy(one)
    assert continued.status_code == 200, continued.text
    assert continued.json()["previous_response_id"] == started["id"]
    assert [m["role"] for m in upstream.requests[1].body["messages"]] == ["user", "assistant", "user"]
    assert upstream.requests[1].body["messages"][1]["content"] == "Stored by process one."
    assert mistake.status_code == 400
    assert failures == [500, 503]
    assert rejected.status_code == 503, rejected.text
    assert rejected.json()["error"]["code"] == "circuit_open"
    assert int(rejected.headers["retry-after"]) > 0
    assert calls_after == calls_before  # process two never called the upstream
    assert (code_one, code_two) == (0, 0), err_one + err_two
    assert "Traceback" not in err_one + err_two


def test_redis_url_is_the_default_store_and_breaker_storage(tmp_path: Path) -> None:
    redis = "redis://127.0.0.1:1/0"  # never contacted: building opens nothing
    settings = ProxySettings(preset="ollama", redis_url=redis, workers=4)
    assert settings.validate().store_spec().kind == "redis"
    assert ProxySettings(preset="ollama", redis_url=redis, store="memory").store_spec().kind == "memory"
    config = _config(tmp_path / "p.toml", "http://127.0.0.1:9/v1", "a")
    upstream = build_upstream(ProxySettings(config=config, redis_url=redis, workers=2))
    assert upstream.local_breakers == ()
    assert per_process_warnings(ProxySettings(config=config, redis_url=redis, workers=2), upstream) == []


def test_without_redis_several_workers_are_told_what_is_per_process(tmp_path: Path) -> None:
    config = _config(tmp_path / "p.toml", "http://127.0.0.1:9/v1", "local")
    settings = ProxySettings(config=config, store=f"sqlite:{tmp_path / 'r.db'}", workers=3)
    upstream = build_upstream(settings)
    assert upstream.local_breakers == ("local",)
    breaker, store = per_process_warnings(settings, upstream)
    assert "circuit breaker state is per worker process for local" in breaker and "--redis-url" in breaker
    assert "shared by this host's workers" in store
    assert per_process_warnings(ProxySettings(config=config), upstream) == []  # one worker: nothing
    with pytest.raises(Exception, match="--workers 3 needs a store the workers share"):
        ProxySettings(config=config, workers=3).validate()
    assert ProxySettings(preset="openai", workers=3).validate().store_spec().kind == "none"


def test_redis_url_must_be_a_redis_url() -> None:
    with pytest.raises(Exception, match="redis://") as info:
        ProxySettings(preset="ollama", redis_url="http://:secret@host:6379").validate()
    assert "secret" not in str(info.value)
    assert "secret" not in repr(ProxySettings(preset="ollama", redis_url="redis://:secret@host:6379/0"))


def test_config_reads_the_breakers_redis_options(tmp_path: Path) -> None:
    config = _config(tmp_path / "p.toml", "http://127.0.0.1:9/v1", "p")
    (provider,) = load_client_options(config, redis_url="redis://127.0.0.1:1/0")["endpoint"].providers
    (breaker,) = [layer for layer in provider.middleware if isinstance(layer, CircuitBreaker)]
    assert (breaker.redis_timeout, breaker.redis_retry_after, breaker.shared) == (1.0, 2.0, True)
    (plain,) = load_client_options(config)["endpoint"].providers
    assert not next(layer for layer in plain.middleware if isinstance(layer, CircuitBreaker)).shared
    for table, key in (
        ("{ redis_timeout = 0 }", "circuit_breaker.redis_timeout"),
        ('{ redis_url = "http://x" }', "circuit_breaker.redis_url"),
        ('{ redis_retry_after = "soon" }', "circuit_breaker.redis_retry_after"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(f'circuit_breaker = {table}\n[providers.p]\nbase_url = "http://127.0.0.1:9/v1"\n')
        with pytest.raises(ConfigError) as info:
            load_client_options(bad)
        assert info.value.key == key, str(info.value)
