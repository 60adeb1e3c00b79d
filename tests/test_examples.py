"""Every example in examples/ runs offline, as a user would run it, and says what it claims."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"

# What each example must print: the part of its output that shows it did its job.
EXPECTED = {
    "failover.py": ["served by backup", "recovery:"],
    "tool_loop.py": [
        '-> get_weather({"city":"Lisbon"})',
        "answer: It is 14 °C with light rain in Lisbon",
        "['message', 'function_call', 'function_call_output']",
    ],
    "custom_middleware.py": ["the server saw 3 requests, tenant tenant-42", "ledger: 2 calls"],
    "web_service.py": [
        "POST /ask -> 200: Served by the backup",
        "POST /ask again -> 200: Served by the backup, streamed to your browser. (from the cache)",
        "POST /ask (bad body) -> 400",
        "failover from=primary to=backup",
    ],
    "tracing_demo.py": ["It will be sunny in Paris tomorrow.", "failover from=primary to=backup"],
}


def test_every_example_is_listed() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=EXAMPLES.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for expected in EXPECTED[name]:
        assert expected in result.stdout, f"{name}: {expected!r} not in output:\n{result.stdout}"
    assert "Traceback" not in result.stderr
