"""Run the real ``openresponses`` command in a subprocess, optionally as on a core-only install."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

CORE_ONLY = Path(__file__).parent / "core_only"
EXTRA_MODULES = ("opentelemetry", "pybreaker", "redis", "starlette", "uvicorn", "jsonschema")
"""Every optional dependency's top-level module: hiding them all is a core-only install."""

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def core_only_env(hide: Sequence[str] = EXTRA_MODULES, **extra: str) -> dict[str, str]:
    """An environment in which ``hide``'s modules cannot be imported (see core_only/sitecustomize.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENRESPONSES_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CORE_ONLY), env.get("PYTHONPATH")]))
    env["OPENRESPONSES_TEST_HIDE"] = ",".join(hide)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def run_cli() -> RunCli:
    """``run_cli(*args, hide=(), env={}, timeout=60)``: ``python -m openresponses ARGS``, captured."""

    def run(
        *args: str, hide: Sequence[str] = (), env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "openresponses", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=core_only_env(hide, **(env or {})),
            stdin=subprocess.DEVNULL,
        )

    return run
