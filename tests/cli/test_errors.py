"""Every CLI failure is one line on stderr and a non-zero exit; --debug adds the traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

import openresponses.cli.demo
from openresponses.cli import main

from ..conftest import unused_port
from .conftest import RunCli, core_only_env


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something is already listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


def test_serve_scripted_on_a_port_in_use(run_cli: RunCli, busy_port: int) -> None:
    done = run_cli("serve-scripted", "--port", str(busy_port))
    assert done.returncode == 2
    assert _one_error_line(done.stderr) == (
        f"error: cannot listen on 127.0.0.1:{busy_port}: address already in use "
        "(pick another with --port, or 0 for any)"
    )
    assert done.stdout == ""


@pytest.mark.parametrize("how", [["serve-scripted", "--debug"], ["serve-scripted"]])
def test_debug_shows_the_traceback(run_cli: RunCli, busy_port: int, how: list[str]) -> None:
    env = {} if "--debug" in how else {"OPENRESPONSES_DEBUG": "1"}
    done = run_cli(*how, "--port", str(busy_port), env=env)
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert "OSError" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("error: cannot listen on 127.0.0.1:")


def test_debug_before_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fails(*, color: bool = False) -> int:
        raise PermissionError(13, "Permission denied", "/var/run/x.sock")

    monkeypatch.setattr(openresponses.cli.demo, "run_demo", fails)
    assert main(["demo"]) == 1
    assert capsys.readouterr().err == "error: /var/run/x.sock: Permission denied\n"
    assert main(["--debug", "demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "PermissionError" in err
    assert err.endswith("error: /var/run/x.sock: Permission denied\n")


def _free_port() -> int:
    return unused_port()  # nothing listens there, and no other worker's server is handed it


def test_ask_connection_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "hi", "--model", "m", "--base-url", f"http://127.0.0.1:{_free_port()}/v1"]) == 1
    assert _one_error_line(capsys.readouterr().err).startswith("error: APIConnectionError: ")


@pytest.mark.parametrize("url", ["localhost:8001", "http://[::1"])
def test_ask_bad_base_url_is_a_usage_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "hi", "--model", "m", "--base-url", url]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: ConfigError: ") and url in line


def test_ask_without_base_url(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENRESPONSES_BASE_URL", raising=False)
    assert main(["ask", "hi", "--model", "m"]) == 2
    assert (
        _one_error_line(capsys.readouterr().err)
        == "error: --base-url, --preset, --config or OPENRESPONSES_BASE_URL is required"
    )


def test_ask_rejected_by_the_server(run_cli: RunCli) -> None:
    # The scripted server's 401 (wrong key), through the real client: a typed error, one line.
    from openresponses.testing import ScriptedServer

    with ScriptedServer(api_key="right").run_in_thread() as server:
        done = run_cli(
            "ask", "hi", "--model", "m", "--base-url", server.base_url, env={"OPENRESPONSES_API_KEY": "wrong"}
        )
    assert done.returncode == 1
    line = done.stderr.strip()
    assert line.startswith("error: AuthenticationError: ") and "\n" not in line
    assert "wrong" not in done.stderr  # the key never appears


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async def interrupted(*, color: bool = False) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(openresponses.cli.demo, "run_demo", interrupted)
    assert main(["demo"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_an_unexpected_error_is_one_line_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(*, color: bool = False) -> int:
        raise RuntimeError("something broke\nover two lines")

    monkeypatch.setattr(openresponses.cli.demo, "run_demo", broken)
    monkeypatch.delenv("OPENRESPONSES_DEBUG", raising=False)
    assert main(["demo"]) == 1
    assert capsys.readouterr().err == (
        "error: RuntimeError: something broke; over two lines "
        "(unexpected; run again with --debug for the traceback)\n"
    )


def test_a_missing_extra_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from openresponses import MissingExtraError

    async def needs_otel(*, color: bool = False) -> int:
        raise MissingExtraError("--otlp", "otel", missing="opentelemetry")

    monkeypatch.setattr(openresponses.cli.demo, "run_demo", needs_otel)
    assert main(["demo"]) == 2
    assert capsys.readouterr().err == (
        "error: --otlp needs the 'otel' extra: pip install 'openresponses-python[otel]' "
        "(no module named 'opentelemetry')\n"
    )


def test_a_reader_that_goes_away_stops_the_output_quietly() -> None:
    # `openresponses demo | head -1`: no traceback, no error line, the shell's SIGPIPE status.
    with subprocess.Popen(
        [sys.executable, "-m", "openresponses", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=core_only_env(()),
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith(b"1. Streaming")
        process.stdout.close()
        assert process.wait(timeout=60) == 141
        assert process.stderr.read() == b""
