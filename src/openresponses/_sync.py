"""``Client``: the synchronous facade over ``AsyncClient``.

One background event loop (a daemon thread, started lazily and restarted after ``fork``) runs
the very same pipeline, middleware objects, parser and accumulator as the async client, so
timeouts, hedging and cancellation behave identically. Streams cross the thread boundary in
batches (every event already decoded moves in one hop), and the caller's ``contextvars``
(e.g. the current OpenTelemetry span) are handed to the loop explicitly with each call.

The loop is ``_loop_thread._LoopThread``; the sync stream ``ResponseStream`` is in
``_sync_stream`` (both re-exported here).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from ._client import AsyncClient, ClientClosedError, CompactParams, CreateParams
from ._loop_thread import _LoopThread as _LoopThread
from ._options import check_http_client
from ._streaming import AsyncResponseStream
from ._sync_stream import ResponseStream
from ._sync_stream import _StreamManager as _StreamManager
from .types import CompactResponse, Response

if TYPE_CHECKING:
    import httpx

    from ._connection import Connection
    from ._pipeline import Endpoint, Handler, Middleware, Transport
    from .transports.websocket import WebSocketTransport

__all__ = ["Client", "ResponseStream", "Responses"]


class Responses:
    """``client.responses`` for the sync client."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        stream: Literal[False] | None = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> Response: ...

    @overload
    def create(
        self,
        *,
        stream: Literal[True],
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> ResponseStream: ...

    def create(
        self,
        *,
        stream: bool | None = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> Response | ResponseStream:
        """Create a response; with ``stream=True`` an iterator of typed events.

        As ``AsyncResponses.create``: the arguments are checked here, in the calling thread,
        before anything is sent; a failed response raises ``ResponseFailedError``.
        """
        return self._create("create", params, stream, extra_headers, extra_body, timeout, idempotency_key)

    def _create(
        self,
        function: str,
        params: Mapping[str, Any],
        stream: object,
        extra_headers: object,
        extra_body: object,
        timeout: object,
        idempotency_key: object,
    ) -> Response | ResponseStream:
        aclient = self._client.async_client
        request = aclient.responses.prepare(
            function,
            params,
            stream=stream,
            extra_headers=extra_headers,
            extra_body=extra_body,
            timeout=timeout,
            idempotency_key=idempotency_key,
        )
        runner, aclient = self._client._ensure()
        reply = runner.run(lambda: aclient.responses.deliver(request))
        if isinstance(reply, AsyncResponseStream):
            runner.track(reply.events)
            return ResponseStream(reply, runner)
        return reply

    def stream(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> _StreamManager:
        """``with client.responses.stream(...) as stream:`` events, then ``get_final_response()``.

        The arguments are checked here, at the call; the request is sent on entering the block.
        """
        aclient = self._client.async_client
        aclient.responses.prepare(
            "stream",
            params,
            stream=True,
            extra_headers=extra_headers,
            extra_body=extra_body,
            timeout=timeout,
            idempotency_key=idempotency_key,
        )

        def open_stream() -> ResponseStream:
            stream = self._create("stream", params, True, extra_headers, extra_body, timeout, idempotency_key)
            assert isinstance(stream, ResponseStream)
            return stream

        return _StreamManager(open_stream)

    def connect(
        self,
        *,
        base_url: str | None = None,
        transport: WebSocketTransport | None = None,
        **params: Unpack[CreateParams],
    ) -> Connection:
        """A WebSocket connection (see ``AsyncResponses.connect``): ``with ... as conn:``.

        Checked here, in the calling thread; the socket opens on entering the block (or at the
        first turn). It runs on this client's background loop, so closing the client closes it.
        """
        from ._connection import Connection

        connection = self._client.async_client.connect(base_url=base_url, transport=transport, params=params)
        runner, _ = self._client._ensure()
        return Connection(connection, runner)

    def compact(
        self,
        *,
        model: str,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        **params: Unpack[CompactParams],
    ) -> CompactResponse:
        """``POST /responses/compact``."""
        self._client.async_client.responses.prepare_compact(
            model=model, extra_headers=extra_headers, extra_body=extra_body, timeout=timeout, params=params
        )
        runner, aclient = self._client._ensure()
        return runner.run(
            lambda: aclient.responses.compact(
                model=model, extra_headers=extra_headers, extra_body=extra_body, timeout=timeout, **params
            )
        )


def _shutdown_later(runner: _LoopThread, aclose: Callable[[], Awaitable[None]]) -> None:
    """A collected ``Client``'s loop, shut down as ``close()`` would, from a thread of its own:
    a finalizer runs wherever garbage is collected, perhaps under the loop thread's lock."""
    if runner.closed or runner.pid != os.getpid():
        return
    threading.Thread(
        target=runner.shutdown, args=(aclose,), name="openresponses-sync-close", daemon=True
    ).start()


class Client:
    """Synchronous client: the same configuration, middleware and types as ``AsyncClient``.

    The calls run on one background event loop shared by the threads using this client.
    ``http_client`` must be an ``httpx.AsyncClient`` (it is driven by that loop; a sync
    ``httpx.Client`` is refused here). ``close()`` ends calls and streams still running in
    other threads with ``ClientClosedError``; a call after ``close()`` raises it too::

        with Client(base_url="http://localhost:8001/v1", max_retries=2) as client:
            print(client.responses.create(model="m", input="Hello").output_text)
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        middleware: Iterable[Middleware | Endpoint] = (),
        transport: Transport | None = None,
        provider: str = "default",
        endpoint: Handler | None = None,
        max_retries: int | None = None,
    ) -> None:
        if http_client is not None:
            check_http_client(http_client, "Client")
        layers = tuple(middleware)  # a generator would be empty when rebuilt after fork

        def factory() -> AsyncClient:
            return AsyncClient(
                base_url=base_url,
                api_key=api_key,
                timeout=timeout,
                default_headers=default_headers,
                http_client=http_client,
                middleware=layers,
                transport=transport,
                provider=provider,
                endpoint=endpoint,
                max_retries=max_retries,
            )

        self._factory = factory
        self._async: AsyncClient = factory()  # validate the configuration now, in the caller
        self._runner: _LoopThread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.responses = Responses(self)

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str],
        *,
        chain: str | None = None,
        middleware: Sequence[Middleware] = (),
    ) -> Client:
        """Build a client from a TOML file (see ``AsyncClient.from_config``)."""
        from ._config import load_client_options

        options = load_client_options(path, chain=chain)
        options["middleware"] = [*middleware, *options["middleware"]]
        return cls(**options)

    @property
    def async_client(self) -> AsyncClient:
        """The ``AsyncClient`` this facade drives."""
        return self._async

    @property
    def is_closed(self) -> bool:
        """Whether ``close()`` was called (further calls raise ``ClientClosedError``)."""
        return self._closed

    def _ensure(self) -> tuple[_LoopThread, AsyncClient]:
        with self._lock:
            if self._closed:
                raise ClientClosedError("The client was closed: create a new one to make more calls.")
            runner = self._runner
            if runner is None or runner.pid != os.getpid():
                if runner is not None:
                    # After fork the parent's loop thread and pooled sockets are not ours.
                    self._async = self._factory()
                runner = self._runner = _LoopThread()
                # Dropped without close(): its loop thread and connections would live on.
                finalizer = weakref.finalize(self, _shutdown_later, runner, self._async.aclose)
                finalizer.atexit = False  # at exit the daemon thread simply ends
            return runner, self._async

    def close(self) -> None:
        """Close the transport and stop the background loop. Idempotent.

        Calls and streams still running in other threads end promptly with
        ``ClientClosedError`` (their connections are released); later calls raise it too.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runner, self._runner = self._runner, None
        if runner is not None and runner.pid == os.getpid():
            runner.shutdown(self._async.aclose)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        from ._redact import display_url  # no userinfo password in a repr

        base_url = self._async.base_url
        return f"Client(base_url={display_url(base_url) if base_url else base_url!r})"
