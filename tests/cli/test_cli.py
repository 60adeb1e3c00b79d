"""The command line: the demo runs offline end to end; ask streams from a server."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from openresponses.cli import main
from openresponses.testing import ScriptedServer, text

from .conftest import EXTRA_MODULES, RunCli


def test_demo_runs_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "[reasoning] The user asks what Open Responses is." in out
    assert "[answer]    Open Responses is an open, provider-neutral specification" in out
    assert "[usage]     4 input, 43 output (17 reasoning), 47 total tokens" in out
    # Section 2: retried, failed over, and the trace tree shows every attempt.
    assert "served by 'backup' after 2 primary attempts" in out
    assert "attempt 1 primary" in out and "attempt 3 backup" in out
    assert "retry attempt=2 wait_s=0.200 reason=retry-after" in out
    # Section 3: one coherent answer across two providers.
    assert "'TCP keeps its promises: every byte arrives, in order, or the sender is told it did not.'" in out
    assert "\033[" not in out


def test_ask_streams_an_answer(capfd: pytest.CaptureFixture[str]) -> None:
    async def run() -> int:
        async with ScriptedServer(default=text("Pong.", reasoning="Reply to ping")) as server:
            return await asyncio.to_thread(
                main, ["ask", "Ping?", "--model", "m", "--base-url", server.base_url]
            )

    assert asyncio.run(run()) == 0
    out, err = capfd.readouterr()
    assert out.strip() == "Pong."
    assert "Reply to ping" in err and "tokens]" in err


def test_ask_reports_typed_errors(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "x", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]) == 1
    assert "APIConnectionError" in capfd.readouterr().err


def test_module_entry_point_and_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openresponses", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "0.1.0"


def test_demo_on_a_core_only_install(run_cli: RunCli) -> None:
    """No opentelemetry / pybreaker / redis: every section runs, the trace is one line of hint."""
    done = run_cli("demo", hide=EXTRA_MODULES)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert "[answer]    Open Responses is an open, provider-neutral specification" in out
    assert "   (no trace: it needs the otel extra, pip install 'openresponses-python[otel]')\n" in out
    assert "served by 'backup' after 2 primary attempts" in out
    assert "attempt 1 primary" not in out  # no trace tree without OpenTelemetry
    assert "'TCP keeps its promises: every byte arrives, in order, or the sender is told it did not.'" in out


@pytest.mark.parametrize("command", ["demo", "ask", "serve-scripted"])
def test_help_shows_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:\n  openresponses " + command in out
    assert "--debug" in out
