"""The wire half of the scripted server: what bytes go out, in which frames, with which faults.

A :class:`~openresponses.testing.Scenario` decides *what* the server says (events, a response,
an HTTP error); the functions here turn that into a :class:`Wire`: status, headers, frames with
their pauses, and how the body ends (cleanly, a reset, a close). The loopback
:class:`~openresponses.testing.ScriptedServer` and the in-process
:class:`~openresponses.testing.ScriptedTransport` both play a ``Wire``, so they send the same
bytes. SSE framing is :func:`openresponses._sse.encode_event`, the encoder every producer uses.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._sse import DONE, encode_event, encode_sse
from ..types import LIFECYCLE_EVENT_TYPES, StreamEvent

__all__ = [
    "Fault",
    "FaultKind",
    "Frame",
    "StatusReply",
    "Wire",
    "json_wire",
    "reset_wire",
    "sse_wire",
    "status_wire",
]

FaultKind = Literal["reset_before_headers", "reset", "stall", "truncate", "malformed", "mislabel"]
End = Literal["done", "reset", "close"]


@dataclass(frozen=True, slots=True)
class StatusReply:
    """An HTTP error reply: status code, spec error body and extra headers.

    (Formerly ``HTTPStatus``, a name that shadowed the standard library's ``http.HTTPStatus``.)
    """

    code: int
    body: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Fault:
    """Something going wrong on the wire after ``after_events`` events."""

    kind: FaultKind
    after_events: int = 0
    seconds: float | None = None
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Frame:
    """Bytes written in one go (an SSE event, or a JSON body), after ``pause`` seconds.

    ``pause=None`` waits forever (a stalled upstream; only the client giving up ends it).
    """

    data: bytes
    pause: float | None = 0.0


@dataclass(frozen=True, slots=True)
class Wire:
    """Exactly what to send for one request: shared by the server and the in-process transport."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    frames: tuple[Frame, ...] = ()
    #: Seconds before the status line and headers.
    delay: float = 0.0
    #: Server-sent events (chunked) rather than a Content-Length body.
    sse: bool = False
    #: The declared Content-Length of a non-SSE body (may exceed what is sent: truncation).
    content_length: int = 0
    #: ``done``: end the body properly; ``reset``: abort the TCP connection; ``close``: close it.
    end: End = "done"
    #: Close the connection without any reply.
    reset_before_headers: bool = False
    #: The events the frames encode, for in-process consumers and assertions.
    events: tuple[StreamEvent, ...] = ()

    @property
    def body(self) -> bytes:
        """Every frame's bytes joined."""
        return b"".join(frame.data for frame in self.frames)


Headers = tuple[tuple[str, str], ...]


def reset_wire(*, delay: float = 0.0) -> Wire:
    """Close the connection after ``delay`` without any reply."""
    return Wire(delay=delay, reset_before_headers=True)


def status_wire(reply: StatusReply, *, delay: float = 0.0, headers: Headers = ()) -> Wire:
    """An HTTP error: ``reply.code`` with its JSON error body."""
    data = json.dumps(reply.body).encode()
    return Wire(
        status=reply.code,
        headers=(("content-type", "application/json"), *reply.headers, *headers),
        frames=(Frame(data),),
        delay=delay,
        content_length=len(data),
    )


def json_wire(data: bytes, *, fault: Fault | None = None, delay: float = 0.0, headers: Headers = ()) -> Wire:
    """A ``200`` JSON body, cut, replaced or stalled by ``fault``."""
    length = len(data)
    frames = [Frame(data)]
    end: End = "done"
    if fault is not None:
        cut = Frame(data[: len(data) // 2])
        if fault.kind == "reset":
            frames, end = [cut], "reset"
        elif fault.kind == "truncate":
            frames, end = [cut], "close"  # the declared length stays: the client sees a short body
        elif fault.kind == "malformed":
            frames, length = [Frame(fault.payload)], len(fault.payload)
        elif fault.kind == "stall":
            frames = [Frame(data, fault.seconds)]
    return Wire(
        headers=(("content-type", "application/json"), *headers),
        frames=tuple(frames),
        delay=delay,
        content_length=length,
        end=end,
    )


def sse_wire(
    events: Sequence[StreamEvent],
    *,
    fault: Fault | None = None,
    delay: float = 0.0,
    event_delay: float = 0.0,
    first_event_delay: float = 0.0,
    send_done: bool = True,
    headers: Headers = (),
) -> Wire:
    """A ``200`` event stream: one frame per event (``event_delay`` apart, ``first_event_delay``
    more before the first non-lifecycle event), ``data: [DONE]``, then ``fault`` applied."""
    frames: list[Frame] = []
    first_content = True
    for position, event in enumerate(events):
        pause = event_delay if position else 0.0
        if first_content and event.type not in LIFECYCLE_EVENT_TYPES:
            first_content = False
            pause += first_event_delay
        frames.append(Frame(encode_event(event), pause))
    if send_done:
        frames.append(Frame(DONE, event_delay))
    end: End = "done"
    if fault is not None:
        n = max(0, fault.after_events)
        if fault.kind == "reset":
            frames, end = frames[:n], "reset"
        elif fault.kind == "truncate":
            frames = frames[:n]
        elif fault.kind == "malformed":
            frames = [*frames[:n], Frame(encode_sse(fault.payload), event_delay), *frames[n:]]
        elif fault.kind == "stall":
            if n < len(frames):
                frames[n] = dataclasses.replace(frames[n], pause=fault.seconds)
            else:
                frames.append(Frame(b"", fault.seconds))
        elif fault.kind == "mislabel" and n < len(events):
            # The same JSON under an ``event:`` name that contradicts its ``type``.
            wrong = (
                "response.output_text.done"
                if events[n].type == "response.completed"
                else "response.completed"
            )
            payload = events[n].model_dump_json(by_alias=True, exclude_unset=True).encode()
            frames[n] = Frame(encode_sse(payload, wrong), frames[n].pause)
    return Wire(
        headers=(("content-type", "text/event-stream"), ("cache-control", "no-cache"), *headers),
        frames=tuple(frames),
        delay=delay,
        sse=True,
        end=end,
        events=tuple(events),
    )
