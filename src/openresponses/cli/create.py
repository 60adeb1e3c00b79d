"""``openresponses create`` (aliases ``chat``, ``ask``): one request, shown as it streams.

The tool for trying a provider and for debugging its stream. The request is a prompt or a JSON
body (``-f FILE``, ``-`` for stdin); the target a base URL, a proxy preset (its URL, key variable
and wire dialect) or a config file's fallback chain. Output, by mode:

- default: reasoning on stderr (dimmed on a terminal, ``[reasoning]``-prefixed), the answer on
  stdout (so ``> answer.txt`` keeps only the answer), retries and failovers on stderr as they
  happen, then one summary line on stderr: usage, the provider that served, attempts, time to
  first token and in all;
- ``--raw``: every event as it arrives, ``+ms  type  compact JSON``, for debugging deltas;
- ``--json``: one JSON document on stdout: the final response, provider, attempts, timing and
  the middleware's decisions (``{"error": ...}`` instead when the call fails).

Errors are one line on stderr and a non-zero status (the top-level handler in ``cli/__init__``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .._client import AsyncClient
    from ..types import Response

__all__ = ["CREATE_EXAMPLES", "add_create_parser", "build_client", "load_body", "run_create"]

CREATE_EXAMPLES = """examples:
  openresponses create "Write a haiku about TCP." --base-url http://127.0.0.1:8001/v1 --model m
  OPENRESPONSES_BASE_URL=http://127.0.0.1:8001/v1 openresponses create "Hi" --model m
  openresponses create "Hi" --preset ollama --model qwen3:8b           Ollama on localhost:11434
  openresponses create "Hi" --preset ollama --base-url http://gpu:11434/v1 --model qwen3:8b
  openresponses create "Hi" --preset openai --model gpt-5-mini         key from $OPENAI_API_KEY
  openresponses create "Hi" --base-url https://api.example.com/v1 --api-key-env EXAMPLE_KEY --model m
  openresponses create "Hi" --config openresponses.toml --chain fast   a fallback chain from a file
  openresponses create -f request.json --base-url http://127.0.0.1:8001/v1   a whole JSON body
  echo '{"model": "m", "input": "Hi"}' | openresponses create -f - --base-url http://127.0.0.1:8001/v1
  openresponses create "Why is the sky blue?" --model m --instructions "Be brief." --reasoning low
  openresponses create "Hi" --model m --no-stream        one JSON request, no SSE
  openresponses create "Hi" --model m --raw              every SSE event: +ms  type  JSON
  openresponses create "Hi" --model m --json | jq .timing    machine-readable result
  openresponses create "Hi" --model m --no-color         plain output (also with NO_COLOR set)
  openresponses chat "Hi" --model m      (chat and ask are aliases of create)
(the API key comes from $OPENRESPONSES_API_KEY unless --api-key-env or a preset names another;
 reasoning and the summary go to stderr, the answer to stdout)
