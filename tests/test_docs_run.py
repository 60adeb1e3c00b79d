"""Every code block in README.md and docs/*.md runs: python blocks against loopback servers, shell
blocks' ``openresponses`` and ``make`` commands against the real CLI parser and Makefile.

The python blocks are the ones ``tests/test_docs_typecheck.py`` checks, found by its extraction and
joined the same way (``<!-- typecheck: continue -->`` goes on in the same namespace;
``<!-- typecheck: skip -->`` is neither checked nor run). They run in one subprocess (global
OpenTelemetry providers, httpx instrumentation and background loops stay out of the test
process), each module in a fresh namespace, with:

- every ``http(s)://...`` URL of a block pointed at a loopback server: a ``ScriptedServer`` (it
  answers "Hello", streamed or not), or a ``ChatCompletionsServer`` for the usual Chat-Completions
  ports (11434 Ollama, 1234 LM Studio, 8000 vLLM); every ``redis://`` / ``rediss://`` URL at the
  suite's real ``redis-server`` (the ``redis_server`` fixture);
- ``OPENRESPONSES_BASE_URL`` / ``OPENRESPONSES_API_KEY`` set, and each ``api_key_env="NAME"`` a
  block names set to a fake key;
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointed at a loopback sink, so ``exporters.setup()`` exports;
- a top-level ``await`` run on an event loop (as in a notebook), and an ``async def main()`` that a
  block defines but does not call, called;
- 30 s per block.

Conventions, for writers of the docs (an HTML comment on a line directly above the opening fence,
above or below a ``typecheck`` one):

- ``<!-- run: skip (why) -->`` — not run; the reason is required. For python blocks that need
  what the tests cannot have offline (a real vendor's answer, a pytest fixture), and shell blocks
  that are a synopsis rather than commands. Prefer a block that runs as written.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_typecheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_docs_typecheck", Path(__file__).parent / "test_docs_typecheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


_typecheck = _load_typecheck()
PAGES: list[Path] = _typecheck.PAGES
_FENCE: re.Pattern[str] = _typecheck._FENCE

_RUN_MARK = re.compile(r"<!--\s*run:\s*(?P<what>\w+)(?:\s*\((?P<why>[^)]*)\))?\s*-->")
_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")
_SHELL = ("bash", "console", "sh", "shell")


@dataclass
class Block:
    """One runnable module: a python block, or blocks joined with ``typecheck: continue``."""

    id: str
    page: str
    line: int
    source: str
    skip: str | None  # the reason, when marked run: skip


def _marks_above(text: str, fence_start: int) -> list[str]:
    """The HTML comment lines directly above a fence (nearest first)."""
    lines = text[:fence_start].rstrip("\n").split("\n")
    marks = []
    for line in reversed(lines):
        if not _COMMENT.match(line):
            break
        marks.append(line)
    return marks


def _run_marks(page: Path) -> dict[int, tuple[str, str | None]]:
    """``run:`` marks by the page line of the block's first body line."""
    text = page.read_text(encoding="utf-8")
    found: dict[int, tuple[str, str | None]] = {}
    for match in _FENCE.finditer(text):
        for comment in _marks_above(text, match.start()):
            mark = _RUN_MARK.search(comment)
            if mark:
                found[text[: match.start()].count("\n") + 2] = (mark.group("what"), mark.group("why"))
    return found


def blocks(page: Path) -> list[Block]:
    marks = _run_marks(page)
    out = []
    for module in _typecheck._modules(page):
        skip = None
        for _, page_line in module.lines:
            what, why = marks.get(page_line, (None, None))
            if what is not None:
                assert what == "skip", f"{page.name}:{page_line}: unknown mark 'run: {what}' (expected skip)"
                assert why and why.strip(), f"{page.name}:{page_line}: 'run: skip' needs a reason in (...)"
                skip = why.strip()
        out.append(Block(f"{module.page}:{module.line}", module.page, module.line, module.source, skip))
    return out


