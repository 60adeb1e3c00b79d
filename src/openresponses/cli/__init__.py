"""Command line: ``openresponses create (chat, ask) | demo | serve-scripted | check | proxy``.

Only the standard library is used here (argparse); each command imports what it needs lazily, so
``python -m openresponses --help`` stays fast and needs no optional extra.

Every failure is one line on stderr and a non-zero exit status (docs/cli.md): ``2`` for a usage
or set-up problem (a bad flag, a missing extra, a port in use), ``1`` for a failed operation (the
server refused, the connection broke), ``130`` after Ctrl-C, ``141`` (silently) when the reader of
stdout went away. ``--debug`` (or
``OPENRESPONSES_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

__all__ = ["CommandError", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


class CommandError(Exception):
    """A command cannot go on: printed as ``error: <message>``, exit status ``status``."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


_DEMO_EXAMPLES = """examples:
  openresponses demo              everything runs on 127.0.0.1; nothing leaves the machine
  openresponses demo --no-color   plain output (also when NO_COLOR is set or stdout is not a terminal)
  openresponses demo --otlp http://localhost:4318    also export the traces to Jaeger / a collector
  (the trace sections need the otel extra; without it they say so in one line and the rest runs)
"""

_SERVE_EXAMPLES = """examples:
  openresponses serve-scripted                     http://127.0.0.1:8001/v1 until Ctrl-C
  openresponses serve-scripted --port 0            any free port (printed on start)
  openresponses serve-scripted --text "Pong." --reasoning "" --event-delay 0
"""


# Examples for the commands whose parsers live in their own modules: (the option shown, the line).
# A line is shown only when its option exists, so a flag another module adds later shows up
# here once it exists; tests/cli checks that every option of every command has an example.
_MORE_EXAMPLES: dict[str, list[tuple[str | None, str]]] = {
    "check": [
        (None, "openresponses check http://127.0.0.1:8080/v1            every check, a table of results"),
        ("--model", "openresponses check http://127.0.0.1:8080/v1 --model qwen3:8b"),
        ("--api-key-env", "openresponses check https://api.example.com/v1 --api-key-env EXAMPLE_KEY"),
        ("--filter", "openresponses check http://127.0.0.1:8080/v1 --filter basic,stream*"),
        ("--json", "openresponses check http://127.0.0.1:8080/v1 --json > results.json"),
        ("--timeout", "openresponses check http://127.0.0.1:8080/v1 --timeout 120   slow local models"),
        ("--list", "openresponses check --list                             the check ids"),
        ("--websocket", "openresponses check http://127.0.0.1:8080/v1 --websocket   the WebSocket mode too"),
    ],
    "proxy": [
        (
            "--preset",
            "openresponses proxy --preset ollama                     127.0.0.1:8003 in front of Ollama",
        ),
        (
            "--list-presets",
            "openresponses proxy --list-presets                       ports, URLs, key variables",
        ),
        ("--model", "openresponses proxy --preset ollama --model qwen3:8b     force one model"),
        ("--base-url", "openresponses proxy --preset vllm --base-url http://gpu:8000/v1"),
        ("--api", "openresponses proxy --preset ollama --api responses     Ollama's own /v1/responses"),
        (
            "--upstream-api-key-env",
            "openresponses proxy --preset openai --upstream-api-key-env TEAM_OPENAI_KEY",
        ),
        ("--config", "openresponses proxy --config openresponses.toml          a fallback chain from a file"),
        ("--chain", "openresponses proxy --config openresponses.toml --chain local_only"),
        ("--host", "openresponses proxy --preset ollama --host 0.0.0.0 --api-key-env PROXY_KEY"),
        ("--port", "openresponses proxy --preset ollama --port 0           any free port (printed)"),
        (
            "--api-key-env",
            "openresponses proxy --preset openai --api-key-env PROXY_KEY   callers send Bearer $PROXY_KEY",
        ),
        ("--workers", "openresponses proxy --preset openai --workers 4 --store sqlite:/var/lib/or/state.db"),
        ("--store", "openresponses proxy --preset ollama --store none        no previous_response_id state"),
        (
            "--redis-url",
            "openresponses proxy --preset openai --workers 4 --redis-url redis://127.0.0.1:6379/0",
        ),
        (
            "--store-ttl",
            "openresponses proxy --preset ollama --store sqlite:/var/lib/or/r.db --store-ttl 86400   a day",
        ),
        (
            "--store-max-entries",
            "openresponses proxy --preset ollama --store-max-entries 50000",
        ),
        (
            "--cache",
            "openresponses proxy --preset ollama --cache sqlite:/var/lib/or/cache.db   answers repeats",
        ),
        ("--max-body", "openresponses proxy --preset ollama --max-body 64MiB"),
        ("--log-level", "openresponses proxy --preset ollama --log-level debug"),
        (
            "--trace",
            "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 openresponses proxy --preset ollama --trace",
        ),
        (
            "--first-event-timeout",
            "openresponses proxy --preset ollama --first-event-timeout 120   slow to load",
        ),
        ("--idle-timeout", "openresponses proxy --preset ollama --idle-timeout none"),
        ("--total-timeout", "openresponses proxy --preset openai --total-timeout 600"),
        (
            "--non-stream-timeout",
            "openresponses proxy --preset vllm --non-stream-timeout 900   long non-streamed answers",
        ),
        (
            "--retries",
            "openresponses proxy --preset openai --retries 3            attempts, the first included",
        ),
        (
            "--http-backend",
            "openresponses proxy --preset ollama --http-backend httpx   upstream calls through httpx",
        ),
    ],
}


