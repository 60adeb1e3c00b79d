"""The Starlette-facing helpers of the proxy: body limits, inbound auth, error replies, SSE replies.

Kept apart from ``app.py`` so the app module reads as the request path only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .._json_bytes import loads as loads_json
from .._streaming import EventStream
from ._errors import ErrorReply, Redactor

logger = logging.getLogger("openresponses.proxy")

__all__ = [
    "BadBody",
    "ClientDisconnect",
    "ClientGone",
    "EventStreamResponse",
    "ReplyThen",
    "authorized",
    "error_response",
    "header_map",
    "read_json",
    "trace_context",
    "unless_disconnected",
]

T = TypeVar("T")


class BadBody(Exception):
    """The inbound body cannot be used; ``reply`` says why (400 or 413)."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.message)
        self.reply = reply


def error_response(reply: ErrorReply, redactor: Redactor | None = None) -> Response:
    """``reply`` as a JSON response in the spec's error shape (scrubbed of secrets)."""
    if redactor is not None:
        reply = redactor.reply(reply)
    content = json.dumps(reply.body()).encode()
    headers = dict(reply.headers)
    if reply.status == 401:
        headers["www-authenticate"] = "Bearer"
    return Response(content, status_code=reply.status, headers=headers, media_type="application/json")


def header_map(scope: Scope) -> dict[str, str]:
    """The request's headers as one dict: names lower-case (as ASGI servers give them), the
    first of a repeated header winning, as Starlette's ``Headers.get`` answers.

    Why: the request path looks up half a dozen headers (the key, idempotency, cache control,
    trace context), and each lookup on Starlette's ``Headers`` scans the list and raises and
    catches a ``KeyError`` for an absent one; one pass into a dict does them all.
    """
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1")
        if key not in found:
            found[key] = value.decode("latin-1")
    return found


def authorized(headers: Mapping[str, str], key: bytes) -> bool:
    """Whether ``Authorization: Bearer <key>`` was sent; compared in constant time."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    # compare_digest on both branches: a wrong scheme costs the same as a wrong key.
    matches = hmac.compare_digest(token.strip().encode(), key)
    return scheme.lower() == "bearer" and matches


async def read_json(request: Request, limit: int, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The body as a JSON object, at most ``limit`` bytes; ``BadBody`` (413 / 400) otherwise.

    ``headers``: the request's :func:`header_map`, if already built. (``NaN``, ``Infinity`` and
    numbers that overflow to them are refused later, naming their path, with every other
    free-form value that is not JSON: ``AsyncClient.build_request``.)
    """
    declared = (headers if headers is not None else request.headers).get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadBody(_too_large(limit))  # refused before reading a byte
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadBody(_too_large(limit))
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        data = loads_json(raw)
    except RecursionError:  # json's own guard: without this, a 500
        message = "The request body nests too deeply to be read."
        raise BadBody(ErrorReply(400, "invalid_request_error", message, "invalid_json")) from None
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        message = (
            "The request body is empty; send a JSON object."
            if not raw.strip()
            else (f"The request body is not valid JSON{where}.")
        )
        raise BadBody(ErrorReply(400, "invalid_request_error", message, "invalid_json")) from None
    if not isinstance(data, dict):
        raise BadBody(
            ErrorReply(
                400,
                "invalid_request_error",
                f"The request body must be a JSON object, got {type(data).__name__}.",
                "invalid_json",
            )
        )
    return data


def _too_large(limit: int) -> ErrorReply:
    return ErrorReply(
        413,
        "invalid_request_error",
        f"The request body is larger than the proxy's limit of {limit} bytes.",
        "request_too_large",
    )


@functools.cache
def _otel() -> Any:
    """``(context, propagate)`` from OpenTelemetry, or ``None`` when the otel extra is absent."""
    try:
        from opentelemetry import context, propagate
    except ImportError:
        return None
    return context, propagate


def trace_context(headers: Mapping[str, str]) -> contextlib.AbstractContextManager[None]:
    """Continue the caller's W3C trace (``traceparent``) while the block runs, if otel is installed."""
    otel = _otel() if "traceparent" in headers else None
    if otel is None:
        return _NO_TRACE  # one shared object: no generator-based context manager per request
    context, propagate = otel
    return _attached(context, propagate, headers)


_NO_TRACE = contextlib.nullcontext()


@contextlib.contextmanager
def _attached(context: Any, propagate: Any, headers: Mapping[str, str]) -> Iterator[None]:
    token = context.attach(propagate.extract(dict(headers)))
    try:
        yield
    finally:
        context.detach(token)


