"""``openresponses ask`` and ``openresponses serve-scripted``."""

from __future__ import annotations

import argparse
import asyncio
import errno
import sys
from typing import Any

from .._client import AsyncClient
from .._errors import OpenResponsesError
from ..types import OutputTextDeltaEvent, ReasoningSummaryTextDeltaEvent


async def run_ask(args: argparse.Namespace) -> int:
    """Stream one answer: reasoning summary to stderr, text to stdout, usage at the end."""
    from . import describe

    params: dict[str, Any] = {"model": args.model, "input": args.prompt}
    if args.instructions:
        params["instructions"] = args.instructions
    if args.reasoning:
        params["reasoning"] = {"effort": args.reasoning, "summary": "auto"}
    printed = False
    async with AsyncClient(base_url=args.base_url) as client:
        try:
            async with client.responses.stream(**params) as stream:
                async for event in stream:
                    if isinstance(event, ReasoningSummaryTextDeltaEvent):
                        print(event.delta, end="", file=sys.stderr, flush=True)
                        printed = True
                    elif isinstance(event, OutputTextDeltaEvent):
                        print(event.delta, end="", flush=True)
                        printed = True
                final = await stream.get_final_response()
        except OpenResponsesError as exc:
            # Part of an answer may be on the terminal already: the error goes on a line of its own.
            message, status = describe(exc)
            print(("\n" if printed else "") + f"error: {message}", file=sys.stderr)
            return status
    print()
    if final.usage is not None:
        print(f"[{final.usage.input_tokens} in / {final.usage.output_tokens} out tokens]", file=sys.stderr)
    return 0


async def run_scripted_server(args: argparse.Namespace) -> int:
    """Serve scripted answers on 127.0.0.1 until interrupted."""
    from ..testing import ScriptedServer, text
    from . import EXIT_USAGE, CommandError

    scenario = text(args.text, reasoning=args.reasoning or None, event_delay=args.event_delay)
    server = ScriptedServer(default=scenario, port=args.port)
    try:
        await server.start()
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise CommandError(
            f"cannot listen on 127.0.0.1:{args.port}: {reason} (pick another with --port, or 0 for any)",
            EXIT_USAGE,
        ) from exc
    try:
        print(f"Scripted Open Responses server on {server.base_url} (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()  # until Ctrl-C cancels us
    finally:
        await server.aclose()
    return 0
