"""The Makefile: every tool runs through $(PYTHON); the README's set-up targets exist."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _dry_run(*targets: str, python: str = "/opt/venv/bin/python") -> list[str]:
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", *targets, f"PYTHON={python}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "target", ["lint", "format", "typecheck", "install", "install-dev", "install-docs", "bench"]
)
def test_tools_run_through_the_chosen_interpreter(target: str) -> None:
    commands = [c for c in _dry_run(target) if not c.startswith(("@", "command -v", "if ", "else", "fi"))]
    assert commands
    for command in commands:
        assert command.startswith("/opt/venv/bin/python "), command


def test_the_readme_setup_targets() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    demo = _dry_run("demo")
    assert demo[-1] == "/opt/venv/bin/python -m openresponses demo"
    assert "/opt/venv/bin/python -m pip install -q -e '.[otel]'" in demo
    test = _dry_run("test")
    assert test[-1] == "/opt/venv/bin/python -m pytest"
    assert "/opt/venv/bin/python -m pip install -q -e '.[all,dev]'" in test


@pytest.mark.parametrize(
    ("target", "command"),
    [("docs-serve", "-m mkdocs serve"), ("docs-build", "-m mkdocs build --strict")],
)
def test_docs_targets(target: str, command: str) -> None:
    lines = _dry_run(target)
    assert "/opt/venv/bin/python -m pip install -q -e '.[docs]'" in lines
    assert lines[-1] == f"NO_MKDOCS_2_WARNING=1 /opt/venv/bin/python {command}"
