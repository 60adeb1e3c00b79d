"""``Connection``: the sync facade over an :class:`~openresponses.AsyncConnection`.

Drives the same connection on the sync client's background loop (``_loop_thread``), so turns,
continuation, reconnects and telemetry behave exactly as in async code.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Unpack

from .types import Response

if TYPE_CHECKING:
    from ._client import CreateParams
    from ._connection import AsyncConnection
    from ._loop_thread import _LoopThread
    from ._sync_stream import ResponseStream
    from .transports.websocket import WebSocketTransport

__all__ = ["Connection"]


class Connection:
    """The sync twin of :class:`AsyncConnection` (``Client.responses.connect(...)``).

    Runs the same connection on the sync client's background loop; ``create()`` returns a
    :class:`~openresponses.ResponseStream`. A second ``create()`` from the thread holding the
    previous turn's unread stream raises :class:`ConnectionBusyError`; from another thread it
    waits for that turn to end::

        with client.responses.connect(model="m") as conn:
            print(conn.create(input="Hi").get_final_response().output_text)
    """

    def __init__(self, connection: AsyncConnection, runner: _LoopThread) -> None:
        self._async = connection
        self._runner = runner

    @property
    def async_connection(self) -> AsyncConnection:
        """The connection this facade drives."""
        return self._async

    @property
    def connection_id(self) -> str:
        """See :attr:`AsyncConnection.connection_id`."""
        return self._async.connection_id

    @property
    def last_response_id(self) -> str | None:
        """See :attr:`AsyncConnection.last_response_id`."""
        return self._async.last_response_id

    @property
    def last_response(self) -> Response | None:
        """See :attr:`AsyncConnection.last_response`."""
        return self._async.last_response

    @property
    def transports(self) -> tuple[WebSocketTransport, ...]:
        """See :attr:`AsyncConnection.transports`."""
        return self._async.transports

    @property
    def last_provider(self) -> str | None:
        """See :attr:`AsyncConnection.last_provider`."""
        return self._async.last_provider

    @property
    def turns(self) -> int:
        """Turns started on this connection."""
        return self._async.turns

    @property
    def reconnects(self) -> int:
        """See :attr:`AsyncConnection.reconnects`."""
        return self._async.reconnects

    def __enter__(self) -> Connection:
        self._runner.run(self._async.open)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket. Idempotent."""
        if self._runner.closed:
            return
        from ._client import ClientClosedError

        with contextlib.suppress(ClientClosedError):  # the client closed meanwhile: so did this
            self._runner.run(self._async.aclose)

    def create(
        self,
        *,
        continue_: bool = False,
        generate: bool | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        **params: Unpack[CreateParams],
    ) -> ResponseStream:
        """Start a turn (see :meth:`AsyncConnection.create`); checked here, in the calling thread."""
        from ._sync_stream import ResponseStream

        request = self._async.prepare(
            params,
            continue_=continue_,
            generate=generate,
            extra_headers=extra_headers,
            extra_body=extra_body,
            timeout=timeout,
        )
        holder = threading.current_thread()
        stream = self._runner.run(lambda: self._async.send(request, continue_=continue_, holder=holder))
        self._runner.track(stream.events)
        return ResponseStream(stream, self._runner)

    def __repr__(self) -> str:
        return f"<Connection {self._async!r}>"
