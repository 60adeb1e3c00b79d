"""Every python code block in README.md and docs/*.md type-checks under ``mypy --strict``.

A reader copies these blocks into a type-checked project; they must not rot. One mypy run checks
all of them (each block a module in a temporary package); each page is then one test, so a
failure names the page, the block's line in it and mypy's message.

Conventions, for writers of the docs (an HTML comment on the line before the opening fence):

- ``<!-- typecheck: continue -->`` — the block goes on from the page's previous block (same module),
  for a page that builds one example over several blocks.
- ``<!-- typecheck: skip -->`` — not checked: pseudo-code or an excerpt that cannot stand alone.
  Use sparingly; prefer a block that runs as written.

A block with a top-level ``await`` / ``async with`` / ``async for`` is checked as the body of an
``async def`` (that is how it runs in an application or a notebook).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "docs" / "integrations").glob("*.md")),  # docs/reference/ is generated API text
]
assert len({page.name for page in PAGES}) == len(PAGES), "page names must be unique: they are test ids"
CACHE = ROOT / ".mypy_cache" / "docs-blocks"

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
_MARK = re.compile(r"<!--\s*typecheck:\s*(?P<what>skip|continue)\s*-->\s*$")


# Not from a page: the contract the docs rely on, checked in the same run (assert_type fails mypy
# when the narrowed type differs). The page name below is its test's id.
CONTRACT = "event narrowing contract"
CONTRACT_SOURCE = """
from typing import assert_type

from openresponses import AsyncClient, Client
from openresponses.types import (
    ErrorEvent, OutputTextDeltaEvent, ReasoningDeltaEvent, StreamEvent, UnknownEvent, WebSocketErrorEvent,
    is_unknown_event,
)
from openresponses.types import FunctionCall, Response, UnknownItem, is_unknown_item


def handle(event: StreamEvent) -> str:
    if event.type == "response.output_text.delta":
        assert_type(event, OutputTextDeltaEvent)
        return event.delta
    if event.type == "error":
        assert_type(event, ErrorEvent | WebSocketErrorEvent)
        return event.error.message or ""
    if is_unknown_event(event, "acme:trace"):
        assert_type(event, UnknownEvent)
        return str(event.model_extra)
    return ""


def extension_first(event: StreamEvent) -> str:
    if is_unknown_event(event):
        assert_type(event.type, str)
        return event.type if event.type.startswith("acme:") or event.type == "acme:trace" else ""
    return event.type


def output_items(response: Response) -> str:
    for item in response.output:
        if item.type == "function_call":
            assert_type(item, FunctionCall)
            return item.arguments
        if is_unknown_item(item, "acme:search_call"):
            assert_type(item, UnknownItem)
    return ""


def sync_stream(client: Client) -> None:
    with client.responses.stream(model="m", input="x") as stream:
        for event in stream:
            if event.type == "response.reasoning.delta":
                assert_type(event, ReasoningDeltaEvent)


async def async_stream(client: AsyncClient) -> None:
    async with client.responses.stream(model="m", input="x") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                assert_type(event, OutputTextDeltaEvent)
    async for event in await client.responses.create(model="m", input="x", stream=True):
        if event.type == "response.output_text.delta":
            assert_type(event, OutputTextDeltaEvent)
