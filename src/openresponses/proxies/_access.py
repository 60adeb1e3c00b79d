"""The proxy's access log, written once the reply has gone out (``openresponses proxy``).

Why not uvicorn's own: uvicorn formats and writes its access line when the reply *starts*
(``http.response.start``), before the status line reaches the socket, so every non-streamed
reply waited for a log record to be built, formatted and written: about 0.15 ms of the proxy's
added latency (docs/performance.md). Here the line is written after the last body message is
handed to the server, or when the app ends without one (an error, a client gone mid-stream).

The line reads as uvicorn's (its ``AccessFormatter``, on stdout; ``--log-level warning`` turns it
off), from the logger ``openresponses.proxy.access``: uvicorn decides whether to write its own
line by whether ``uvicorn.access`` has handlers, so that one stays silent. A streamed reply is
logged when it ends, as nginx does, not when it starts.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string  # uvicorn's own line

__all__ = ["ACCESS_LOGGER", "AccessLog", "configure_access_log"]

#: The logger the access lines go to.
ACCESS_LOGGER = "openresponses.proxy.access"
_LOGGER = logging.getLogger(ACCESS_LOGGER)


def configure_access_log(log_level: str) -> None:
    """Write the access lines as uvicorn's default configuration writes its own (stdout, its
    ``AccessFormatter``), at ``log_level`` (``openresponses proxy --log-level``)."""
    from uvicorn.logging import AccessFormatter

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        AccessFormatter('%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s')
    )
    _LOGGER.handlers = [handler]
    _LOGGER.propagate = False
    _LOGGER.setLevel(5 if log_level == "trace" else logging.getLevelName(log_level.upper()))


class AccessLog:
    """ASGI middleware: one ``uvicorn.access`` line per HTTP request, after its reply is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _LOGGER.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        status: list[int] = []
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            # No reply started: uvicorn answers 500 itself (the app failed or returned without one).
            code: Any = status[0] if status else 500
            _LOGGER.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),  # type: ignore[arg-type]
                scope["method"],
                get_path_with_query_string(scope),  # type: ignore[arg-type]
                scope["http_version"],
                code,
            )

        async def logging_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                status.append(message["status"])
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False) and not logged:
                log()

        try:
            await self.app(scope, receive, logging_send)
        finally:
            if not logged:
                log()  # no complete reply (an error, a client gone): still one line
