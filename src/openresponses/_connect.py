"""``AsyncClient.connect()``: where a WebSocket-mode connection's socket goes.

The client's own server (its key and default headers), a ``base_url`` or ``WebSocketTransport``
given to ``connect()``, or, for a ``Failover`` / ``Provider`` endpoint, one socket per member
with the turn failing over between them (``_ws_failover``). Imported by ``AsyncClient.connect``
when it is called: WebSocket mode stays out of the client's import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._client import ClientClosedError
from ._errors import ConfigError

if TYPE_CHECKING:
    from ._client import AsyncClient
    from ._connection import AsyncConnection
    from .transports.websocket import WebSocketTransport

__all__ = ["open_connection"]


def open_connection(
    self: AsyncClient,
    *,
    base_url: str | None = None,
    transport: WebSocketTransport | None = None,
    params: Mapping[str, Any] | None = None,
) -> AsyncConnection:
    """What :meth:`AsyncClient.connect <openresponses.AsyncClient.connect>` does; ``self`` is that client."""
    from ._connection import AsyncConnection, check_turn_params

    defaults = dict(params or {})
    check_turn_params("connect", defaults)
    self.build_request(defaults, stream=False)  # the defaults must make a valid body
    if self._closed:
        raise ClientClosedError("The client was closed: create a new one to make more calls.")
    if transport is not None and base_url is not None:
        raise ConfigError("pass base_url=... or transport=..., not both", key="connect")
    if transport is None and base_url is None and self._endpoint is not None:
        # A Failover (or Provider) endpoint: one socket per member, failing over per turn.
        from ._ws_failover import Chain, socket_endpoint

        chain = Chain()
        endpoint, sockets = socket_endpoint(self._endpoint, chain)
        return AsyncConnection(self, sockets[0], defaults, endpoint=endpoint, sockets=sockets, chain=chain)
    if transport is None:
        from .transports.websocket import WebSocketTransport

        # The client's key and headers go only to the client's own server.
        own = self._socket_options is not None and base_url in (None, self.base_url)
        options = dict(self._socket_options or {}) if own else {}
        url = base_url or (self.base_url if own else None)
        if url is None:
            raise ConfigError(
                "connect() needs a base URL: this client was built with transport=, so pass "
                "connect(base_url=...) or connect(transport=WebSocketTransport(...))",
                key="base_url",
            )
        transport = WebSocketTransport(url, **options)
    return AsyncConnection(self, transport, defaults)
