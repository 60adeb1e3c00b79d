"""The proxy benchmark's script stays runnable (its ``--help`` only: the benchmark is not a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_proxy_benchmark_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "proxy.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "--peers-python" in result.stdout and "--quick" in result.stdout


def test_in_process_proxy_benchmark_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "proxy_inprocess.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "--instructions" in result.stdout