def _add_examples(parser: argparse.ArgumentParser, command: str) -> None:
    options = {option for action in parser._actions for option in action.option_strings}
    lines = [line for option, line in _MORE_EXAMPLES[command] if option is None or option in options]
    parser.epilog = "examples:\n" + "".join(f"  {line}\n" for line in lines)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _debug_flag() -> argparse.ArgumentParser:
    # A parent for the sub-commands defined here, so ``openresponses ask ... --debug`` works too;
    # SUPPRESS keeps a sub-command's absent flag from resetting the top-level one.
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback on errors"
    )
    return parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openresponses",
        description="Open Responses client tools.",
        epilog="Errors are one line and a non-zero exit status; --debug or OPENRESPONSES_DEBUG=1 "
        "adds the traceback. Docs: docs/cli.md",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show the traceback on errors")
    sub = parser.add_subparsers(dest="command")
    debug = [_debug_flag()]
    raw = argparse.RawDescriptionHelpFormatter

    demo = sub.add_parser(
        "demo",
        help="offline demo against a scripted server on loopback",
        parents=debug,
        epilog=_DEMO_EXAMPLES,
        formatter_class=raw,
    )
    demo.add_argument("--no-color", action="store_true", help="plain output")

    demo.add_argument(
        "--otlp",
        metavar="URL",
        help="also send the traces over OTLP/HTTP, e.g. http://localhost:4318 (Jaeger, any collector)",
    )

    from .create import add_create_parser  # stdlib only at import; the client loads on use

    add_create_parser(sub, debug)

    serve = sub.add_parser(
        "serve-scripted",
        help="run the scripted test server (for trying clients)",
        parents=debug,
        epilog=_SERVE_EXAMPLES,
        formatter_class=raw,
    )
    serve.add_argument("--port", type=int, default=8001, help="port on 127.0.0.1, 0 for any (default 8001)")
    serve.add_argument(
        "--text", default="Hello from the scripted Open Responses server.", help="the answer to stream"
    )
    serve.add_argument(
        "--reasoning",
        default="The user wants a greeting; answer briefly.",
        help='the reasoning summary to stream first ("" for none)',
    )
    serve.add_argument(
        "--event-delay", type=float, default=0.02, help="seconds between events, e.g. 0 (default 0.02)"
    )

    from .check import add_check_parser  # stdlib only; the checks themselves load on use

    add_check_parser(sub)

    from .proxy import add_proxy_parser  # stdlib only; Starlette and uvicorn load on use

    add_proxy_parser(sub)
    for command in _MORE_EXAMPLES:
        _add_examples(sub.choices[command], command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``openresponses`` / ``python -m openresponses``; returns the exit status."""
    args = _parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False)) or os.environ.get("OPENRESPONSES_DEBUG", "") not in ("", "0")
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`openresponses demo | head`): stop quietly, as shell tools do; point
        # stdout at devnull so the interpreter's final flush does not raise again.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if debug:
            traceback.print_exc()
        message, status = describe(exc)
        hint = "" if debug else _hint(exc)
        print(f"error: {message}{hint}", file=sys.stderr)
        return status


def describe(exc: BaseException) -> tuple[str, int]:
    """One line for ``exc`` and the exit status it means (see the module docstring)."""
    from .._errors import ConfigError, OpenResponsesError, RequestValidationError
    from .._extras import MissingExtraError

    if isinstance(exc, CommandError):
        return _one_line(str(exc)), exc.status
    if isinstance(exc, MissingExtraError):
        return _one_line(str(exc)), EXIT_USAGE
    if isinstance(exc, RequestValidationError | ConfigError):
        return _one_line(f"{type(exc).__name__}: {exc}"), EXIT_USAGE
    if isinstance(exc, OpenResponsesError):
        return _one_line(f"{type(exc).__name__}: {exc}"), EXIT_FAILED
    if isinstance(exc, OSError):
        return _one_line(_os_error(exc)), EXIT_FAILED
    return _one_line(f"{type(exc).__name__}: {exc}"), EXIT_FAILED


def _hint(exc: BaseException) -> str:
    from .._errors import OpenResponsesError
    from .._extras import MissingExtraError

    if isinstance(exc, CommandError | MissingExtraError | OpenResponsesError | OSError):
        return ""
    # Not an error we expected: a bug. The traceback is what a report needs.
    return " (unexpected; run again with --debug for the traceback)"


def _os_error(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc) or type(exc).__name__


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()) or "failed"


def _dispatch(args: argparse.Namespace) -> int:
    if args.version:
        from .._version import __version__

        print(__version__)
        return 0
    if args.command == "demo":
        from .demo import run_demo

        color = sys.stdout.isatty() and not args.no_color and not os.environ.get("NO_COLOR")
        if args.otlp:
            return asyncio.run(run_demo(color=color, otlp=args.otlp))
        return asyncio.run(run_demo(color=color))
    if args.command in ("create", "chat", "ask"):
        from .create import run_create

        return asyncio.run(run_create(args))
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
            return 0  # Ctrl-C is how this server is meant to stop
    _parser().print_help()
    return 0
