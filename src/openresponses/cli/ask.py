"""``openresponses serve-scripted``; ``ask`` is now an alias of ``create`` (see ``create.py``).

``run_ask`` is kept for callers of the earlier module: it runs ``openresponses create``.
"""

from __future__ import annotations

import argparse
import asyncio
import errno


async def run_ask(args: argparse.Namespace) -> int:
    """Stream one answer, as ``openresponses ask`` did: now ``openresponses create``."""
    from .create import run_create

    return await run_create(args)


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
