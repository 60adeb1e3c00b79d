"""``Client``: the synchronous facade over ``AsyncClient``.

One background event loop (a daemon thread, started lazily and restarted after ``fork``) runs
the very same pipeline, middleware objects, parser and accumulator as the async client, so
timeouts, hedging and cancellation behave identically. Streams cross the thread boundary in
batches (every event already decoded moves in one hop), and the caller's ``contextvars``
(e.g. the current OpenTelemetry span) are handed to the loop explicitly with each call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import os
import threading
import weakref
from asyncio import CancelledError
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack, overload

from ._client import AsyncClient, ClientClosedError, CompactParams, CreateParams
from ._errors import OpenResponsesError
from ._options import check_http_client
from ._streaming import AsyncResponseStream, EventStream
from .types import CompactResponse, Response, StreamEvent

if TYPE_CHECKING:
    import httpx

    from ._connection import Connection
    from ._pipeline import Endpoint, Handler, Middleware, Transport
    from .transports.websocket import WebSocketTransport

__all__ = ["Client", "ResponseStream", "Responses"]

T = TypeVar("T")
logger = logging.getLogger("openresponses")


class _LoopThread:
    """An asyncio loop in a daemon thread; ``run`` executes a coroutine there and waits.

    It knows every call in flight, so :meth:`shutdown` can end them: a thread blocked in
    ``run`` (reading a stream, waiting for a reply) gets ``ClientClosedError`` promptly instead
    of waiting forever on a loop that has stopped.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closed = False
        self._closing = False  # set on the loop thread once shutdown begins
        self._tasks: set[asyncio.Task[Any]] = set()  # touched on the loop thread only
        self._futures: set[concurrent.futures.Future[Any]] = set()  # callers waiting, under _lock
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()  # open streams, under _lock
        self._thread = threading.Thread(target=self._main, name="openresponses-sync", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` has begun: ``run`` refuses new work."""
        return self._closed

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` on the loop with the caller's context; raise what it raises."""
        context = contextvars.copy_context()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[T]] = []

        async def runner() -> T:
            return await factory()

        def start() -> None:
            if not future.set_running_or_notify_cancel():
                return
            if self._closing:
                future.set_exception(_closed_error())
                return
            task = self.loop.create_task(runner(), context=context)
            tasks.append(task)
            self._tasks.add(task)

            def done(t: asyncio.Task[T]) -> None:
                self._tasks.discard(t)
                if t.cancelled():
                    # Cancelled by shutdown (or by the caller's KeyboardInterrupt, below): a
                    # concurrent future that is running cannot be cancelled, so it gets an error.
                    future.set_exception(_closed_error() if self._closing else CancelledError())
                elif (exc := t.exception()) is not None:
                    if (
                        self._closing
                        and isinstance(exc, Exception)
                        and not isinstance(exc, OpenResponsesError)
                    ):
                        # What a call cut by shutdown raised on its way out (a closed pool).
                        closed = _closed_error()
                        closed.__cause__ = exc
                        exc = closed
                    future.set_exception(exc)
                else:
                    future.set_result(t.result())

            task.add_done_callback(done)

        with self._lock:
            if self._closed:
                raise _closed_error()
            self._futures.add(future)
            self.loop.call_soon_threadsafe(start)
        try:
            return future.result()
        except BaseException:
            # KeyboardInterrupt in the caller: cancel the work on the loop too.
            if tasks and not tasks[0].done() and not self.loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self.loop.call_soon_threadsafe(tasks[0].cancel)
            raise
        finally:
            with self._lock:
                self._futures.discard(future)

    def track(self, stream: EventStream) -> None:
        """Remember an open stream, so shutdown closes it (ending its taps and spans)."""
        with self._lock:
            self._streams.add(stream)

    def shutdown(self, aclose: Callable[[], Awaitable[None]], *, grace: float = 5.0) -> None:
        """End every call in flight (their threads get ``ClientClosedError``), run ``aclose``,
        stop the loop. Bounded: after ``grace`` seconds of each step the loop is stopped anyway."""
        with self._lock:
            if self._closed:
                return
            self._closed = True

        async def finish() -> None:
            self._closing = True
            pending = [task for task in self._tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=grace)
            with self._lock:
                streams = list(self._streams)
            for stream in streams:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(stream.aclose(), timeout=grace)
            try:
                await asyncio.wait_for(aclose(), timeout=grace)
            finally:
                await self.loop.shutdown_asyncgens()

        if threading.current_thread() is self._thread:  # closed from a callback on the loop
            self.loop.stop()
        else:
            try:
                asyncio.run_coroutine_threadsafe(finish(), self.loop).result(timeout=4 * grace)
            except Exception:
                logger.warning("closing the sync client did not finish cleanly", exc_info=True)
            finally:
                self.stop()
        # Whoever still waits (work that ignored cancellation) is told now, not never.
        with self._lock:
            waiting, self._futures = list(self._futures), set()
        for future in waiting:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(_closed_error())

    def stop(self) -> None:
        """Stop the loop and its thread (waits up to 5 s)."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


def _closed_error() -> ClientClosedError:
    return ClientClosedError("The client was closed while this call was running (Client.close()).")


class ResponseStream:
    """The sync counterpart of ``AsyncResponseStream``: iterate events, get the final response."""

    __slots__ = ("_async", "_buffer", "_runner")

    def __init__(self, stream: AsyncResponseStream, runner: _LoopThread) -> None:
        self._async = stream
        self._runner = runner
        self._buffer: deque[StreamEvent] = deque()

    @property
    def provider(self) -> str | None:
        """The provider serving this stream."""
        return self._async.provider

    @property
    def response(self) -> Response | None:
        """The response so far (partial until the stream ends)."""
        return self._async.response

    def __iter__(self) -> Iterator[StreamEvent]:
        return self

    def __next__(self) -> StreamEvent:
        if not self._buffer:
            batch = self._runner.run(self._async.events.next_batch)
            if not batch:
                raise StopIteration
            self._buffer.extend(batch)
        return self._buffer.popleft()

    def until_done(self) -> ResponseStream:
        """Read the rest of the stream, discarding events."""
        self._buffer.clear()
        while self._runner.run(self._async.events.next_batch):
            pass
        return self

    def get_final_response(self) -> Response:
        """Read to the end; return the final ``Response`` (raises if the stream failed)."""
        self.until_done()
        return self._runner.run(self._async.get_final_response)

    def close(self) -> None:
        """Release the connection. Idempotent; nothing to do once the client is closed (closing
        the client closed its streams)."""
        self._buffer.clear()
        if self._runner.closed:
            return
        with contextlib.suppress(ClientClosedError):  # the client closed meanwhile
            self._runner.run(self._async.close)

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ResponseStream {self._async.events!r}>"


class _StreamManager:
    __slots__ = ("_factory", "_stream")

    def __init__(self, factory: Callable[[], ResponseStream]) -> None:
        self._factory = factory
        self._stream: ResponseStream | None = None

    def __enter__(self) -> ResponseStream:
        self._stream = self._factory()
        return self._stream

    def __exit__(self, *exc_info: Any) -> None:
        if self._stream is not None:
            self._stream.close()


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
