"""``ResponseStream``, the sync stream, and the context manager ``Client.responses.stream`` returns.

Events cross from the background loop in batches: one hop brings every event already decoded,
so iterating costs a loop round trip per batch, not per event.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._client import ClientClosedError
from ._streaming import AsyncResponseStream
from .types import Response, StreamEvent

if TYPE_CHECKING:
    from ._loop_thread import _LoopThread

__all__ = ["ResponseStream", "_StreamManager"]


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
