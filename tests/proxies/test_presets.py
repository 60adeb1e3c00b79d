"""Presets and settings: the table is sane, documented, accepted by the dialect; flags are checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from openresponses import ConfigError, Provider
from openresponses._provider import ADAPTER_DIALECTS
from openresponses.proxies import PRESETS, Preset, ProxySettings, get_preset, parse_store
from openresponses.proxies.presets import Api
from openresponses.proxies.settings import ENV_SETTINGS, StoreSpec
from openresponses.transports.chat_completions import ChatCompletionsDialect

DOCS = Path(__file__).resolve().parents[2] / "docs" / "proxy.md"
SEED_PORTS = {"openrouter": 8001, "openai": 8002, "ollama": 8003, "lmstudio": 8004, "huggingface": 8005}


def test_seed_ports_and_extra_presets() -> None:
    assert {name: PRESETS[name].port for name in SEED_PORTS} == SEED_PORTS
    assert PRESETS["vllm"].port == 8006 and PRESETS["llamacpp"].port == 8007
    ports = [preset.port for preset in PRESETS.values()]
    assert len(set(ports)) == len(ports)


@pytest.mark.parametrize("preset", PRESETS.values(), ids=lambda p: p.name)
def test_each_preset_is_usable(preset: Preset) -> None:
    assert preset.base_url.startswith(("http://", "https://"))
    assert preset.api in get_args(Api)
    if preset.key_required:
        assert preset.api_key_env and preset.base_url.startswith("https://")
    elif preset.api in ("responses", "chat-completions"):
        assert preset.base_url.startswith("http://localhost"), "local servers need no key"
    else:  # a vendor that authenticates another way (Vertex OAuth, AWS SigV4)
        assert preset.base_url.startswith("https://")
    if preset.api in ("responses", "chat-completions"):
        assert preset.base_url.endswith("/v1")
        # The chat translation accepts the options, whichever of the two APIs the preset defaults to.
        ChatCompletionsDialect(**preset.dialect_options)
    else:
        assert preset.adapter() == preset.api
        assert ADAPTER_DIALECTS[preset.adapter()]  # a registered, lazily imported dialect
    with pytest.raises(TypeError):
        preset.dialect_options["x"] = 1  # type: ignore[index]


def test_native_presets_and_quirks() -> None:
    native = {p.name for p in PRESETS.values() if p.api == "responses"}
    assert native == {"openai", "openrouter", "bedrock"}
    assert PRESETS["huggingface"].model == "tgi"
    assert PRESETS["ollama"].dialect_options["max_tokens_field"] == "max_tokens"
    assert PRESETS["openai"].dialect_options["max_tokens_field"] == "max_completion_tokens"
    assert PRESETS["ollama"].dialect_options["reasoning_field"] == "reasoning"
    assert PRESETS["huggingface"].dialect_options["think_tags"] is True


def test_docs_table_matches_presets() -> None:
    rows = re.findall(r"^\| `([\w-]+)` \| (\d+) \| `([^`]+)` \| `([^`]+)` \|", DOCS.read_text(), re.MULTILINE)
    assert {name: (int(port), url, api) for name, port, url, api in rows} == {
        p.name: (p.port, p.base_url, p.api) for p in PRESETS.values()
    }


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown preset 'olama'.*ollama"):
        get_preset("olama")


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("memory", StoreSpec("memory")),
        ("none", StoreSpec("none")),
        ("sqlite:/tmp/r.db", StoreSpec("sqlite", "/tmp/r.db")),
        ("redis://127.0.0.1:6379/0", StoreSpec("redis", "redis://127.0.0.1:6379/0")),
    ],
)
def test_store_specs(value: str, spec: StoreSpec) -> None:
    assert parse_store(value) == spec


def test_store_errors_hide_passwords() -> None:
    with pytest.raises(ConfigError, match="sqlite needs a file path"):
        parse_store("sqlite:")
    with pytest.raises(ConfigError) as caught:
        parse_store("memcached://:hunter2secret@host")
    assert "hunter2secret" not in str(caught.value)
    assert "hunter2secret" not in repr(
        ProxySettings(preset="ollama", store="redis://:hunter2secret@host:6379/0")
    )
    assert str(parse_store("redis://:hunter2secret@host:6379/0")) == "redis://***@host:6379/0"


def test_store_auto() -> None:
    assert ProxySettings(preset="ollama").store_spec().kind == "memory"
    assert ProxySettings(preset="openai").store_spec().kind == "none"  # OpenAI keeps state itself
    assert ProxySettings(preset="openai", api="chat-completions").store_spec().kind == "memory"
    assert ProxySettings(preset="ollama", api="responses").store_spec().kind == "memory"  # stateless


@pytest.mark.parametrize(
    ("settings", "flag"),
    [
        (ProxySettings(), "--preset"),
        (ProxySettings(preset="ollama", config="x.toml"), "--preset"),
        (ProxySettings(config="x.toml", model="m"), "--model"),
        (ProxySettings(preset="ollama", chain="main"), "--chain"),
        (ProxySettings(preset="ollama", workers=2), "--store"),
        (ProxySettings(preset="ollama", workers=2, store="memory"), "--store"),
        (ProxySettings(preset="ollama", base_url="localhost:11434"), "--base-url"),
        (ProxySettings(preset="ollama", retries=0), "--retries"),
        (ProxySettings(preset="ollama", idle_timeout=-1), "--idle-timeout"),
        (ProxySettings(preset="ollama", max_body_bytes=10), "--max-body"),
        (ProxySettings(preset="ollama", port=70000), "--port"),
    ],
)
def test_invalid_settings_name_the_flag(settings: ProxySettings, flag: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings.validate()
    assert caught.value.key == flag


def test_workers_with_a_shared_store_are_fine() -> None:
    ProxySettings(preset="ollama", workers=4, store="sqlite:/tmp/r.db").validate()
    ProxySettings(preset="ollama", workers=4, store="redis://localhost:6379/0").validate()


def test_settings_travel_to_workers_through_the_environment() -> None:
    settings = ProxySettings(preset="vllm", model="m", store="sqlite:/tmp/r.db", workers=3, api_key_env="K")
    env = settings.to_env()
    assert ProxySettings.from_env(env) == settings
    assert "sk-" not in env[ENV_SETTINGS]
    with pytest.raises(ConfigError, match=ENV_SETTINGS):
        ProxySettings.from_env({})
    with pytest.raises(ConfigError, match="unknown settings"):
        ProxySettings.from_env({ENV_SETTINGS: '{"preset": "ollama", "bogus": 1}'})


def test_required_upstream_key_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from openresponses.proxies import build_upstream

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_upstream(ProxySettings(preset="openai"))


async def test_preset_builds_the_right_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from openresponses.proxies import build_upstream

    monkeypatch.delenv("HF_TOKEN", raising=False)
    upstream = build_upstream(ProxySettings(preset="huggingface", base_url="http://127.0.0.1:9/v1"))
    try:
        provider = upstream.client.endpoint
        assert isinstance(provider, Provider)
        assert provider.adapter == "chat-completions" and provider.model == "tgi"
        assert provider.base_url == "http://127.0.0.1:9/v1"
        assert provider.api_key_env is None  # optional and unset: no key sent
        assert "127.0.0.1:9" in upstream.label
    finally:
        await upstream.aclose()


async def test_default_stack_order() -> None:
    from openresponses.middleware import Retry, Timeout, Tracing
    from openresponses.middleware.stateful import Stateful
    from openresponses.proxies import SummaryCompaction, build_upstream

    upstream = build_upstream(ProxySettings(preset="ollama", trace=True))
    try:
        layers = upstream.client.middleware
        assert [type(layer) for layer in layers] == [Tracing, Stateful, SummaryCompaction, Timeout, Retry]
        timeout = layers[3]
        assert isinstance(timeout, Timeout)
        assert (timeout.first_event, timeout.idle, timeout.non_stream, timeout.total) == (
            60.0,
            300.0,
            300.0,
            None,
        )
    finally:
        await upstream.aclose()
    bare = build_upstream(
        ProxySettings(
            preset="ollama",
            store="none",
            retries=1,
            first_event_timeout=None,
            idle_timeout=None,
            non_stream_timeout=None,
        )
    )
    try:
        assert [type(layer) for layer in bare.client.middleware] == [SummaryCompaction]
    finally:
        await bare.aclose()
    native = build_upstream(ProxySettings(preset="ollama", api="responses", store="none"))
    try:  # a native upstream compacts itself: /responses/compact is passed through
        assert SummaryCompaction not in [type(layer) for layer in native.client.middleware]
    finally:
        await native.aclose()


def test_the_vertex_preset_follows_the_location(monkeypatch: pytest.MonkeyPatch) -> None:
    from openresponses.proxies.upstream import _preset_provider

    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-project-1")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    assert _preset_provider(ProxySettings(preset="vertex")).base_url == (
        "https://europe-west4-aiplatform.googleapis.com/v1"
    )
    custom = ProxySettings(preset="vertex", base_url="http://127.0.0.1:9/v1")
    assert _preset_provider(custom).base_url == "http://127.0.0.1:9/v1"  # --base-url wins
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    with pytest.raises(ConfigError, match="project"):
        _preset_provider(ProxySettings(preset="vertex"))
