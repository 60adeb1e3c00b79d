"""``openresponses ask`` and ``openresponses serve-scripted``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from .._client import AsyncClient
from .._errors import OpenResponsesError
from ..types import OutputTextDeltaEvent, ReasoningSummaryTextDeltaEvent


async def run_ask(args: argparse.Namespace) -> int:
    """Stream one answer: reasoning summary to stderr, text to stdout, usage at the end."""
    params: dict[str, Any] = {"model": args.model, "input": args.prompt}
    if args.instructions:
        params["instructions"] = args.instructions
    if args.reasoning:
        params["reasoning"] = {"effort": args.reasoning, "summary": "auto"}
    async with AsyncClient(base_url=args.base_url) as client:
        try:
            async with client.responses.stream(**params) as stream:
                async for event in stream:
                    if isinstance(event, ReasoningSummaryTextDeltaEvent):
                        print(event.delta, end="", file=sys.stderr, flush=True)
                    elif isinstance(event, OutputTextDeltaEvent):
                        print(event.delta, end="", flush=True)
                final = await stream.get_final_response()
        except OpenResponsesError as exc:
            print(f"\nerror: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print()
    if final.usage is not None:
        print(f"[{final.usage.input_tokens} in / {final.usage.output_tokens} out tokens]", file=sys.stderr)
    return 0


async def run_scripted_server(args: argparse.Namespace) -> int:
    """Serve scripted answers on 127.0.0.1 until interrupted."""
    from ..testing import ScriptedServer, text

    scenario = text(args.text, reasoning=args.reasoning or None, event_delay=args.event_delay)
    async with ScriptedServer(default=scenario, port=args.port) as server:
        print(f"Scripted Open Responses server on {server.base_url} (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()  # until Ctrl-C cancels us
    return 0
