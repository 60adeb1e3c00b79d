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
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string  # uvicorn's own line

__all__ = ["ACCESS_LOGGER", "AccessLog", "configure_access_log"]

#: The logger the access lines go to.
ACCESS_LOGGER = "openresponses.proxy.access"
_LOGGER = logging.getLogger(ACCESS_LOGGER)


def configure_access_log(log_level: str) -> None:
    """Write the access lines as uvicorn's default configuration writes its own (stdout, its
    ``AccessFormatter``), at ``log_level`` (``openresponses proxy --log-level``)."""
    _LOGGER.handlers = [_AccessHandler(sys.stdout)]
    _LOGGER.propagate = False
    _LOGGER.setLevel(5 if log_level == "trace" else logging.getLevelName(log_level.upper()))


class _AccessHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """``configure_access_log``'s handler: uvicorn's ``AccessFormatter`` on a stream, plus
    :meth:`line`, which writes the very line that formatter would, without a ``LogRecord``.

    Why: building the record, the formatter's two record copies and its ``HTTPStatus`` lookup
    took ≈ 0.13 ms of CPU per request (docs/performance.md, change 20), more than a tenth of a
    non-streamed request. The line's fixed parts (level prefix, colours, status phrase) are
    taken from the formatter itself, once per status code, so the output cannot drift from it.
    """

    _SENTINEL = "\x00"

    def __init__(self, stream: Any) -> None:
        from uvicorn.logging import AccessFormatter

        super().__init__(stream)
        self.fast_formatter = AccessFormatter(
            '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'
        )
        self.setFormatter(self.fast_formatter)
        self._templates: dict[int, list[str]] = {}

    def usable(self) -> bool:
        """Whether :meth:`line` writes what ``emit`` would: nothing reconfigured since set-up."""
        return self.formatter is self.fast_formatter and not self.filters and self.level <= logging.INFO

    def line(self, client: str, method: str, path: str, version: str, status: int) -> bool:
        """Write the access line for one request, as ``emit`` of its record would; ``False``
        (nothing written) if the formatter's line cannot be built from parts."""
        parts = self._templates.get(status)
        if parts is None:
            parts = self._template(status)
            if parts is None:
                return False
            self._templates[status] = parts
        text = "".join(
            (parts[0], client, parts[1], method, parts[2], path, parts[3], version, parts[4], self.terminator)
        )
        with self.lock:  # type: ignore[union-attr]
            try:
                self.stream.write(text)
                self.flush()
            except Exception:  # as emit: a broken stream is reported, never raised into the app
                self.handleError(logging.makeLogRecord({"msg": text}))
        return True

    def _template(self, status: int) -> list[str] | None:
        mark = self._SENTINEL
        record = logging.LogRecord(
            ACCESS_LOGGER,
            logging.INFO,
            __file__,
            0,
            '%s - "%s %s HTTP/%s" %d',
            (mark, mark, mark, mark, status),
            None,
        )
        parts = self.fast_formatter.format(record).split(mark)
        return parts if len(parts) == 5 else None  # each value placed once, or not this path


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
            if _fast_line(scope, code):
                return
            _LOGGER.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),  # type: ignore[arg-type]
                scope["method"],
                _target(scope),
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


def _target(scope: Scope) -> str:
    """The request target as uvicorn's own access line shows it, for any ASGI scope.

    uvicorn's helper reads ``raw_path`` since 0.55 (``path`` before), which ASGI makes optional
    (another server, a test, an app calling ours): without it, the line shows ``path`` quoted,
    as uvicorn's helper did before 0.55, rather than failing.
    """
    if scope.get("raw_path") is None:
        scope = {**scope, "raw_path": quote(scope["path"]).encode("ascii")}
    return get_path_with_query_string(scope)  # type: ignore[arg-type]


def _fast_line(scope: Scope, code: Any) -> bool:
    """Write the access line through :meth:`_AccessHandler.line` when the logger is still set up
    as ``configure_access_log`` left it (else ``False``: the caller logs a record, so handlers
    and filters added since see it)."""
    handlers = _LOGGER.handlers
    if len(handlers) != 1 or _LOGGER.filters or type(code) is not int:
        return False
    handler = handlers[0]
    return (
        type(handler) is _AccessHandler
        and handler.usable()
        and handler.line(
            get_client_addr(scope),  # type: ignore[arg-type]
            scope["method"],
            _target(scope),
            scope["http_version"],
            code,
        )
    )
