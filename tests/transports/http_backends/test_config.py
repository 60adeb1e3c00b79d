"""Choosing the backend: ``HTTPTransport``/``Provider(http_backend=...)``, the TOML key, the proxy flag.

A bad value is a ``ConfigError`` naming ``http_backend`` before anything is sent; aiohttp or
httptools missing is one line naming its extra (hidden here with ``sys.modules[name] = None``,
which makes the import fail as on a machine without it).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openresponses import AsyncClient, ConfigError, MissingExtraError, Provider
from openresponses._config import load_client_options
from openresponses.cli import main
from openresponses.cli.proxy import add_proxy_parser, settings_from_args
from openresponses.proxies.settings import ProxySettings
from openresponses.proxies.upstream import build_upstream
from openresponses.testing import ScriptedServer, text
from openresponses.testing.chat import ChatCompletionsServer, chat_text
from openresponses.transports.http import HTTP_BACKENDS, HTTPTransport

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


@pytest.fixture
def without_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)


@pytest.fixture
def without_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httptools", None)


#: The optional backends: each is its own extra, named after its package.
OPTIONAL = ["aiohttp", "httptools"]


@pytest.fixture
def quiet_cli_logging() -> Iterator[None]:
    """``main(["proxy", ...])`` sets the httpx logger's level: put it back."""
    httpx_logger, root = logging.getLogger("httpx"), logging.getLogger()
    saved = httpx_logger.level, root.level
    yield
    httpx_logger.setLevel(saved[0])
    root.setLevel(saved[1])


