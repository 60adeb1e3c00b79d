"""``openresponses check URL``: run the conformance checks against a server and report.

Exit status: 0 when every selected check passes, 1 when any fails, 2 on a usage problem (an
unknown ``--filter`` id, an unset ``--api-key-env`` variable, a missing ``check`` extra). The
API key is read from the environment variable named by ``--api-key-env`` and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["add_check_parser", "run_check"]

_DEFAULT_KEY_ENV = "OPENRESPONSES_API_KEY"


def add_check_parser(sub: Any) -> None:
    """Register ``check`` on the ``openresponses`` sub-command parser."""
    check = sub.add_parser(
        "check",
        help="run the Open Responses conformance checks against a server",
        description="Run the Open Responses conformance checks (docs/conformance.md) against URL.",
    )
    check.add_argument("url", nargs="?", help="the server's base URL, e.g. http://127.0.0.1:8080/v1")
    check.add_argument(
        "--model",
        default=os.environ.get("OPENRESPONSES_MODEL", "test-model"),
        help="model to ask for (default: $OPENRESPONSES_MODEL or test-model)",
    )
    check.add_argument(
        "--api-key-env",
        default=None,
        metavar="VAR",
        help=f"environment variable holding the API key (default: {_DEFAULT_KEY_ENV}, if set)",
    )
    check.add_argument(
        "--filter", default=None, help="check ids or globs, comma separated (e.g. basic,stream*)"
    )
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP exchange (default 60)")
    check.add_argument("--list", action="store_true", help="list the checks and exit")
    check.add_argument(
        "--websocket",
        action="store_true",
        help="also run the WebSocket-mode checks on /v1/responses (needs the 'websocket' extra)",
    )


def run_check(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``openresponses check`` with parsed ``args``; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        from ..testing import compliance
    except ImportError as exc:  # pragma: no cover - depends on the environment
        print(f"error: {exc}", file=err)
        return 2
    checks = (
        (*compliance.CHECKS, *compliance.WS_CHECKS)
        if getattr(args, "websocket", False)
        else compliance.CHECKS
    )
    if args.list:
        for check in checks:
            print(f"{check.id:<24} {check.title}", file=out)
        return 0
    if not args.url:
        print(
            "error: the server URL is required (e.g. openresponses check http://127.0.0.1:8080/v1)", file=err
        )
        return 2
    if not args.timeout > 0:
        print("error: --timeout must be a positive number of seconds", file=err)
        return 2
    api_key: str | None = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"error: environment variable {args.api_key_env} is not set", file=err)
            return 2
    else:
        api_key = os.environ.get(_DEFAULT_KEY_ENV) or None
    try:
        results = asyncio.run(
            compliance.arun_checks(
                args.url,
                model=args.model,
                api_key=api_key,
                filter=args.filter,
                timeout=args.timeout,
                checks=checks,
            )
        )
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return 2
    except ImportError as exc:
        print(f"error: {exc}", file=err)
        return 2
    passed = all(result.passed for result in results)
    unreachable = [r for r in results if not r.passed and r.detail.startswith("could not reach ")]
    if not args.json and results and len(unreachable) == len(results):
        # Nothing answered: one line, not a table of identical failures.
        print(f"error: {unreachable[0].detail.splitlines()[0]}", file=err)
        return 1
    if args.json:
        report = {
            "url": args.url,
            "model": args.model,
            "passed": passed,
            "results": [result.to_dict() for result in results],
        }
        print(json.dumps(report, indent=2), file=out)
    else:
        _print_table(results, out)
    return 0 if passed else 1


def _print_table(results: Sequence[Any], out: TextIO) -> None:
    """id | title | PASS/FAIL | first line of the detail; full failure details below."""
    # Fit a terminal; in CI logs (not a tty) keep every detail line whole.
    tty = hasattr(out, "isatty") and out.isatty()
    width = shutil.get_terminal_size((120, 24)).columns if tty else 10_000
    id_w = max([len("check"), *(len(r.id) for r in results)])
    title_w = max([len("title"), *(len(r.title) for r in results)])
    head = f"{'check':<{id_w}}  {'title':<{title_w}}  result  detail"
    print(head, file=out)
    print("-" * min(width, len(head) + 40), file=out)
    room = max(20, width - id_w - title_w - 12)
    for r in results:
        first = r.detail.splitlines()[0] if r.detail else ""
        if len(first) > room:
            first = first[: room - 3] + "..."
        print(f"{r.id:<{id_w}}  {r.title:<{title_w}}  {'PASS' if r.passed else 'FAIL':<6}  {first}", file=out)
    failures = [r for r in results if not r.passed]
    if failures:
        print("\nFailures:", file=out)
        for r in failures:
            print(f"\n[{r.id}] {r.title}\n{r.detail}", file=out)
    total = sum(r.duration_s for r in results)
    print(f"\n{len(results) - len(failures)} passed, {len(failures)} failed in {total:.2f}s", file=out)
