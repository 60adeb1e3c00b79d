"""``openresponses check URL``: table or JSON, exit codes, --filter, and the key never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from openresponses.cli import main
from openresponses.testing import ScriptedServer
from openresponses.testing.compliance import CHECKS

from ..conftest import unused_port


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(api_key="sk-cli-secret").run_in_thread() as running:
        yield running


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openresponses", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENRESPONSES_API_KEY": "", **(env or {})},
    )


def test_filtered_run_passes_with_a_table(server: ScriptedServer) -> None:
    done = check(
        server.base_url,
        "--filter",
        "basic,streaming*",
        "--api-key-env",
        "MY_KEY",
        env={"MY_KEY": "sk-cli-secret"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = done.stdout.splitlines()
    assert rows[0].split() == ["check", "title", "result", "detail"]
    assert [row.split()[0] for row in rows[2:5]] == ["basic", "streaming", "streaming-done"]
    assert all("PASS" in row for row in rows[2:5])
    assert "3 passed, 0 failed" in done.stdout
    assert "sk-cli-secret" not in done.stdout + done.stderr


def test_full_run_passes_and_reports_as_json(server: ScriptedServer) -> None:
    done = check(server.base_url, "--json", "--api-key-env", "MY_KEY", env={"MY_KEY": "sk-cli-secret"})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is True and report["url"] == server.base_url
    assert [r["id"] for r in report["results"]] == [c.id for c in CHECKS]
    assert all(r["passed"] for r in report["results"])
    assert set(report["results"][0]) == {"id", "title", "passed", "detail", "duration_s"}
    assert "sk-cli-secret" not in done.stdout


def test_a_failing_run_exits_1_with_the_failures_in_json(server: ScriptedServer) -> None:
    done = check(
        server.base_url, "--json", "--filter", "basic", "--api-key-env", "MY_KEY", env={"MY_KEY": "sk-no"}
    )
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["passed"] is False
    failures = {r["id"]: r["detail"] for r in report["results"] if not r["passed"]}
    assert list(failures) == ["basic"] and "HTTP 401" in failures["basic"]
    assert "sk-no" not in done.stdout + done.stderr


def test_failures_are_detailed_below_the_table(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENRESPONSES_API_KEY", raising=False)
    assert main(["check", server.base_url, "--filter", "basic"]) == 1  # no key: 401
    out = capsys.readouterr().out
    assert "basic" in out and "FAIL" in out
    assert "Failures:\n\n[basic] Non-streaming text response\nPOST /responses: HTTP 401" in out
    assert "0 passed, 1 failed" in out
    # The default key variable is used when set.
    monkeypatch.setenv("OPENRESPONSES_API_KEY", "sk-cli-secret")
    assert main(["check", server.base_url, "--filter", "basic"]) == 0
    assert "sk-cli-secret" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "nope"], "no check matches 'nope'"),
        (
            ["--api-key-env", "OPENRESPONSES_TEST_UNSET_VAR"],
            "environment variable OPENRESPONSES_TEST_UNSET_VAR",
        ),
        (["--timeout", "0"], "--timeout must be a positive number"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", server.base_url, *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_url_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2
    assert "the server URL is required" in capsys.readouterr().err
    assert main(["check", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [c.id for c in CHECKS]


def test_bad_flag_is_an_argparse_usage_error() -> None:
    done = check("http://127.0.0.1:9/v1", "--no-such-flag")
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr


def test_missing_jsonschema_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    assert main(["check", "http://127.0.0.1:9/v1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: spec validation needs jsonschema: pip install 'openresponses-python[check]'"
    )


def test_an_unreachable_server_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    port = unused_port()  # a port nobody listens on
    assert main(["check", f"http://127.0.0.1:{port}/v1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: could not reach http://127.0.0.1:{port}/v1")
