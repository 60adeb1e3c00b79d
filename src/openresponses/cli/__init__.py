"""Command line: ``openresponses demo | ask | serve-scripted | check | proxy``.

Only the standard library is used here (argparse); each command imports what it needs lazily, so
``python -m openresponses --help`` stays fast and needs no optional extra.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openresponses", description="Open Responses client tools.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo", help="offline demo against a scripted server on loopback")
    demo.add_argument("--no-color", action="store_true", help="plain output")

    ask = sub.add_parser("ask", help="stream one answer from an Open Responses server")
    ask.add_argument("prompt", help="the user message")
    ask.add_argument(
        "--base-url", default=os.environ.get("OPENRESPONSES_BASE_URL"), help="e.g. http://host/v1"
    )
    ask.add_argument("--model", required=True)
    ask.add_argument("--instructions", default=None)
    ask.add_argument("--reasoning", choices=["none", "low", "medium", "high", "xhigh"], default=None)

    serve = sub.add_parser("serve-scripted", help="run the scripted test server (for trying clients)")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--text", default="Hello from the scripted Open Responses server.")
    serve.add_argument("--reasoning", default="The user wants a greeting; answer briefly.")
    serve.add_argument("--event-delay", type=float, default=0.02, help="seconds between events")

    from .check import add_check_parser  # stdlib only; the checks themselves load on use

    add_check_parser(sub)

    from .proxy import add_proxy_parser  # stdlib only; Starlette and uvicorn load on use

    add_proxy_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``openresponses`` / ``python -m openresponses``."""
    args = _parser().parse_args(argv)
    if args.version:
        from .._version import __version__

        print(__version__)
        return 0
    if args.command == "demo":
        from .demo import run_demo

        color = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
        return asyncio.run(run_demo(color=color))
    if args.command == "ask":
        from .ask import run_ask

        if not args.base_url:
            print("error: --base-url or OPENRESPONSES_BASE_URL is required", file=sys.stderr)
            return 2
        return asyncio.run(run_ask(args))
    if args.command == "check":
        from .check import run_check

        return run_check(args)
    if args.command == "proxy":
        from .proxy import run_proxy

        return run_proxy(args)
    if args.command == "serve-scripted":
        from .ask import run_scripted_server

        try:
            return asyncio.run(run_scripted_server(args))
        except KeyboardInterrupt:
            return 0
    _parser().print_help()
    return 0