"""


@dataclass
class Module:
    """One checked module: a block, or blocks joined with ``typecheck: continue``."""

    page: str
    name: str
    line: int  # of the first block's first line in the page
    source: str
    lines: list[tuple[int, int]] = field(default_factory=list)  # (module line, page line) starts


def _modules(page: Path) -> list[Module]:
    text = page.read_text(encoding="utf-8")
    modules: list[Module] = []
    stem = re.sub(r"\W", "_", page.stem.lower())
    for match in _FENCE.finditer(text):
        if match.group("lang") not in ("python", "py"):
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(before)
        what = mark.group("what") if mark else None
        if what == "skip":
            continue
        body = textwrap.dedent(match.group("body"))
        page_line = text[: match.start()].count("\n") + 2
        if what == "continue" and modules:
            module = modules[-1]
            module.lines.append((module.source.count("\n") + 1, page_line))
            module.source += body
            continue
        module = Module(page.name, f"{stem}_{len(modules) + 1}", page_line, body, [(1, page_line)])
        modules.append(module)
    return modules


def _as_module(source: str) -> tuple[str, int]:
    """The source mypy sees, and how many lines were added before the block (for line numbers).

    Raises ``SyntaxError`` (against the block's own lines) when it is not Python at all: mypy
    would stop at it and check nothing else.
    """
    try:
        compile(source, "<block>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        wrapped = "async def _block() -> None:\n" + textwrap.indent(source, "    ")
        try:
            compile(wrapped, "<block>", "exec", dont_inherit=True)
        except SyntaxError:
            raise exc from None
        return wrapped, 1
    return source, 0


def _page_line(module: Module, mypy_line: int, offset: int) -> int:
    line = mypy_line - offset
    start, page_line = module.lines[0]
    for block_start, block_page_line in module.lines:
        if block_start <= line:
            start, page_line = block_start, block_page_line
    return page_line + line - start


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run mypy once over every block; errors by page, as ``page:line: message``."""
    root = tmp_path_factory.mktemp("docs_blocks")
    package = root / "docs_blocks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    modules: dict[str, tuple[Module, int]] = {}
    errors: dict[str, list[str]] = {page.name: [] for page in PAGES}
    contract = Module(CONTRACT, "contract", 1, CONTRACT_SOURCE, [(1, 1)])
    (package / "contract.py").write_text(CONTRACT_SOURCE, encoding="utf-8")
    modules["contract"] = (contract, 0)
    errors[CONTRACT] = []
    for page in PAGES:
        for module in _modules(page):
            try:
                source, offset = _as_module(module.source)
            except SyntaxError as exc:
                line = _page_line(module, exc.lineno or 1, 0)
                errors[module.page].append(f"{module.page}:{line}: syntax error: {exc.msg}")
                continue
            (package / f"{module.name}.py").write_text(source, encoding="utf-8")
            modules[module.name] = (module, offset)
    (root / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nplugins = pydantic.mypy\nwarn_unreachable = False\n"
        "[mypy-pybreaker.*,redis.*]\nignore_missing_imports = True\n"
    )
    done = subprocess.run(
        # A cache of its own (gitignored) makes reruns fast: the package and its dependencies are
        # analysed once, only the blocks again.
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "mypy.ini",
            "--cache-dir",
            str(CACHE),
            "-p",
            "docs_blocks",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    pattern = re.compile(
        r"^docs_blocks[/\\](?P<name>\w+)\.py:(?P<line>\d+): (?P<kind>error|note): (?P<msg>.*)$"
    )
    for row in done.stdout.splitlines():
        found = pattern.match(row)
        if found is None or found.group("kind") != "error":
            continue
        module, offset = modules[found.group("name")]
        line = _page_line(module, int(found.group("line")), offset)
        errors[module.page].append(f"{module.page}:{line}: {found.group('msg')}")
    if done.returncode not in (0, 1) or (done.returncode == 1 and "error:" not in done.stdout):
        pytest.fail(f"mypy did not run: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return errors


def test_blocks_are_found() -> None:
    # The harness itself: README's quick start is among the checked blocks.
    readme = _modules(ROOT / "README.md")
    assert any("client.responses.stream" in module.source for module in readme)
    assert sum(len(_modules(page)) for page in PAGES) >= 15


def test_event_type_comparisons_narrow(mypy_errors: dict[str, list[str]]) -> None:
    """``event.type == "..."`` narrows the stream's events; ``is_unknown_event`` the extensions."""
    assert not mypy_errors[CONTRACT], "\n".join(mypy_errors[CONTRACT])


@pytest.mark.parametrize("page", [page.name for page in PAGES])
def test_page_type_checks(page: str, mypy_errors: dict[str, list[str]]) -> None:
    errors = mypy_errors[page]
    assert not errors, f"{len(errors)} mypy --strict error(s) in {page}'s code blocks:\n" + "\n".join(errors)
