"""A bare WebSocket for the conformance checker: :class:`RawSocket`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from .._errors import APITimeoutError
from ._ws_lib import ClientConnection, ConnectionClosed
from ._ws_lib import closed_error as _closed_error

__all__ = ["RawSocket"]


class RawSocket:
    """A bare WebSocket to ``/v1/responses`` that interprets nothing: text messages in and out.

    For the conformance checker, which judges exactly what a server sends. Opening it fails as
    :class:`WebSocketTransport` does (a status error for a refused handshake, a connection error
    otherwise); ``recv`` raises ``APITimeoutError`` after ``timeout`` seconds of silence and
    ``APIConnectionError`` when the server closes the socket.
    """

    def __init__(self, ws: ClientConnection, provider: str) -> None:
        self._ws = ws
        self._provider = provider

    @classmethod
    async def open(cls, base_url: str, *, headers: Mapping[str, str], timeout: float) -> RawSocket:
        """Connect to ``<base_url>/responses`` with ``headers`` (which may hold the key)."""
        from .websocket import WebSocketTransport  # websocket re-exports RawSocket: import at call

        transport = WebSocketTransport(
            base_url,
            headers=headers,
            open_timeout=timeout,
            provider="server",
            compression=None,
            ping_interval=None,
        )
        await transport._open()
        assert transport._ws is not None
        return cls(transport._ws, "server")

    async def send(self, text: str) -> None:
        """Send one text message."""
        try:
            await self._ws.send(text)
        except ConnectionClosed as exc:
            raise _closed_error(exc, self._provider) from None

    async def recv(self, timeout: float) -> str:
        """The next message as text (binary messages are decoded as UTF-8)."""
        try:
            async with asyncio.timeout(timeout):
                message = await self._ws.recv()
        except TimeoutError:
            raise APITimeoutError("read", timeout, provider=self._provider) from None
        except ConnectionClosed as exc:
            raise _closed_error(exc, self._provider) from None
        return message if isinstance(message, str) else message.decode("utf-8", "replace")

    async def aclose(self) -> None:
        """Close the socket."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), timeout=2.0)
