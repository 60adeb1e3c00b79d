"""``AsyncResponseStream``: the stream users hold, what ``client.responses.stream()`` returns.

A thin wrapper over an :class:`~openresponses._streaming.EventStream` that adds
``get_final_response()``; ``openresponses._streaming`` re-exports it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ._errors import ProtocolError
from .types import Response, StreamEvent

if TYPE_CHECKING:
    from ._streaming import EventStream

__all__ = ["AsyncResponseStream"]


class AsyncResponseStream:
    """What ``client.responses.stream()`` and ``create(stream=True)`` return.

    Iterate it for typed events; ``get_final_response()`` reads to the end and returns the
    assembled ``Response``. Use it as an async context manager so the connection is released
    even if you stop early::

        async with client.responses.stream(model="m", input="Hi") as stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    print(event.delta, end="")
            final = await stream.get_final_response()
    """

    __slots__ = ("_stream",)

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    @property
    def events(self) -> EventStream:
        """The underlying middleware-level stream."""
        return self._stream

    @property
    def provider(self) -> str | None:
        """The provider serving this stream."""
        return self._stream.provider

    @property
    def response(self) -> Response | None:
        """The response so far (partial until the stream ends)."""
        return self._stream.snapshot()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._stream

    async def __anext__(self) -> StreamEvent:
        return await self._stream.__anext__()

    async def until_done(self) -> AsyncResponseStream:
        """Read the rest of the stream, discarding events."""
        async for _ in self._stream:
            pass
        return self

    async def get_final_response(self) -> Response:
        """Read to the end; return the final ``Response`` (raises if the stream failed)."""
        await self.until_done()
        final = self._stream.accumulator.final
        if final is None:  # pragma: no cover - the stream raises before this
            raise ProtocolError("The stream ended without a final response.")
        response = self._stream.snapshot()
        assert response is not None
        return _stamp(response, self._stream.provider)

    async def close(self) -> None:
        """Release the connection."""
        await self._stream.aclose()

    async def __aenter__(self) -> AsyncResponseStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stream.aclose()

    def __repr__(self) -> str:
        return f"<AsyncResponseStream {self._stream!r}>"


def _stamp(response: Response, provider: str | None) -> Response:
    """Record which provider served a response (``response.provider``)."""
    if provider is not None:
        response._provider = provider
    return response
