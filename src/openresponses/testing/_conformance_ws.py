"""The WebSocket-mode conformance scenarios (README §9, R53-R69): ``openresponses check --websocket``.

Each opens a real socket to ``<base_url>/responses`` and judges the raw messages: every event
against the schema and the ordering rules (the same :func:`validate_stream` as SSE, R57),
error envelopes against ``WebSocketErrorEvent`` (R69). Prompts are short: they run against
real models. Needs the ``websocket`` extra (the socket) and ``check`` (the schema).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ._conformance_checks import Check, CheckContext, CheckFailure, expect_completed, summarise
from ._conformance_rules import validate_stream
from ._spec_schema import spec_schemas

__all__ = ["WS_CHECKS"]

_TERMINALS = frozenset({"response.completed", "response.failed", "response.incomplete"})


class _Turn:
    """The messages of one turn: its events, or the error envelope that answered it."""

    def __init__(self, events: list[dict[str, Any]], envelope: dict[str, Any] | None) -> None:
        self.events = events
        self.envelope = envelope

    @property
    def terminal(self) -> dict[str, Any]:
        last = self.events[-1] if self.events else {}
        return last if last.get("type") in _TERMINALS else {}

    def completed(self, what: str) -> dict[str, Any]:
        """The completed response of a valid stream, or ``CheckFailure``."""
        if self.envelope is not None:
            error = self.envelope.get("error") or {}
            raise CheckFailure(
                f"{what}: error envelope {self.envelope.get('status')}: {error.get('message')}"
            )
        problems = validate_stream(self.events)
        if problems:
            raise CheckFailure(f"{what}: the events break {len(problems)} rule(s)", problems)
        response = self.terminal.get("response") or {}
        expect_completed(response, f"{what}: terminal {self.terminal.get('type')!r}")
        return dict(response)


async def _socket(ctx: CheckContext) -> Any:
    try:
        from ..transports.websocket import RawSocket
    except ImportError as exc:
        raise CheckFailure(f"cannot open a WebSocket: {exc}") from None
    headers = dict(getattr(ctx, "_headers", {}))  # the run's Authorization, kept private
    headers.pop("accept", None)
    return await RawSocket.open(ctx.base_url, headers=headers, timeout=ctx.timeout)


async def _turn(ctx: CheckContext, socket: Any, body: dict[str, Any]) -> _Turn:
    await socket.send(json.dumps({"type": "response.create", "model": ctx.model, **body}))
    return await _read_turn(ctx, socket)


async def _read_turn(ctx: CheckContext, socket: Any) -> _Turn:
    events: list[dict[str, Any]] = []
    while True:
        raw = await socket.recv(ctx.timeout)
        try:
            data = json.loads(raw)
        except ValueError:
            raise CheckFailure(f"a message is not JSON (R57): {raw[:80]!r}") from None
        if not isinstance(data, dict):
            raise CheckFailure(f"a message is {type(data).__name__}, not an event object (R57)")
        if data.get("type") == "error" and "status" in data and "sequence_number" not in data:
            problems = spec_schemas().problems("WebSocketErrorEvent", data)
            if problems:
                raise CheckFailure("the error envelope violates WebSocketErrorEvent (R69)", problems)
            return _Turn(events, data)
        events.append(data)
        if data.get("type") in _TERMINALS:
            return _Turn(events, None)
        if len(events) > 100_000:
            raise CheckFailure("more than 100,000 events without a terminal event")


async def _ws_turn(ctx: CheckContext) -> str:
    socket = await _socket(ctx)
    try:
        turn = await _turn(ctx, socket, {"input": "Count from one to five, separated by commas."})
    finally:
        await socket.aclose()
    response = turn.completed("response.create")
    return f"{len(turn.events)} events in order, completed: {summarise(response.get('output') or [])}"


async def _ws_continuation(ctx: CheckContext) -> str:
    socket = await _socket(ctx)
    try:
        first = (await _turn(ctx, socket, {"input": "Remember the word 'teal'.", "store": False})).completed(
            "turn 1"
        )
        body = {"input": "Which word did I ask you to remember?", "store": False}
        second = (await _turn(ctx, socket, {**body, "previous_response_id": first["id"]})).completed("turn 2")
    finally:
        await socket.aclose()
    if second.get("previous_response_id") not in (None, first["id"]):
        raise CheckFailure(
            f"turn 2 says previous_response_id {second.get('previous_response_id')!r}, not {first['id']!r}"
        )
    return "store=false continuation from connection memory completed (R59, R60)"


async def _ws_not_found(ctx: CheckContext) -> str:
    socket = await _socket(ctx)
    missing = "resp_openresponses_check_" + uuid.uuid4().hex
    try:
        turn = await _turn(ctx, socket, {"input": "Hi", "store": False, "previous_response_id": missing})
    finally:
        await socket.aclose()
    if turn.envelope is None:
        raise CheckFailure(
            f"an unknown previous_response_id with store=false got {len(turn.events)} events, "
            "not an error envelope (R62)"
        )
    code = (turn.envelope.get("error") or {}).get("code")
    if code != "previous_response_not_found":
        raise CheckFailure(f"the envelope's code is {code!r}, expected 'previous_response_not_found' (R62)")
    return f"error envelope {turn.envelope.get('status')} previous_response_not_found (R62, R69)"


async def _ws_warm_up(ctx: CheckContext) -> str:
    socket = await _socket(ctx)
    try:
        warm = await _turn(
            ctx, socket, {"input": "You will be asked for a colour.", "generate": False, "store": False}
        )
        if warm.envelope is not None:
            error = warm.envelope.get("error") or {}
            raise CheckFailure(
                f"generate=false: error envelope {warm.envelope.get('status')}: {error.get('message')}"
            )
        response = warm.terminal.get("response") or {}
        if not response.get("id"):
            raise CheckFailure("generate=false returned no response id (R64)")
        body = {"input": "Name one colour.", "store": False, "previous_response_id": response["id"]}
        (await _turn(ctx, socket, body)).completed("the turn after the warm-up")
    finally:
        await socket.aclose()
    return "generate=false returned an id, and the next turn continued from it (R64)"


async def _ws_in_order(ctx: CheckContext) -> str:
    socket = await _socket(ctx)
    try:
        for word in ("one", "two"):
            message = {"type": "response.create", "model": ctx.model, "input": f"Say '{word}'."}
            await socket.send(json.dumps(message))
        first = await _read_turn(ctx, socket)
        second = await _read_turn(ctx, socket)
    finally:
        await socket.aclose()
    a = first.completed("the first of two queued turns")
    b = second.completed("the second of two queued turns")
    if a.get("id") == b.get("id"):
        raise CheckFailure("both queued turns ended with the same response id")
    return "two queued turns answered one after the other, not interleaved (R58)"


WS_CHECKS: tuple[Check, ...] = (
    Check(
        "websocket-turn",
        "WebSocket: a response.create turn, events valid and in order",
        _ws_turn,
        ("R54", "R57"),
    ),
    Check("websocket-continuation", "WebSocket: store=false continuation", _ws_continuation, ("R59", "R60")),
    Check("websocket-not-found", "WebSocket: unknown id with store=false", _ws_not_found, ("R62", "R69")),
    Check("websocket-warm-up", "WebSocket: generate=false warm-up", _ws_warm_up, ("R64",)),
    Check("websocket-in-order", "WebSocket: queued turns processed in order", _ws_in_order, ("R58",)),
)