"""

_EFFORTS = ["none", "low", "medium", "high", "xhigh"]
_DEFAULT_KEY_ENV = "OPENRESPONSES_API_KEY"


def add_create_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``create`` (aliases ``chat`` and ``ask``) on the sub-command parser."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "create",
        aliases=["chat", "ask"],
        help="send one request and show its stream (aliases: chat, ask)",
        description="Send one request to an Open Responses server (or a preset's provider, or a "
        "config file's chain) and show the reply as it streams. See docs/cli.md.",
        parents=parents,
        epilog=CREATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompt", nargs="?", help="the user message (replaces the input of -f FILE)")
    parser.add_argument(
        "-f", "--file", metavar="FILE", help="a JSON request body to send ('-' reads it from stdin)"
    )
    target = parser.add_argument_group("where to send it (one of)")
    target.add_argument(
        "--base-url",
        default=None,
        help="the server's base URL including /v1 (default: $OPENRESPONSES_BASE_URL); with --preset, "
        "overrides the preset's URL",
    )
    target.add_argument("--preset", help="a proxy preset: openrouter, openai, ollama, lmstudio, ...")
    target.add_argument("--config", metavar="FILE", help="a client TOML file (providers and chains)")
    target.add_argument("--chain", help="the chain of --config to use (default: its default_chain)")
    target.add_argument(
        "--api-key-env",
        metavar="VAR",
        help=f"environment variable holding the API key (default: {_DEFAULT_KEY_ENV}, or the preset's)",
    )
    body = parser.add_argument_group("the request")
    body.add_argument("--model", help="the model name (overrides the file's), e.g. qwen3:8b")
    body.add_argument("--instructions", help='a system prompt, e.g. "Answer in French."')
    body.add_argument("--reasoning", choices=_EFFORTS, help="reasoning effort (asks for a summary too)")
    body.add_argument("--no-stream", action="store_true", help="one JSON reply instead of a stream")
    show = parser.add_argument_group("output")
    mode = show.add_mutually_exclusive_group()
    mode.add_argument("--raw", action="store_true", help="print every event with its arrival time")
    mode.add_argument("--json", action="store_true", help="print the final response and timing as JSON")
    show.add_argument("--no-color", action="store_true", help="plain output")
    return parser


def load_body(args: argparse.Namespace, stdin: TextIO | None = None) -> dict[str, Any]:
    """The request body from ``-f FILE`` and the flags; a usage ``CommandError`` when unusable."""
    from . import EXIT_USAGE, CommandError

    body: dict[str, Any] = {}
    if args.file:
        where = "stdin" if args.file == "-" else args.file
        source = (stdin or sys.stdin).read() if args.file == "-" else Path(args.file).read_text("utf-8")
        try:
            loaded = json.loads(source)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{where}: not JSON: {exc}", EXIT_USAGE) from None
        if not isinstance(loaded, dict):
            raise CommandError(f"{where}: expected a JSON object (a request body)", EXIT_USAGE)
        body = loaded
    if args.prompt is not None:
        body["input"] = args.prompt
    if "input" not in body:
        raise CommandError("nothing to send: give a prompt or -f FILE with an 'input'", EXIT_USAGE)
    if args.model:
        body["model"] = args.model
    if args.instructions:
        body["instructions"] = args.instructions
    if args.reasoning:
        body["reasoning"] = {"effort": args.reasoning, "summary": "auto"}
    if not body.get("model") and not args.config and not args.preset:
        raise CommandError("--model is required (or a 'model' in the request file)", EXIT_USAGE)
    return body


def build_client(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> AsyncClient:
    """The client the flags describe: ``--config`` chain, ``--preset`` provider or ``--base-url``."""
    from .._client import AsyncClient
    from .._provider import Provider, dialect_for
    from ..proxies.presets import get_preset
    from . import EXIT_USAGE, CommandError

    env = os.environ if environ is None else environ
    if args.config:
        if args.preset or args.base_url or args.api_key_env:
            raise CommandError(
                "--config names its providers, URLs and key variables: drop --preset, --base-url and "
                "--api-key-env",
                EXIT_USAGE,
            )
        return AsyncClient.from_config(args.config, chain=args.chain)
    if args.chain:
        raise CommandError("--chain picks a chain of --config FILE", EXIT_USAGE)
    key_env = args.api_key_env
    if key_env is not None and not env.get(key_env):
        raise CommandError(f"environment variable {key_env} (--api-key-env) is not set", EXIT_USAGE)
    if args.preset:
        preset = get_preset(args.preset)
        key_env = key_env or preset.api_key_env
        if key_env is not None and preset.key_required and not env.get(key_env):
            raise CommandError(
                f"environment variable {key_env} is not set: it must hold the {preset.name} API key",
                EXIT_USAGE,
            )
        adapter = preset.adapter()
        dialect = dialect_for(adapter, **preset.dialect_options) if adapter != "open-responses" else None
        provider = Provider(
            preset.name,
            args.base_url or preset.base_url,
            api_key_env=key_env if key_env is not None and env.get(key_env) else None,
            model=preset.model,
            dialect=dialect,
        )
        return AsyncClient(endpoint=provider)
    base_url = args.base_url or env.get("OPENRESPONSES_BASE_URL")
    if not base_url:
        raise CommandError("--base-url, --preset, --config or OPENRESPONSES_BASE_URL is required", EXIT_USAGE)
    api_key = env.get(key_env or _DEFAULT_KEY_ENV)
    return AsyncClient(base_url=base_url, api_key=api_key, provider=_host(base_url))


def _host(url: str) -> str:
    """``host:port`` of ``url``, the name the summary gives the server (the client checks the URL)."""
    try:
        return urlsplit(url).netloc or "default"
    except ValueError:
        return "default"


async def run_create(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Send the request the flags describe and show the reply; returns the exit status."""
    from .._errors import OpenResponsesError
    from .._streaming import AsyncResponseStream
    from . import EXIT_USAGE, CommandError, describe
    from ._stream_view import Decisions, Timing, View, dump_json, show_response, show_stream, summary

    out, err = out or sys.stdout, err or sys.stderr
    if args.raw and args.no_stream:
        raise CommandError("--raw shows a stream's events: drop --no-stream", EXIT_USAGE)
    body = load_body(args, stdin)
    stream = bool(body.pop("stream", True)) and not args.no_stream
    view = View(out, err, no_color=args.no_color)
    decisions = Decisions(None if args.json else view.note)
    async with build_client(args) as client:
        request = client.build_request(body, stream=stream)  # checked here: nothing sent yet
        request.context.observers.append(decisions)
        timing = Timing()
        final: Response
        try:
            reply = await client.responses.deliver(request)
            if isinstance(reply, AsyncResponseStream):
                async with reply:
                    final = await show_stream(reply, None if args.json else view, timing, raw=args.raw)
            else:
                timing.event(content=True)
                final = reply
                if not args.json:
                    show_response(reply, view)
        except OpenResponsesError as exc:
            timing.stop()
            message, status = describe(exc)
            if args.json:
                dump_json(
                    out,
                    {"error": {"type": type(exc).__name__, "message": message}},
                    request,
                    decisions,
                    timing,
                )
            view.end_line()  # part of an answer may be on the terminal: the error gets its own line
            err.write(f"error: {message}\n")
            return status
    timing.stop()
    if args.json:
        dump_json(out, {"response": final.model_dump(mode="json", by_alias=True)}, request, decisions, timing)
        return 0
    view.finish()
    view.note(summary(final, request, timing))
    return 0
