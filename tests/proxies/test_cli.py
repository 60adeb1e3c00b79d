"""``openresponses proxy`` as a user runs it: a subprocess on ``--port 0``, flags checked up front."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from openresponses.cli import main
from openresponses.cli.proxy import _configure_logging
from openresponses.testing.chat import ChatCompletionsServer, chat_text

from ..conftest import unused_port
from .conftest import INBOUND_KEY, start_proxy, stop_proxy


async def test_proxy_subprocess_on_port_zero() -> None:
    prefix = ["-m", "openresponses", "proxy"]
    async with ChatCompletionsServer([chat_text("Served by a subprocess.")]) as upstream:
        process, url = await start_proxy(
            *prefix,
            "--preset",
            "ollama",
            "--base-url",
            upstream.base_url,
            "--port",
            "0",
            "--model",
            "qwen3:8b",
            "--api-key-env",
            "PROXY_KEY",
            "--log-level",
            "warning",
            env={"PROXY_KEY": INBOUND_KEY},
        )
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                health = await http.get("/health")
                denied = await http.post("/v1/responses", json={"input": "x"})
                answer = await http.post(
                    "/v1/responses", json={"input": "Hi"}, headers={"authorization": f"Bearer {INBOUND_KEY}"}
                )
        finally:
            code, err = await stop_proxy(process)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert denied.status_code == 401
    assert (
        answer.status_code == 200
        and answer.json()["output"][-1]["content"][0]["text"] == "Served by a subprocess."
    )
    assert code == 0, err
    assert "Traceback" not in err and INBOUND_KEY not in err


async def test_default_info_level_keeps_httpx_request_lines_out() -> None:
    # httpx logs each upstream request at INFO ("HTTP Request: POST ..."): the access log already
    # records the inbound one, so at the default level the proxy keeps httpx at WARNING.
    async with ChatCompletionsServer([chat_text("Quiet.")]) as upstream:
        process, url = await start_proxy(
            "-m", "openresponses", "proxy", "--preset", "ollama", "--base-url", upstream.base_url,
            "--port", "0", "--model", "m", "--api-key-env", "PROXY_KEY",
            env={"PROXY_KEY": INBOUND_KEY},
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                answer = await http.post(
                    "/v1/responses", json={"input": "Hi"}, headers={"authorization": f"Bearer {INBOUND_KEY}"}
                )
        finally:
            code, err = await stop_proxy(process)
    assert answer.status_code == 200 and upstream.requests, err
    assert code == 0, err
    assert "INFO:" in err  # the level is INFO: uvicorn's own lines are there
    assert "HTTP Request" not in err and "httpx" not in err


@pytest.mark.parametrize(
    ("level", "expected"),
    [("info", logging.WARNING), ("warning", logging.WARNING), ("error", logging.ERROR),
     ("debug", logging.NOTSET), ("trace", logging.NOTSET)],
)  # fmt: skip
def test_httpx_logger_level_follows_the_log_level(level: str, expected: int) -> None:
    httpx_logger, root = logging.getLogger("httpx"), logging.getLogger()
    saved = httpx_logger.level, root.level, root.handlers[:]
    try:
        httpx_logger.setLevel(logging.NOTSET)
        root.handlers[:] = []  # as in a fresh process: basicConfig configures the root once
        _configure_logging(level)
        assert httpx_logger.level == expected
        # Whatever the httpx logger's own level, nothing below the chosen one gets through.
        assert httpx_logger.isEnabledFor(logging.INFO) is (level in ("debug", "trace"))
    finally:
        httpx_logger.setLevel(saved[0])
        root.setLevel(saved[1])
        root.handlers[:] = saved[2]


def test_bad_flags_exit_2_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["proxy", "--preset", "ollama", "--workers", "2"]) == 2
    assert "--store" in capsys.readouterr().err
    assert main(["proxy", "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert main(["proxy"]) == 2
    assert "--preset" in capsys.readouterr().err


def test_missing_upstream_key_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    assert main(["proxy", "--preset", "openrouter", "--port", "0"]) == 2
    assert "OPENROUTER_API_KEY" in capsys.readouterr().err


def test_list_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["proxy", "--list-presets"]) == 0
    out = capsys.readouterr().out
    for name in ("openrouter", "openai", "ollama", "lmstudio", "huggingface", "vllm", "llamacpp"):
        assert name in out


def test_module_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openresponses.proxies", "--list-presets"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and "llamacpp" in done.stdout


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["proxy", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "--preset" in out and "--workers" in out and "--api-key-env" in out


async def test_workers_share_a_sqlite_store(tmp_path: Path) -> None:
    port = unused_port()  # the proxy binds it itself (--workers 2 needs a fixed port)
    store = f"sqlite:{tmp_path / 'responses.db'}"
    async with ChatCompletionsServer([chat_text("First."), chat_text("Second.")]) as upstream:
        process, url = await start_proxy(
            "-m", "openresponses", "proxy", "--preset", "ollama", "--base-url", upstream.base_url,
            "--model", "m", "--port", str(port), "--workers", "2", "--store", store, "--log-level", "warning",
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                for _ in range(100):  # the workers start after the URL is printed
                    try:
                        if (await http.get("/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                first = (await http.post("/v1/responses", json={"input": "One"})).json()
                second = await http.post(
                    "/v1/responses", json={"input": "Two", "previous_response_id": first["id"]}
                )
        finally:
            code, err = await stop_proxy(process)
    assert second.status_code == 200, second.text
    assert [m["role"] for m in upstream.requests[1].body["messages"]] == ["user", "assistant", "user"]
    assert code == 0, err


async def test_the_listening_socket_gets_tcp_nodelay_on_accepted_connections() -> None:
    # Without TCP_NODELAY, Nagle holds a reply's body behind its headers until the client's
    # delayed ACK: ~40 ms added to every non-streamed reply (found by benchmarks/proxy.py).
    import asyncio
    import socket

    from openresponses.cli.proxy import listen_socket

    sock = listen_socket("127.0.0.1", 0)
    seen: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
    assert seen and seen[0] != 0


def test_an_unusable_store_stops_start_up_naming_the_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "responses.db"
    assert main(["proxy", "--preset", "ollama", "--store", f"sqlite:{missing}", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "--store" in err and "cannot be used" in err and len(err.strip().splitlines()) == 1
    assert main(["proxy", "--preset", "ollama", "--redis-url", "redis://:pw-SECRET@127.0.0.1:9/0"]) == 2
    err = capsys.readouterr().err
    assert "--redis-url" in err and "cannot be used" in err and "pw-SECRET" not in err


def test_listening_beyond_loopback_without_an_inbound_key_warns() -> None:
    from openresponses.proxies import ProxySettings
    from openresponses.proxies.upstream import exposure_warnings

    assert exposure_warnings(ProxySettings(preset="ollama")) == []
    assert exposure_warnings(ProxySettings(preset="ollama", host="0.0.0.0", api_key_env="K")) == []
    (line,) = exposure_warnings(ProxySettings(preset="ollama", host="0.0.0.0"))
    assert "--api-key-env" in line and "0.0.0.0" in line
