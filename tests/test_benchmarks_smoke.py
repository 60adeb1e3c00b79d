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


def _proxy_benchmark() -> object:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import proxy  # the benchmark script (its imports are the standard library and ours)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return proxy


def test_yardstick_is_the_median_of_the_peers_against_the_issues_figures() -> None:
    proxy: object = _proxy_benchmark()
    yardstick = proxy.yardstick  # type: ignore[attr-defined]
    direct = {"p50_ms": 0.1}
    by = {
        "open-responses-server": {"seq_cpu_us_event": 180.0},  # 2x the issue's 90
        "litellm": {"seq_cpu_us_event": 810.0, "p50_ms": 9.5},  # 1.5x 540; 9.4 ms added: 1x
    }
    factor, parts = yardstick(by, direct)
    assert factor == pytest.approx(1.5)
    assert "open-responses-server 180.0 / 90.0 µs/event" in parts and "9.4 / 9.4 ms added p50" in parts
    # One peer only: its figures alone; a peer that failed to measure (NaN) does not count.
    factor, _ = yardstick({"open-responses-server": {"seq_cpu_us_event": 45.0}}, direct)
    assert factor == pytest.approx(0.5)
    assert yardstick({"litellm": {"seq_cpu_us_event": float("nan")}}, direct) is None
    assert yardstick({}, direct) is None
