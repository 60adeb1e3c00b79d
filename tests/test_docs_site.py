"""The documentation site builds with ``mkdocs build --strict``: no broken link, page or reference.

``--strict`` turns every warning into a failure: a link to a missing page or anchor, a page in
the nav that does not exist, an API-reference target (``::: openresponses.x``) that griffe cannot
load. The nav is checked against docs/ too, so a new page is not left off the site unnoticed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_extra_is_installed() -> None:
    """``dev`` includes ``docs`` (``make test`` installs it): the site is built by every run."""
    import importlib.util

    missing = [
        m for m in ("mkdocs", "material", "mkdocstrings_handlers") if importlib.util.find_spec(m) is None
    ]
    assert not missing, f"{missing} missing: pip install -e '.[docs]' (or '.[all,dev]')"


def _nav_pages() -> set[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return set(re.findall(r":\s*([\w./-]+\.md)\s*$", nav, re.M))


def _excluded_pages() -> set[str]:
    """The pages ``exclude_docs`` keeps out of the site (read on GitHub instead)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    block = re.search(r"^exclude_docs: \|\n((?:  .*\n)+)", text, re.M)
    return {line.strip() for line in block.group(1).splitlines()} if block else set()


def test_every_page_is_in_the_nav() -> None:
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    pages -= _excluded_pages()
    nav = _nav_pages()
    assert nav <= pages, f"in the nav but missing: {sorted(nav - pages)}"
    assert pages <= nav, f"pages not in mkdocs.yml's nav: {sorted(pages - nav)}"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    site = tmp_path / "site"
    assert (site / "index.html").exists() and (site / "getting-started" / "index.html").exists()
    # The API reference was generated from the docstrings, not left empty.
    reference = (site / "reference" / "client" / "index.html").read_text(encoding="utf-8")
    assert "AsyncClient" in reference and "Async client for any Open Responses server." in reference
    middleware = (site / "reference" / "middleware" / "index.html").read_text(encoding="utf-8")
    assert "CircuitBreaker" in middleware and "RetryPolicy" in middleware


def test_performance_charts_show_measured_figures() -> None:
    # Every bar of the charts is a figure of the pages' result tables: a chart cannot drift from them.
    docs = Path(__file__).resolve().parent.parent / "docs"
    page = (docs / "performance.md").read_text(encoding="utf-8")
    tables = page + (docs / "websocket.md").read_text(encoding="utf-8")
    charts = re.findall(r"```mermaid\n(.*?)```", page, re.S)
    assert len(charts) >= 3
    for chart in charts:
        bars = re.search(r"bar \[([^\]]+)\]", chart)
        assert bars, chart
        for value in (v.strip() for v in bars.group(1).split(",")):
            body = tables.replace(chart, "")
            assert re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", body), f"{value} is in no table"
