"""What the scripted WebSocket server says for one turn, sans I/O: scenarios become steps.

A turn is any :class:`~openresponses.testing.Scenario` (``text``, ``function_call``,
``status``, ``reset_mid_stream``, ...), played over the socket instead of HTTP, or a
:class:`WebSocketTurn` that adds what only a socket has: events tagged with a ``stream_id``
lane, extra raw messages (``response.compaction.compacting``), closing the connection after
the turn. :func:`plan_turn` turns one into :class:`Send` / :class:`Drop` / :class:`Close`
steps, so the server only plays them.

How HTTP scenario parts read on a socket: ``status(...)`` is an error envelope
``{type:"error", status, error}`` (R69); ``reset_before_headers`` drops the TCP connection
as soon as the turn arrives; ``reset_mid_stream(n)`` drops it after ``n`` events;
``truncated(n)`` closes it cleanly (code 1000) after ``n`` events; ``malformed(n)`` sends a
message that is not JSON; ``stall(n)`` pauses. ``mislabelled`` has no meaning without SSE
names and plays normally.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .._emit import EventBuilder
from ..types import CreateResponseBody
from ._script import Scenario, reset_before_headers, reset_mid_stream, status, text

__all__ = [
    "LIMIT_REACHED",
    "Close",
    "Drop",
    "Plan",
    "Send",
    "Step",
    "Turn",
    "WebSocketTurn",
    "as_turn",
    "compacting",
    "drop_after_first_event",
    "drop_before_first_event",
    "envelope",
    "lanes",
    "limit_reached",
    "plan_turn",
    "ws_error",
]

LIMIT_REACHED = "websocket_connection_limit_reached"


@dataclass(frozen=True, slots=True)
class WebSocketTurn:
    """A scenario plus what only a socket can do.

    ``stream_id`` tags every event with that lane id (an unknown field: clients keep it);
    ``inject`` adds raw messages, each after that many events (their ``sequence_number`` is
    renumbered with the rest); ``close_after`` closes the connection (code 1000) after the turn.
    """

    scenario: Scenario = field(default_factory=lambda: text("Hello"))
    stream_id: str | None = None
    inject: tuple[tuple[int, Mapping[str, Any]], ...] = ()
    close_after: bool = False


Turn: TypeAlias = "Scenario | WebSocketTurn"


def as_turn(turn: Turn) -> WebSocketTurn:
    """``turn`` as a :class:`WebSocketTurn`."""
    return turn if isinstance(turn, WebSocketTurn) else WebSocketTurn(turn)


# -- constructors -------------------------------------------------------------------------------


def ws_error(
    status_code: int, *, code: str, message: str | None = None, error_type: str | None = None
) -> Scenario:
    """A turn answered with an error envelope ``{type:"error", status, error:{code, message, ...}}``."""
    return status(status_code, code_str=code, message=message, error_type=error_type)


def limit_reached() -> WebSocketTurn:
    """``websocket_connection_limit_reached``, then the server closes the connection (R67)."""
    scenario = ws_error(
        400, code=LIMIT_REACHED, message="The WebSocket connection reached its 60-minute limit."
    )
    return WebSocketTurn(scenario, close_after=True)


def drop_before_first_event(*, lifecycle: bool = True) -> Scenario:
    """The TCP connection drops before the first content event (after the lifecycle events, or
    before anything when ``lifecycle`` is false): a retry on a new socket is invisible."""
    return reset_mid_stream(after_events=2) if lifecycle else reset_before_headers()


def drop_after_first_event(after_events: int = 4) -> Scenario:
    """The TCP connection drops after ``after_events`` events, content already delivered."""
    return reset_mid_stream(after_events=after_events)


def compacting(scenario: Scenario | None = None, *, after_events: int = 2) -> WebSocketTurn:
    """``scenario`` with a ``response.compaction.compacting`` event (not in the 2026-04-24 schema)."""
    event = {"type": "response.compaction.compacting", "sequence_number": 0}
    return WebSocketTurn(scenario or text("Compacted."), inject=((after_events, event),))


def lanes(scenario: Scenario | None = None, stream_id: str = "lane_1") -> WebSocketTurn:
    """``scenario`` with every event tagged ``stream_id`` (a multiplexing server's lane field)."""
    return WebSocketTurn(scenario or text("Hello from a lane."), stream_id=stream_id)


# -- plans --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send one text message after ``pause`` seconds (``None``: never, a stalled server)."""

    data: str
    pause: float | None = 0.0


@dataclass(frozen=True, slots=True)
class Drop:
    """Abort the TCP connection (no close frame)."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with a close frame."""

    code: int = 1000
    reason: str = ""


Step: TypeAlias = "Send | Drop | Close"


@dataclass(frozen=True, slots=True)
class Plan:
    """The steps of one turn and what it leaves behind: the response id it created, and whether
    it ended ``completed`` / ``incomplete`` (so it can be continued)."""

    steps: tuple[Step, ...]
    response_id: str | None = None
    continuable: bool = False
    failed: bool = False


def envelope(status_code: int, error: Mapping[str, Any]) -> str:
    """A WebSocket error envelope as text (R69)."""
    return json.dumps({"type": "error", "status": status_code, "error": dict(error)})


def plan_turn(turn: Turn, body: CreateResponseBody, *, generate: bool = True) -> Plan:
    """The steps for ``turn`` answering ``body`` (fresh ids each call)."""
    wturn = as_turn(turn)
    scenario = wturn.scenario
    delay = scenario.delay
    fault = scenario.fault
    tail: list[Step] = [Close()] if wturn.close_after else []
    if fault is not None and fault.kind == "reset_before_headers":
        return Plan((Send("", delay), Drop()) if delay else (Drop(),), failed=True)
    if scenario.http_status is not None:
        error = dict(scenario.http_status.body.get("error") or {"message": "error"})
        error = {k: v for k, v in error.items() if v is not None}
        error.setdefault("code", "error")
        return Plan((Send(envelope(scenario.http_status.code, error), delay), *tail), failed=True)
    if generate:
        events = scenario.events(body)
    else:
        builder = EventBuilder(body, model=scenario.model)
        builder.created()
        builder.in_progress()
        builder.complete(usage={"input_tokens": 0, "output_tokens": 0})
        events = builder.drain()
    final = getattr(events[-1], "response", None) if events else None
    status_ = getattr(final, "status", None)
    messages = _messages(events, wturn)
    steps: list[Step] = []
    first_content = True
    for position, (etype, data) in enumerate(messages):
        pause = delay if position == 0 else scenario.event_delay
        if first_content and etype not in ("response.created", "response.queued", "response.in_progress"):
            first_content = False
            pause += scenario.first_event_delay
        steps.append(Send(data, pause))
    if fault is not None:
        n = max(0, fault.after_events)
        if fault.kind == "reset":
            steps = [*steps[:n], Drop()]
            tail = []
        elif fault.kind == "truncate":
            steps = [*steps[:n], Close()]
            tail = []
        elif fault.kind == "malformed":
            steps = [
                *steps[:n],
                Send(fault.payload.decode("utf-8", "replace"), scenario.event_delay),
                *steps[n:],
            ]
        elif fault.kind == "stall":
            if n < len(steps):
                step = steps[n]
                assert isinstance(step, Send)
                steps[n] = Send(step.data, fault.seconds)
            else:
                steps.append(Send("", fault.seconds))
    cut = fault is not None and fault.kind in ("reset", "truncate")
    return Plan(
        (*steps, *tail),
        response_id=getattr(final, "id", None),
        continuable=not cut and status_ in ("completed", "incomplete"),
        failed=not cut and status_ == "failed",
    )


def _messages(events: Sequence[Any], turn: WebSocketTurn) -> list[tuple[str, str]]:
    """``(type, json)`` per message: the events as SSE would carry them, plus the turn's extras."""
    if turn.stream_id is None and not turn.inject:
        return [(e.type, e.model_dump_json(by_alias=True, exclude_unset=True)) for e in events]
    dicts = [e.to_dict() for e in events]
    if turn.stream_id is not None:
        for data in dicts:
            data["stream_id"] = turn.stream_id
    for offset, (after, extra) in enumerate(sorted(turn.inject, key=lambda pair: pair[0])):
        dicts.insert(min(after + offset, len(dicts)), dict(extra))
    for number, data in enumerate(dicts):
        if "sequence_number" in data or data.get("type", "").startswith("response."):
            data["sequence_number"] = number
    return [(str(data.get("type")), json.dumps(data)) for data in dicts]
