"""A streamed HTTP/1.1 body read in batches: every chunk already received, in one piece.

httpx hands a streamed body over one HTTP chunk at a time through six async-generator layers
(``aiter_raw``; httpx's client, transport and pool byte streams; httpcore's body and event
loops), and the proxy's upstream sends one chunk per Chat Completions chunk: on a proxy
streaming at full speed that was ~18 % of its CPU (docs/performance.md, "Proxy"). When the response comes from
httpx's own HTTP/1.1 pool, :func:`buffered_body` reads it the way httpcore does (h11 events,
the same socket reads with the same read timeout) but yields everything h11 has already parsed
before it waits for the network again, so one decode handles a whole socket read. Nothing is
held back: a read that completes one chunk is yielded at once.

Anything else (HTTP/2, a mock or custom transport, a content-encoding, other httpx / httpcore
internals than the ones checked here) gets ``None`` and the caller uses ``aiter_raw()`` as
before. Errors are httpx's: a dropped connection or a read timeout raises what
``aiter_raw()`` would (the caller maps them), and the caller's ``response.aclose()`` releases
or discards the connection exactly as it does after ``aiter_raw()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

__all__ = ["buffered_body"]

try:  # the internals this fast path relies on; any change and it is simply not used
    import h11
    import httpcore
    from httpcore._async.connection_pool import PoolByteStream
    from httpcore._async.http11 import AsyncHTTP11Connection, HTTP11ConnectionByteStream
    from httpx._client import BoundAsyncStream
    from httpx._transports.default import AsyncResponseStream, map_httpcore_exceptions
except ImportError:  # pragma: no cover - another httpx / httpcore layout
    _AVAILABLE = False
else:
    # Only on the httpcore line this mirrors (its _receive_response_body / _receive_event, and
    # _response_closed's reuse rule, were read from 1.0.x): a newer one gets aiter_raw().
    _AVAILABLE = httpcore.__version__.startswith("1.0.")


def buffered_body(response: httpx.Response) -> AsyncIterator[bytes] | None:
    """The body of ``response`` as batches of whole received reads, or ``None`` if this
    response is not a plain HTTP/1.1 one from httpx's own pool (use ``aiter_raw()`` then)."""
    if not _AVAILABLE or response.is_stream_consumed or response.is_closed:
        return None
    if response.headers.get("content-encoding", "identity").strip().lower() not in ("identity", ""):
        return None
    stream: Any = response.stream
    if type(stream) is BoundAsyncStream:  # the client's wrapper (it times the response at close)
        stream = getattr(stream, "_stream", None)
    if type(stream) is not AsyncResponseStream:
        return None
    pooled = getattr(stream, "_httpcore_stream", None)
    if type(pooled) is not PoolByteStream:
        return None
    body = getattr(pooled, "_stream", None)
    if type(body) is not HTTP11ConnectionByteStream:
        return None
    connection = getattr(body, "_connection", None)
    if type(connection) is not AsyncHTTP11Connection or response.request.extensions.get("trace"):
        return None  # a trace hook wants httpcore's own receive_response_body events
    state = getattr(connection, "_h11_state", None)
    network = getattr(connection, "_network_stream", None)
    if not isinstance(state, h11.Connection) or network is None:
        return None
    timeout = (response.request.extensions.get("timeout") or {}).get("read")
    response.is_stream_consumed = True  # as aiter_raw() marks it
    return _batches(state, network, connection.READ_NUM_BYTES, timeout)


async def _batches(state: Any, network: Any, size: int, timeout: float | None) -> AsyncIterator[bytes]:
    # httpcore's _receive_response_body and _receive_event, with the Data events gathered.
    pieces: list[Any] = []
    with map_httpcore_exceptions():  # httpcore's errors become httpx's, as in aiter_raw()
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpcore.RemoteProtocolError(exc) from exc
            if type(event) is h11.Data:
                pieces.append(event.data)
            elif event is h11.NEED_DATA:
                if pieces:
                    yield b"".join(pieces)
                    pieces.clear()
                data = await network.read(size, timeout=timeout)
                if data == b"" and state.their_state == h11.SEND_RESPONSE:
                    raise httpcore.RemoteProtocolError("Server disconnected without sending a response.")
                state.receive_data(data)
            elif type(event) is h11.EndOfMessage or event is h11.PAUSED:
                break
        if pieces:
            yield b"".join(pieces)
