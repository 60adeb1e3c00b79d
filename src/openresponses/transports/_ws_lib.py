"""The ``websockets`` library's side of WebSocket mode (the ``websocket`` extra).

The only module that imports ``websockets``: a missing extra fails here with one line naming
it. It also holds what adapts the library to this one: :class:`RedactingLogger`, its logger
with the secrets scrubbed, and :func:`closed_error`, its ``ConnectionClosed`` as an
``APIConnectionError``.
"""

from __future__ import annotations

import logging
from typing import Any

from .._errors import APIConnectionError
from .._extras import MissingExtraError
from .._redact import Redactor

try:
    from websockets.asyncio.client import ClientConnection
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
    from websockets.protocol import State
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by tests/test_extras_missing.py
    if (exc.name or "").split(".")[0] != "websockets":
        raise
    raise MissingExtraError("WebSocket mode", "websocket", missing=exc.name) from None

__all__ = [
    "ClientConnection",
    "ConnectionClosed",
    "InvalidStatus",
    "InvalidURI",
    "RedactingLogger",
    "State",
    "WebSocketException",
    "closed_error",
    "ws_connect",
]


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The ``websockets.client`` logger, each record scrubbed of the secrets this transport sends.

    Why: at DEBUG the library logs the handshake headers, ``Authorization`` included. An adapter
    per transport (rather than a filter added to a shared logger per transport) keeps nothing
    behind when the transport goes away.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__(logging.getLogger("websockets.client"), {})
        self.redactor = redactor

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except Exception:
            text = str(msg)
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, "%s", self.redactor.message(text), **kwargs)


def closed_error(exc: ConnectionClosed, provider: str) -> APIConnectionError:
    """The connection error for a socket the server closed (its close code and reason) or lost."""
    frame = exc.rcvd
    if frame is None:
        detail = "the connection dropped without a close frame"
    else:
        detail = f"closed by the server with code {frame.code}" + (
            f" ({frame.reason})" if frame.reason else ""
        )
    return APIConnectionError(f"WebSocket connection lost: {detail}.", provider=provider)