_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def passed_trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's W3C trace context (``traceparent``, ``tracestate``) to pass on as it came,
    when the proxy does not trace (without ``--trace`` its own spans would replace them); only
    a well-formed ``traceparent`` (W3C's format), and ``tracestate`` only beside one."""
    parent = headers.get("traceparent", "").strip().lower()
    if not _TRACEPARENT.match(parent):
        return {}
    passed = {"traceparent": parent}
    state = headers.get("tracestate", "")
    if state and len(state) <= 512 and state.isascii() and state.isprintable():
        passed["tracestate"] = state
    return passed


class ClientGone(Exception):
    """The client disconnected before its reply was ready; the upstream call was cancelled."""


#: How long a call runs before a task starts watching for the client leaving: a call that ends
#: sooner (a fast upstream, a cache hit) never pays for the watcher; one that lasts learns of a
#: disconnect this much later at most.
WATCH_AFTER = 0.02


async def unless_disconnected(receive: Receive, call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call()``; if the client disconnects first, cancel it and raise ``ClientGone``.

    Why: a client that gives up during a long prefill (or a long non-streaming answer) would
    otherwise keep the upstream busy until its first token or its timeout. The request body
    must have been read: the next ``receive()`` then only ever reports the disconnect.
    ``call`` must clean up after itself when cancelled (close a stream it opened).

    ``call`` runs in the caller's own task; a watcher task waits for the disconnect once the call
    has run :data:`WATCH_AFTER` seconds (plain asyncio, as uvicorn runs the app: an anyio task
    group with two tasks, started for every request, was about a tenth of a non-streamed
    request's CPU in the proxy).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task(loop)  # given the loop: one getpid() system call, not two
    assert task is not None
    gone = False
    watcher: asyncio.Task[None] | None = None

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        task.cancel()

    def start() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    timer = loop.call_later(WATCH_AFTER, start)
    try:
        outcome = await call()
    except asyncio.CancelledError:
        if gone and task.uncancel() == 0:
            raise ClientGone from None  # our own cancel: nobody else asked this task to stop
        raise
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()
    if gone:
        task.uncancel()  # the cancel came as ``call`` finished anyway: the write will notice
    return outcome


#: Bytes the producer may queue before it waits for the writer: bounds memory per stream and the
#: delay a long burst can add to its first event (a few milliseconds of work at most).
COALESCE_LIMIT = 64 * 1024


class _Coalescer:
    """A byte queue between the task reading the upstream and the task writing to the client.

    Why: the writer takes *everything* queued since its last write, so when the proxy is behind
    (the upstream's chunks already wait in the socket buffer, as under load) one write carries
    many events: one ASGI message, one HTTP chunk, one ``send`` syscall per burst instead of per
    upstream chunk. When the proxy keeps up (tokens paced by a model), each chunk is written as
    soon as it is read, as before: the writer is woken by the first ``put`` and nothing waits.
    """

    __slots__ = ("_done", "_parts", "_room", "_size", "_wake")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._done = False
        self._wake: anyio.Event | None = None  # set by ``put``/``close`` while the writer waits
        self._room: anyio.Event | None = None  # set by ``take`` while the producer waits

    def put(self, chunk: bytes) -> bool:
        """Queue ``chunk``; ``True`` when ``COALESCE_LIMIT`` bytes are queued (then ``await room()``)."""
        self._parts.append(chunk)
        self._size += len(chunk)
        if self._wake is not None:
            self._wake.set()
            self._wake = None
        return self._size >= COALESCE_LIMIT

    async def room(self) -> None:
        """Wait until the writer has taken what is queued."""
        if self._parts:
            room = self._room = anyio.Event()
            await room.wait()

    def close(self) -> None:
        """No more chunks: the writer sends what is queued, then ends the body."""
        self._done = True
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    async def take(self) -> bytes | None:
        """Everything queued, as one ``bytes`` (waiting for some); ``None`` once closed and empty."""
        while not self._parts:
            if self._done:
                return None
            wake = self._wake = anyio.Event()
            await wake.wait()
        data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts = []
        self._size = 0
        if self._room is not None:
            self._room.set()
            self._room = None
        return data


class EventStreamResponse(StreamingResponse):
    """``text/event-stream`` that coalesces writes under load, notices a client leaving whatever the
    server, and then closes the upstream stream.

    Three tasks run: the reader (the relay's chunks into a ``_Coalescer``), the writer (whatever
    is queued, in one ASGI message) and the disconnect watcher; the first to finish for good
    cancels the others. Starlette's own ``StreamingResponse`` watches for ``http.disconnect``
    only under ASGI < 2.4; under 2.4 it learns of a disconnect when a write fails, which never
    happens while a stalled upstream sends nothing: hence the watcher, always. Closing is
    shielded: the cancel scope that ends the writer must not also cut the close of the upstream
    connection short.
    """

    def __init__(self, stream: EventStream, chunks: AsyncIterator[bytes]) -> None:
        super().__init__(
            chunks,
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
        self._chunks = chunks
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queue = _Coalescer()
        try:
            async with anyio.create_task_group() as group:

                async def read() -> None:
                    try:
                        async for chunk in self._chunks:
                            if queue.put(chunk):
                                await queue.room()
                    finally:
                        queue.close()

                async def write() -> None:
                    with contextlib.suppress(OSError):  # ASGI 2.4: a write to a gone client raises
                        await send(
                            {
                                "type": "http.response.start",
                                "status": self.status_code,
                                "headers": self.raw_headers,
                            }
                        )
                        while (data := await queue.take()) is not None:
                            await send({"type": "http.response.body", "body": data, "more_body": True})
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                    group.cancel_scope.cancel()

                async def watch() -> None:
                    with contextlib.suppress(ClientDisconnect):
                        await self.listen_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(read)
                group.start_soon(write)
                group.start_soon(watch)
        finally:
            with anyio.CancelScope(shield=True):
                await self._chunks.aclose()  # type: ignore[attr-defined]
                await self._stream.aclose()


class ReplyThen(Response):
    """A whole reply that runs ``after`` (plain callables, in order) once it has been sent, or
    failed to be: the served side of ``CallContext.after_reply``.

    Why not Starlette's ``background``: it runs only when sending succeeded, and a plain
    function goes to a worker thread; these must run in this task, before it yields to the loop,
    so that no other request is read before they are done.
    """

    def __init__(self, content: bytes, after: list[Callable[[], None]], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.after = after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            work, self.after[:] = list(self.after), ()  # cleared: the work refers to the call
            for one in work:
                try:
                    one()
                except Exception:  # each one reports its own failures: this is the last resort
                    logger.exception("work after the reply failed")
