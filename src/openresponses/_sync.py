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
import contextvars
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack, overload

from ._client import AsyncClient, CompactParams, CreateParams
from ._streaming import AsyncResponseStream
from .types import CompactResponse, Response, StreamEvent

if TYPE_CHECKING:
    import httpx

    from ._pipeline import Endpoint, Handler, Middleware, Transport

__all__ = ["Client", "ResponseStream", "Responses"]

T = TypeVar("T")


class _LoopThread:
    """An asyncio loop in a daemon thread; ``run`` executes a coroutine there and waits."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="openresponses-sync", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        context = contextvars.copy_context()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[T]] = []

        async def runner() -> T:
            return await factory()

        def start() -> None:
            if not future.set_running_or_notify_cancel():
                return
            task = self.loop.create_task(runner(), context=context)
            tasks.append(task)

            def done(t: asyncio.Task[T]) -> None:
                if t.cancelled():
                    future.cancel()
                elif (exc := t.exception()) is not None:
                    future.set_exception(exc)
                else:
                    future.set_result(t.result())

            task.add_done_callback(done)

        self.loop.call_soon_threadsafe(start)
        try:
            return future.result()
        except BaseException:
            # KeyboardInterrupt in the caller: cancel the work on the loop too.
            if tasks and not tasks[0].done():
                self.loop.call_soon_threadsafe(tasks[0].cancel)
            raise

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


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
        """Release the connection."""
        self._buffer.clear()
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
        stream: Literal[False] = False,
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
        stream: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> Response | ResponseStream:
        """Create a response; with ``stream=True`` an iterator of typed events."""
        runner, aclient = self._client._ensure()
        options: dict[str, Any] = dict(
            extra_headers=extra_headers,
            extra_body=extra_body,
            timeout=timeout,
            idempotency_key=idempotency_key,
        )
        if stream:
            astream = runner.run(lambda: aclient.responses.create(stream=True, **options, **params))
            return ResponseStream(astream, runner)
        return runner.run(lambda: aclient.responses.create(stream=False, **options, **params))

    def stream(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Any = None,
        idempotency_key: str | None = None,
        **params: Unpack[CreateParams],
    ) -> _StreamManager:
        """``with client.responses.stream(...) as stream:`` events, then ``get_final_response()``."""
        return _StreamManager(
            lambda: self.create(
                stream=True,
                extra_headers=extra_headers,
                extra_body=extra_body,
                timeout=timeout,
                idempotency_key=idempotency_key,
                **params,
            )
        )

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
        runner, aclient = self._client._ensure()
        return runner.run(
            lambda: aclient.responses.compact(
                model=model, extra_headers=extra_headers, extra_body=extra_body, timeout=timeout, **params
            )
        )


class Client:
    """Synchronous client: the same configuration, middleware and types as ``AsyncClient``.

    ::

        with Client(base_url="http://localhost:8001/v1") as client:
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
    ) -> None:
        def factory() -> AsyncClient:
            return AsyncClient(
                base_url=base_url,
                api_key=api_key,
                timeout=timeout,
                default_headers=default_headers,
                http_client=http_client,
                middleware=middleware,
                transport=transport,
                provider=provider,
                endpoint=endpoint,
            )

        self._factory = factory
        self._async: AsyncClient = factory()  # validate the configuration now, in the caller
        self._runner: _LoopThread | None = None
        self._lock = threading.Lock()
        self.responses = Responses(self)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], *, chain: str | None = None) -> Client:
        """Build a client from a TOML file (see ``AsyncClient.from_config``)."""
        from ._config import load_client_options

        return cls(**load_client_options(path, chain=chain))

    @property
    def async_client(self) -> AsyncClient:
        """The ``AsyncClient`` this facade drives."""
        return self._async

    def _ensure(self) -> tuple[_LoopThread, AsyncClient]:
        with self._lock:
            runner = self._runner
            if runner is None or runner.pid != os.getpid():
                if runner is not None:
                    # After fork the parent's loop thread and pooled sockets are not ours.
                    self._async = self._factory()
                runner = self._runner = _LoopThread()
            return runner, self._async

    def close(self) -> None:
        """Close the transport and stop the background loop."""
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None and runner.pid == os.getpid():
            runner.run(self._async.aclose)
            runner.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self._async.base_url!r})"
