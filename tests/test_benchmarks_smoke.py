"""The benchmark scripts stay runnable (their ``--help`` only: a benchmark is not a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("script", "flags"),
    [
        ("proxy.py", ("--peers-python", "--quick", "--floor")),
        ("proxy_inprocess.py", ("--instructions",)),
        ("proxy_paired.py", ("--a", "--b", "--rounds")),
    ],
)
def test_benchmark_help_runs(script: str, flags: tuple[str, ...]) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert all(flag in result.stdout for flag in flags), result.stdout
