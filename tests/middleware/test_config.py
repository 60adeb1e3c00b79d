"""Fallback chains from TOML: the example file, validation errors, an end-to-end chain."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from openresponses import AsyncClient, Client, ConfigError
from openresponses._config import load_client_options
from openresponses.middleware import CircuitBreaker, Failover, Retry, Timeout
from openresponses.testing import ScriptedServer, status, text

EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "openresponses.toml"


def write(tmp_path: pathlib.Path, content: str) -> pathlib.Path:
    path = tmp_path / "openresponses.toml"
    path.write_text(content)
    return path


def test_the_example_file_builds_the_documented_stack(monkeypatch: Any) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example")
    options = load_client_options(EXAMPLE)
    (deadline,) = options["middleware"]
    failover = options["endpoint"]
    assert isinstance(deadline, Timeout) and deadline.total == 120.0
    assert isinstance(failover, Failover)
    assert (failover.first_token_timeout, failover.hedge_after, failover.midstream) == (15.0, 5.0, "restart")
    openai, local = failover.providers
    assert (openai.name, local.name) == ("openai", "local")
    assert openai.model_map == {"fast": "gpt-4.1-mini", "smart": "gpt-4.1"}
    assert [type(m) for m in openai.middleware] == [Retry, CircuitBreaker, Timeout]
    assert openai.middleware[0].policy.attempts == 2  # type: ignore[attr-defined]
    assert openai.middleware[0].policy.max_delay == 8.0  # type: ignore[attr-defined]  # merged from [retry]
    assert [type(m) for m in local.middleware] == [Retry, Timeout]
    assert local.middleware[1].first_event == 30.0 and local.middleware[1].idle == 30.0  # type: ignore[attr-defined]
    # One retry budget for the whole client.
    assert openai.middleware[0].budget is local.middleware[0].budget  # type: ignore[attr-defined]
    assert "sk-example" not in repr(options)
    only = load_client_options(EXAMPLE, chain="local_only")["endpoint"]
    assert [p.name for p in only.providers] == ["local"]


@pytest.mark.parametrize(
    ("content", "key", "problem"),
    [
        ('[providers.a]\nbase_url = "http://x"\nbase_ur1 = "typo"\n', "providers.a.base_ur1", "unknown key"),
        (
            '[providers.a]\nbase_url = "http://x"\ntimeout = "slow"\n',
            "providers.a.timeout",
            "expected number",
        ),
        ('[providers.a]\nbase_url = "http://x"\napi_key = "sk-1"\n', "providers.a.api_key", "api_key_env"),
        ('[providers.a]\nmodel = "m"\n', "providers.a.base_url", "is required"),
        (
            '[providers.a]\nbase_url = "http://x"\napi_key_env = "NOPE_UNSET_KEY"\n',
            "providers.a.api_key_env",
            "NOPE_UNSET_KEY is not set",
        ),
        (
            '[providers.a]\nbase_url = "http://x"\n[retry]\nattempts = "3"\n',
            "retry.attempts",
            "expected integer",
        ),
        (
            '[providers.a]\nbase_url = "http://x"\n[retry]\nattempts = 3\nbackof = 1\n',
            "retry.backof",
            "unknown key",
        ),
        (
            '[providers.a]\nbase_url = "http://x"\n[providers.a.retry]\nbudget = false\n',
            "providers.a.retry.budget",
            "shared by the client",
        ),
        (
            '[providers.a]\nbase_url = "http://x"\n[chains.c]\nproviders = ["a", "b"]\n',
            "chains.c.providers",
            "unknown provider 'b'",
        ),
        (
            '[providers.a]\nbase_url = "http://x"\n[chains.c]\nproviders = ["a"]\nmidstream = "resume"\n',
            "chains.c.midstream",
            "expected 'raise'",
        ),
        (
            'default_chain = "x"\n[providers.a]\nbase_url = "http://x"\n',
            "default_chain",
            "no chain named 'x'",
        ),
        (
            '[providers.a]\nbase_url = "http://x"\n[circuit_breaker]\nfail_max = 0\n',
            "circuit_breaker",
            "must be >= 1",
        ),
        ('[providers.a]\nbase_url = "http://x"\n[timeout]\nidle = -1\n', "timeout.idle", "must be >= 0"),
        ("providers = 3\n", "providers", "expected table"),
        ("", "providers", "at least one"),
    ],
)
def test_errors_name_the_file_the_key_and_the_problem(
    tmp_path: pathlib.Path, content: str, key: str, problem: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        load_client_options(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message
    assert info.value.key == key and info.value.path == str(path)
    assert isinstance(info.value, ValueError)


def test_syntax_errors_and_missing_files(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_client_options(write(tmp_path, "[providers\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_client_options(tmp_path / "missing.toml")


async def test_from_config_end_to_end(tmp_path: pathlib.Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PRIMARY_KEY", "sk-primary")
    async with (
        ScriptedServer([status(400, code_str="context_length_exceeded")]) as a,
        ScriptedServer([text("served by b")]) as b,
    ):
        path = write(
            tmp_path,
            f"""
            [retry]
            attempts = 1
            [providers.a]
            base_url = "{a.base_url}"
            api_key_env = "PRIMARY_KEY"
            model = "a-model"
            [providers.b]
            base_url = "{b.base_url}"
            model_map = {{ "m" = "b-model" }}
            [chains.main]
            providers = ["a", "b"]
            """.replace("\n            ", "\n"),
        )
        async with AsyncClient.from_config(path) as client:
            response = await client.responses.create(model="m", input="x")
    assert response.output_text == "served by b" and response.provider == "b"
    assert a.requests[0].headers["authorization"] == "Bearer sk-primary"
    assert a.requests[0].body["model"] == "a-model" and b.requests[0].body["model"] == "b-model"


def test_sync_client_from_config(tmp_path: pathlib.Path) -> None:
    with ScriptedServer([status(503), text("sync via config")]).run_in_thread() as server:
        path = write(
            tmp_path,
            f'[retry]\njitter = "none"\nbase_delay = 0.01\n[providers.a]\nbase_url = "{server.base_url}"\n',
        )
        with Client.from_config(path) as client:
            response = client.responses.create(model="m", input="x")
        assert response.output_text == "sync via config"
        assert len(server.requests) == 2


def test_a_chain_without_first_token_timeout_keeps_failovers_default(tmp_path: pathlib.Path) -> None:
    from openresponses.middleware.failover import DEFAULT_FIRST_TOKEN_TIMEOUT, Failover

    path = write(
        tmp_path,
        '[providers.a]\nbase_url = "http://127.0.0.1:9/v1"\n[providers.b]\nbase_url = "http://127.0.0.1:9/v1"\n',
    )
    failover = AsyncClient.from_config(path).endpoint
    assert isinstance(failover, Failover)
    assert failover.first_token_timeout == DEFAULT_FIRST_TOKEN_TIMEOUT == 60.0


def test_from_config_puts_given_middleware_outermost(tmp_path: pathlib.Path) -> None:
    from openresponses.middleware import Timeout

    path = write(
        tmp_path,
        '[providers.a]\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[chains.main]\nproviders = ["a"]\ndeadline = 30.0\n',
    )
    mine = Timeout(5)
    client = AsyncClient.from_config(path, middleware=[mine])
    assert client.middleware[0] is mine and len(client.middleware) == 2  # then the file's deadline
    sync = Client.from_config(path, middleware=[mine])
    assert sync.async_client.middleware[0] is mine
    sync.close()


def test_a_providers_chat_table_configures_its_translation(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        """
[providers.mistral]
base_url = "https://api.mistral.ai/v1"
adapter = "chat-completions"
[providers.mistral.chat]
call_ids = "mistral"
send_reasoning = "reasoning"
drop_unsupported = ["top_logprobs"]
""",
    )
    (provider,) = load_client_options(path)["endpoint"].providers
    dialect = provider.transport.dialect
    assert dialect.request_options.call_ids == "mistral"
    assert dialect.request_options.send_reasoning == "reasoning"
    assert dialect.request_options.drop_unsupported == frozenset({"top_logprobs"})


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ('adapter = "chat-completions"\n[providers.p.chat]\ncall_id = "mistral"', "providers.p.chat.call_id",
         "unknown key 'call_id'"),
        ('adapter = "chat-completions"\n[providers.p.chat]\ncall_ids = "short"', "providers.p.chat",
         "call_ids"),
        ('adapter = "anthropic"\n[providers.p.chat]\ncall_ids = "mistral"', "providers.p.chat",
         'needs adapter = "chat-completions"'),
        ('[providers.p.chat]\ndrop_unsupported = [1]', "providers.p.chat.drop_unsupported", "field names"),
    ],
)  # fmt: skip
def test_a_bad_chat_table_names_its_key(tmp_path: pathlib.Path, table: str, key: str, message: str) -> None:
    path = write(tmp_path, f'[providers.p]\nbase_url = "http://127.0.0.1:9/v1"\n{table}\n')
    with pytest.raises(ConfigError, match=message) as caught:
        load_client_options(path)
    assert caught.value.key == key