# The subprocess: servers up, every block run, results as JSON in the file named by argv[2].
RUNNER = r"""
import ast, asyncio, contextlib, io, json, os, re, signal, sys, threading, traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openresponses.testing import ScriptedServer, text
from openresponses.testing.chat import ChatCompletionsServer, chat_text

CHAT_PORTS = {"11434", "1234", "8000"}
URL = re.compile(r"\b(https?)://([A-Za-z0-9.-]+)(?::(\d+))?(/[A-Za-z0-9_./-]*)?")
REDIS = re.compile(r"\brediss?://[A-Za-z0-9.:@_-]+(/\d+)?")


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        return None


def main():
    blocks = json.load(open(sys.argv[1]))
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    with ScriptedServer(default=text("Hello", reasoning="Greet")).run_in_thread() as responses, \
            ChatCompletionsServer(default=chat_text("Hello")).run_in_thread() as chat:

        def point(match):
            port, path = match.group(3) or "", match.group(4) or ""
            target = chat.base_url if port in CHAT_PORTS else responses.base_url
            return target if path.rstrip("/").endswith("/v1") else target.rsplit("/v1", 1)[0] + path

        os.environ.update(
            OPENRESPONSES_BASE_URL=responses.base_url,
            OPENRESPONSES_API_KEY="sk-docs-test",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sink.server_address[1]}",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_METRIC_EXPORT_INTERVAL="600000",
        )
        results = []
        for block in blocks:
            source = URL.sub(point, block["source"])
            source = REDIS.sub(os.environ["DOCS_REDIS_URL"], source)
            for name in re.findall(r"api_key_env\s*=\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source):
                os.environ.setdefault(name, "sk-docs-test")
            results.append(run(block["id"], source))
    with open(sys.argv[2], "w") as out:
        json.dump(results, out)
    sys.stdout.flush()
    os._exit(0)  # leftover client threads of the blocks must not keep this process alive


def _timeout(signum, frame):
    raise TimeoutError("the block ran for more than 30 s")


def run(block_id, source):
    namespace = {"__name__": "__docs__"}
    printed = io.StringIO()
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(30)
    try:
        with contextlib.redirect_stdout(printed):
            code = compile(source, block_id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
            result = eval(code, namespace)
            if asyncio.iscoroutine(result):
                asyncio.run(result)
            main = namespace.get("main")
            defined_only = not re.search(r"\bmain\(\)", source.split("def main", 1)[-1])
            if asyncio.iscoroutinefunction(main) and defined_only:
                asyncio.run(main())
        return {"id": block_id, "ok": True, "printed": printed.getvalue()[-300:]}
    except BaseException as exc:
        lines = traceback.format_exception(exc)
        error = "".join(lines[-12:])
        return {"id": block_id, "ok": False, "error": error, "printed": printed.getvalue()[-2000:]}
    finally:
        signal.alarm(0)


main()
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> dict[str, dict[str, Any]]:
    """Run every python block not marked skip, once, in one subprocess; results by block id."""
    tmp = tmp_path_factory.mktemp("docs_run")
    todo = [b for page in PAGES for b in blocks(page) if b.skip is None]
    (tmp / "blocks.json").write_text(json.dumps([{"id": b.id, "source": b.source} for b in todo]))
    (tmp / "runner.py").write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENRESPONSES_", "OTEL_"))}
    env["NO_COLOR"] = "1"
    env["DOCS_REDIS_URL"] = redis_server
    done = subprocess.run(
        [sys.executable, str(tmp / "runner.py"), str(tmp / "blocks.json"), str(tmp / "results.json")],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    if not (tmp / "results.json").exists():
        pytest.fail(f"the block runner did not finish: {done.stdout[-3000:]}{done.stderr[-3000:]}")
    return {r["id"]: r for r in json.loads((tmp / "results.json").read_text())}


@pytest.mark.parametrize("page", [page.name for page in PAGES])
def test_python_blocks_run(page: str, results: dict[str, dict[str, Any]]) -> None:
    path = next(p for p in PAGES if p.name == page)
    failures = []
    for block in blocks(path):
        if block.skip is not None:
            continue
        result = results.get(block.id)
        if result is None:
            failures.append(f"--- {block.id}: not run (the page changed while the tests ran?)")
        elif not result["ok"]:
            failures.append(f"--- {block.id}\n{result['error']}")
    assert not failures, f"{len(failures)} block(s) of {page} failed:\n" + "\n".join(failures)


def test_skips_are_few_and_explained() -> None:
    all_blocks = [b for page in PAGES for b in blocks(page)]
    skipped = [b for b in all_blocks if b.skip is not None]
    assert len(all_blocks) >= 20
    assert len(skipped) <= len(all_blocks) // 4, [f"{b.id}: {b.skip}" for b in skipped]


def test_the_harness_rewrites_urls_and_runs_top_level_await(tmp_path: Path) -> None:
    """A block that fails must fail here: the harness itself is checked on two tiny pages."""
    page = tmp_path / "page.md"
    page.write_text(
        textwrap.dedent(
            """\
            ```python
            from openresponses import AsyncClient

            async with AsyncClient(base_url="http://localhost:8001/v1") as client:
                answer = await client.responses.create(model="m", input="Hi")
            assert answer.output_text == "Hello", answer.output_text
            ```

            <!-- run: skip (needs a real vendor) -->
            ```python
            raise SystemExit("never run")
            ```

            ```python
            raise ValueError("this block is broken")
            ```
            """
        )
    )
    found = blocks(page)
    assert [b.skip for b in found] == [None, "needs a real vendor", None]
    (tmp_path / "blocks.json").write_text(
        json.dumps([{"id": b.id, "source": b.source} for b in found if not b.skip])
    )
    (tmp_path / "runner.py").write_text(RUNNER)
    env = {**os.environ, "DOCS_REDIS_URL": "redis://127.0.0.1:9/0"}
    subprocess.run(
        [sys.executable, "runner.py", "blocks.json", "results.json"],
        cwd=tmp_path,
        timeout=120,
        check=True,
        env=env,
    )
    ok, broken = json.loads((tmp_path / "results.json").read_text())
    assert ok["ok"], ok
    assert not broken["ok"] and "ValueError: this block is broken" in broken["error"]


# --- shell blocks: every `openresponses ...` line parses, every `make TARGET` exists ------------


def _shell_commands(page: Path) -> list[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    commands = []
    for match in _FENCE.finditer(text):
        if match.group("lang") not in _SHELL:
            continue
        if any(_RUN_MARK.search(c) for c in _marks_above(text, match.start())):
            continue  # run: skip, e.g. a synopsis
        first = text[: match.start()].count("\n") + 2
        body = re.sub(r"\\\n\s*", " ", textwrap.dedent(match.group("body")))  # join `\` continuations
        for offset, raw in enumerate(body.splitlines()):
            line = raw.strip()
            if match.group("lang") == "console":
                if not line.startswith("$ "):
                    continue  # output, not a command
                line = line[2:]
            line = re.split(r"\s+#\s", line, maxsplit=1)[0].strip()  # a trailing comment
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line.rstrip("&").strip()):
                commands.append((first + offset, part))
    return commands


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile, re.M))
    presets = re.search(r"^PROXY_PRESETS\s*:=\s*(.*)$", makefile, re.M)
    targets |= {f"run-{name}" for name in (presets.group(1).split() if presets else [])}
    return targets


@pytest.mark.parametrize("page", [page.name for page in PAGES])
def test_shell_commands_are_real(page: str) -> None:
    from openresponses.cli import _parser

    path = next(p for p in PAGES if p.name == page)
    targets = _make_targets()
    problems = []
    for line, command in _shell_commands(path):
        words = shlex.split(command, comments=True)
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]  # VAR=value prefixes
        if words[:3] == [sys.executable, "-m", "openresponses"] or words[:3] == [
            "python",
            "-m",
            "openresponses",
        ]:
            words = ["openresponses", *words[3:]]
        if words[:1] == ["openresponses"]:
            args = [w for w in words[1:] if w != "--help"]
            try:
                _parser().parse_args(args)
            except SystemExit:
                problems.append(f"{page}:{line}: `{command}` is not a valid openresponses command line")
        elif words[:1] == ["make"]:
            for target in (w for w in words[1:] if "=" not in w and not w.startswith("-")):
                if target not in targets:
                    problems.append(f"{page}:{line}: `make {target}`: no such target in the Makefile")
    assert not problems, "\n".join(problems)