def proxy_args(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_proxy_parser(parser.add_subparsers())
    return parser.parse_args(["proxy", *flags])


# -- the transport and the provider ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", OPTIONAL)
def test_the_backends_are_httpx_aiohttp_and_httptools(backend: str) -> None:
    assert HTTP_BACKENDS == ("httpx", "aiohttp", "httptools")
    assert HTTPTransport("http://127.0.0.1:9/v1").http_backend == "httpx"  # the library default
    transport = HTTPTransport(
        "http://127.0.0.1:9/v1",
        api_key="sk-repr-0123456789abcdef",
        http_backend=backend,  # type: ignore[arg-type]
    )
    assert transport.http_backend == backend
    assert f"http_backend={backend!r}" in repr(transport) and "sk-repr" not in repr(transport)


@pytest.mark.parametrize("value", ["bogus", "AIOHTTP", "", "requests"])
def test_an_unknown_backend_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        HTTPTransport("http://127.0.0.1:9/v1", http_backend=value)  # type: ignore[arg-type]
    assert caught.value.key == "http_backend"
    assert repr(value) in str(caught.value) and "httpx, aiohttp, httptools" in str(caught.value)
    with pytest.raises(ConfigError, match="http_backend"):
        Provider("p", base_url="http://127.0.0.1:9/v1", http_backend=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", OPTIONAL)
async def test_a_backend_with_your_own_http_client_is_a_config_error(backend: str) -> None:
    async with httpx.AsyncClient() as own:
        with pytest.raises(ConfigError) as caught:
            HTTPTransport("http://127.0.0.1:9/v1", http_backend=backend, http_client=own)  # type: ignore[arg-type]
        assert caught.value.key == "http_backend"
        # httpx with your own client stays allowed.
        assert HTTPTransport("http://127.0.0.1:9/v1", http_client=own).http_backend == "httpx"


@pytest.mark.parametrize("backend", OPTIONAL)
async def test_a_provider_sends_through_the_backend(backend: str) -> None:
    async with ScriptedServer([text(f"Through {backend}.")]) as server:
        provider = Provider("p", base_url=server.base_url, http_backend=backend)  # type: ignore[arg-type]
        assert getattr(provider.transport, "http_backend", None) == backend
        async with AsyncClient(endpoint=provider) as client:
            response = await client.responses.create(model="m", input="x")
    assert response.output_text == f"Through {backend}." and response.provider == "p"


def test_aiohttp_missing_names_the_extra(without_aiohttp: None) -> None:
    with pytest.raises(MissingExtraError) as caught:
        HTTPTransport("http://127.0.0.1:9/v1", http_backend="aiohttp")
    assert caught.value.extra == "aiohttp"
    assert "pip install 'openresponses-python[aiohttp]'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_httptools_missing_names_the_extra(without_httptools: None) -> None:
    with pytest.raises(MissingExtraError) as caught:
        HTTPTransport("http://127.0.0.1:9/v1", http_backend="httptools")
    assert caught.value.extra == "httptools"
    assert "pip install 'openresponses-python[httptools]'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_aiohttp_missing_fails_at_construction(without_aiohttp: None) -> None:
    """Whatever the message, it fails when the transport is built, as an ImportError."""
    with pytest.raises(ImportError):
        Provider("p", base_url="http://127.0.0.1:9/v1", http_backend="aiohttp")
    assert HTTPTransport("http://127.0.0.1:9/v1").http_backend == "httpx"  # httpx needs nothing more


@pytest.mark.parametrize("backend", OPTIONAL)
def test_the_extra_exists_in_pyproject(backend: str) -> None:
    extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(dep.startswith(backend) for dep in extras[backend])
    assert backend in extras["all"][0].partition("[")[2].rstrip("]").split(",")
    # The proxy's default backend comes with the proxy extra.
    assert any(dep.startswith("httptools") for dep in extras["proxy"])


# -- the TOML file --------------------------------------------------------------------------------------


def _toml(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "openresponses.toml"
    path.write_text(
        f'[providers.fast]\nbase_url = "{url}"\nhttp_backend = "aiohttp"\n'
        f'[providers.plain]\nbase_url = "{url}"\n{extra}'
        '[chains.main]\nproviders = ["fast", "plain"]\n',
        encoding="utf-8",
    )
    return path


def _backends(options: dict[str, object]) -> dict[str, str]:
    providers = getattr(options["endpoint"], "providers", ())
    return {p.name: getattr(p.transport, "http_backend", "?") for p in providers}


def test_the_toml_key_picks_the_backend_per_provider(tmp_path: Path) -> None:
    path = _toml(tmp_path, "http://127.0.0.1:9/v1")
    assert _backends(load_client_options(path)) == {"fast": "aiohttp", "plain": "httpx"}
    # A default for the providers that set none (the proxy's --http-backend); their own wins.
    assert _backends(load_client_options(path, http_backend="aiohttp")) == {
        "fast": "aiohttp",
        "plain": "aiohttp",
    }
    mixed = _toml(tmp_path, "http://127.0.0.1:9/v1", 'http_backend = "httpx"\n')
    assert _backends(load_client_options(mixed, http_backend="aiohttp")) == {
        "fast": "aiohttp",
        "plain": "httpx",
    }


@pytest.mark.parametrize("value", ['"bogus"', "3"])
def test_a_bad_toml_value_names_the_file_and_the_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'[providers.p]\nbase_url = "http://127.0.0.1:9/v1"\nhttp_backend = {value}\n')
    with pytest.raises(ConfigError) as caught:
        load_client_options(path)
    assert caught.value.path == str(path)
    assert caught.value.key is not None and caught.value.key.endswith("http_backend"), caught.value.key
    assert str(caught.value).startswith(str(path))


async def test_a_client_from_the_toml_file_calls_through_aiohttp(tmp_path: Path) -> None:
    async with (
        ScriptedServer([text("From the file.")]) as server,
        AsyncClient.from_config(_toml(tmp_path, server.base_url)) as client,
    ):
        response = await client.responses.create(model="m", input="x")
    assert response.output_text == "From the file." and response.provider == "fast"


# -- the proxy's --http-backend --------------------------------------------------------------------------


def test_auto_resolves_to_httptools_when_importable() -> None:
    settings = settings_from_args(proxy_args("--preset", "ollama"))
    assert settings.http_backend == "auto"
    assert settings.resolved_http_backend() == "httptools"
    assert (
        settings_from_args(
            proxy_args("--preset", "ollama", "--http-backend", "httpx")
        ).resolved_http_backend()
        == "httpx"
    )


def test_auto_resolves_to_aiohttp_without_httptools(without_httptools: None) -> None:
    assert ProxySettings(preset="ollama").validate().resolved_http_backend() == "aiohttp"


def test_auto_resolves_to_httpx_without_either(without_httptools: None, without_aiohttp: None) -> None:
    assert ProxySettings(preset="ollama").validate().resolved_http_backend() == "httpx"


async def test_the_proxy_upstream_goes_through_the_chosen_backend() -> None:
    async with ChatCompletionsServer(default=chat_text("Served.")) as upstream:
        for flag, expected in (
            ("auto", "httptools"),
            ("httpx", "httpx"),
            ("aiohttp", "aiohttp"),
            ("httptools", "httptools"),
        ):
            args = proxy_args("--preset", "ollama", "--base-url", upstream.base_url, "--model", "m")
            args.http_backend = flag
            built = build_upstream(settings_from_args(args))
            try:
                provider = built.client.endpoint
                assert isinstance(provider, Provider)
                assert getattr(provider.transport, "http_backend", None) == expected, flag
                response = await built.client.responses.create(model="m", input="Hi")
                assert response.output_text == "Served."
            finally:
                await built.aclose()
    assert len(upstream.requests) == 4


def test_a_bad_backend_setting_names_the_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        ProxySettings(preset="ollama", http_backend="bogus").validate()
    assert caught.value.key == "--http-backend"


def test_a_bad_backend_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        proxy_args("--preset", "ollama", "--http-backend", "bogus")
    assert caught.value.code == 2
    assert "--http-backend" in capsys.readouterr().err


def test_aiohttp_missing_exits_2_with_one_line(
    without_aiohttp: None, capsys: pytest.CaptureFixture[str], quiet_cli_logging: None
) -> None:
    assert main(["proxy", "--preset", "ollama", "--http-backend", "aiohttp", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "--http-backend" in err, err
    assert "Traceback" not in err


def test_aiohttp_missing_exit_line_names_the_extra(
    without_aiohttp: None, capsys: pytest.CaptureFixture[str], quiet_cli_logging: None
) -> None:
    assert main(["proxy", "--preset", "ollama", "--http-backend", "aiohttp", "--port", "0"]) == 2
    assert "pip install 'openresponses-python[aiohttp]'" in capsys.readouterr().err


def test_httptools_missing_exit_line_names_the_extra(
    without_httptools: None, capsys: pytest.CaptureFixture[str], quiet_cli_logging: None
) -> None:
    assert main(["proxy", "--preset", "ollama", "--http-backend", "httptools", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'openresponses-python[httptools]'" in err, err
