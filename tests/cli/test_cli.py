"""The command line: the demo runs offline end to end; ask streams from a server."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

from openresponses.cli import main
from openresponses.cli.demo import RESILIENCE_HINT
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
    # Decisions are printed as they happen, then the breaker skips the broken provider.
    assert "   [retry] attempt 2 in 0.20 s (RateLimitError, retry-after)\n" in out
    assert "   [failover] primary -> backup (connection)\n" in out
    assert "   [breaker] primary: closed -> open\n" in out
    assert "primary skipped (circuit open)" in out
    assert "   [continue] the stream broke on primary; going on with backup\n" in out
    # Section 4: one upstream call, then an exact and a semantic cache hit.
    assert "from upstream in" in out and "upstream calls so far: 1\n" in out
    assert "cache exact hit, similarity 1.00" in out and "cache semantic hit, similarity 0." in out
    assert "upstream calls so far: 2" not in out
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
    assert "Reply to ping" in err and " tokens · " in err


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
    assert f"   ({RESILIENCE_HINT})\n" in out
    assert RESILIENCE_HINT.endswith("pip install 'openresponses-python[resilience]'")
    assert "primary skipped" not in out
    assert "cache semantic hit" in out  # the cache needs no extra
    assert "'TCP keeps its promises: every byte arrives, in order, or the sender is told it did not.'" in out


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("demo", "demo"),
        ("create", "create"),
        ("chat", "create"),
        ("ask", "create"),
        ("serve-scripted", "serve-scripted"),
    ],
)
def test_help_shows_examples(command: str, example: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:\n  openresponses " + example in out
    assert "--debug" in out


def test_every_option_of_every_command_has_an_example() -> None:
    from openresponses.cli import _parser

    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"create", "chat", "ask", "demo", "serve-scripted", "check", "proxy"} <= set(commands)
    for name, parser in commands.items():
        epilog = parser.epilog or ""
        assert epilog.startswith("examples:\n  "), name
        for action in parser._actions:
            options = [o for o in action.option_strings if o not in ("-h", "--help", "--debug")]
            if options:
                assert any(re.search(rf"(^|\s){re.escape(o)}(\s|$)", epilog, re.M) for o in options), (
                    f"{name} {options[0]}"
                )
