"""``ScriptedTransport``: the scripted server's scenarios in-process, without sockets.

It plays the very bytes the loopback server would send (:meth:`Scenario.wire`) through the same
SSE decoder and event parser as :class:`~openresponses.transports.http.HTTPTransport`, and raises
the same typed errors, so a test written against one passes against the other.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from .._errors import (
    APIConnectionError,
    APIStatusError,
    ProtocolError,
)
from .._pipeline import Reply, Request, Target
from .._streaming import EventStream
from ..transports._dialect import OpenResponsesStreamDecoder, event_batches
from ..transports._reply import parse_reply_body, status_error_from_body
from ._script import Scenario, ScenarioQueue, Wire, text

__all__ = ["RecordedRequest", "ScriptedTransport", "play", "status_error"]


def reason_phrase(code: int) -> str:
    """The standard reason phrase for an HTTP status (``"Unknown"`` if there is none)."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the scripted server (or transport) received it.

    ``headers`` are lower-cased; ``body`` is the parsed JSON (``None`` if it was not JSON);
    ``received_at`` is ``time.monotonic()`` on arrival.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)

    @property
    def operation(self) -> str:
        """``compact`` for ``/responses/compact``, else ``create``."""
        return "compact" if self.path.endswith("/responses/compact") else "create"

    @property
    def stream(self) -> bool:
        """Whether the body asked for a stream."""
        return isinstance(self.body, dict) and self.body.get("stream") is True


def status_error(
    code: int,
    body: bytes | Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    provider: str = "default",
    reason: str | None = None,
) -> APIStatusError:
    """The error the HTTP transport raises for this reply (class, message, ``retry_after``).

    Handy as a ``Script`` outcome: ``Script(status_error(429, headers={"retry-after": "1"}), ...)``.
    """
    if body is None:
        message = f"Scripted HTTP {code}."
        body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    raw = body if isinstance(body, bytes) else json.dumps(dict(body)).encode()
    return status_error_from_body(code, raw, headers or {}, provider=provider, reason=reason)


async def _pause(seconds: float | None) -> None:
    if seconds is None:
        await asyncio.Event().wait()  # stalled for good: only a client timeout or close ends it
    elif seconds > 0:
        await asyncio.sleep(seconds)


async def play(
    scenario: Scenario, request: Request, *, provider: str = "scripted", send_done: bool = True
) -> Reply:
    """Play ``scenario`` for ``request`` in-process, as ``HTTPTransport`` would see it over HTTP."""
    wire = scenario.wire(
        request.body, operation=request.operation, stream=request.stream, send_done=send_done
    )
    await _pause(wire.delay)
    if wire.reset_before_headers:
        raise APIConnectionError(
            "Connection error: RemoteProtocolError: Server disconnected without sending a response.",
            provider=provider,
        )
    headers = dict(wire.headers)
    if wire.status >= 300:
        return _raise(status_error(wire.status, wire.body, headers=headers, provider=provider))
    if request.stream:
        if not headers.get("content-type", "").startswith("text/event-stream"):
            raise ProtocolError(
                "Expected a text/event-stream reply to a streaming request, "
                f"got {headers.get('content-type', '')!r}.",
                data=await _read_body(wire),
            )
        batches = event_batches(_wire_chunks(wire, provider), OpenResponsesStreamDecoder())
        return EventStream(batches, provider=provider)
    body = await _read_body(wire)
    if wire.end != "done":
        # As over HTTP: a body cut short (reset, or closed before Content-Length) is no reply.
        raise APIConnectionError(
            "Connection lost reading the body: "
            + ("ReadError" if wire.end == "reset" else "RemoteProtocolError"),
            provider=provider,
        )
    return parse_reply_body(body, request.operation, provider)


def _raise(exc: BaseException) -> Reply:
    raise exc


async def _read_body(wire: Wire) -> bytes:
    chunks: list[bytes] = []
    for frame in wire.frames:
        await _pause(frame.pause)
        chunks.append(frame.data)
    return b"".join(chunks)


async def _wire_chunks(wire: Wire, provider: str) -> AsyncIterator[bytes]:
    """The wire's body chunks as a socket would deliver them (pauses, then a reset if scripted)."""
    for frame in wire.frames:
        await _pause(frame.pause)
        yield frame.data
    if wire.end == "reset":
        raise APIConnectionError(
            "Connection lost while streaming: ReadError: [Errno 104] Connection reset by peer",
            provider=provider,
        )


class ScriptedTransport:
    """A :class:`~openresponses.Transport` that plays scenarios in-process (no sockets).

    Why: middleware and client tests run in microseconds and deterministically, yet see the
    same typed replies and errors as over HTTP. It can also be a provider inside failover::

        transport = ScriptedTransport([status(429, retry_after=1), text("Hi")], name="primary")
        client = AsyncClient(transport=transport, middleware=[Retry()])
        assert (await client.responses.create(model="m", input="x")).output_text == "Hi"
        assert len(transport.requests) == 2
    """

    def __init__(
        self,
        scenarios: Iterable[Scenario] = (),
        *,
        default: Scenario | None = None,
        name: str = "scripted",
        send_done: bool = True,
        prefix: str = "/v1",
    ) -> None:
        self._queue = ScenarioQueue(scenarios, default if default is not None else text("Hello"))
        self._target = Target(provider=name, base_url=None)
        self._send_done = send_done
        self._prefix = prefix.rstrip("/")
        #: Every request received, in order.
        self.requests: list[RecordedRequest] = []
        #: Whether ``aclose`` was called.
        self.closed = False

    @property
    def target(self) -> Target:
        """``Target(provider=name, base_url=None)``."""
        return self._target

    @property
    def name(self) -> str:
        """The provider name."""
        return self._target.provider

    @property
    def calls(self) -> int:
        """Requests received so far."""
        return len(self.requests)

    @property
    def pending(self) -> int:
        """Scenarios queued and not yet consumed."""
        return len(self._queue)

    def push(self, *scenarios: Scenario) -> None:
        """Queue scenarios, consumed one per request in order."""
        self._queue.push(*scenarios)

    async def __call__(self, request: Request, /) -> Reply:
        path = self._prefix + ("/responses/compact" if request.operation == "compact" else "/responses")
        self.requests.append(
            RecordedRequest(
                method="POST",
                path=path,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.body.model_dump(mode="json", exclude_unset=True, by_alias=True),
            )
        )
        scenario = self._queue.next()
        return await play(scenario, request, provider=self._target.provider, send_done=self._send_done)

    async def aclose(self) -> None:
        """Mark closed (there is nothing to release)."""
        self.closed = True

    def __repr__(self) -> str:
        return f"ScriptedTransport(name={self._target.provider!r}, pending={len(self._queue)})"
