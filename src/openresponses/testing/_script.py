"""Scenarios: declarative descriptions of what a scripted server does for one request.

This module holds the constructor functions that build a :class:`Scenario` (``text``,
``function_call``, ``status``, ``reset_mid_stream``, ...) and the :class:`ScenarioQueue` a
server or transport takes them from. The value itself (what it answers to a streaming or
non-streaming ``create`` and to ``/responses/compact``, and :meth:`Scenario.wire`, the bytes
and pauses to send, so the loopback :class:`~openresponses.testing.ScriptedServer` and the
in-process :class:`~openresponses.testing.ScriptedTransport` play exactly the same thing) is
in ``_scenario``; the outputs it is made of, and how they stream, in ``_outputs``. Every name
stays importable from here.

A scenario taken from a :class:`ScenarioQueue` also knows the queue's :class:`ResponseLedger`:
the ids of the responses that server (or transport) has answered with. A request naming a
``previous_response_id`` it never issued gets the spec's 404 ``previous_response_not_found``,
as a real stateful server answers, so conformance checks and clients are tested against the
behaviour they will meet.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from ..types import Response
from ._outputs import Chunks, FunctionCallOutput, MessageOutput, Output, ReasoningOutput, freeze_chunks
from ._outputs import split as split
from ._scenario import Body as Body
from ._scenario import ResponseLedger, Scenario
from ._scenario import previous_response_not_found as previous_response_not_found
from ._wire import Fault, Frame, StatusReply, Wire

__all__ = [
    "Chunks",
    "Fault",
    "Frame",
    "FunctionCallOutput",
    "MessageOutput",
    "Output",
    "ReasoningOutput",
    "ResponseLedger",
    "Scenario",
    "ScenarioQueue",
    "StatusReply",
    "Wire",
    "extension_events",
    "failed",
    "function_call",
    "incomplete",
    "json_response",
    "malformed",
    "mislabelled",
    "refusal",
    "reset_before_headers",
    "reset_mid_stream",
    "stall",
    "status",
    "text",
    "tool_calls",
    "truncated",
]


# -- constructors -------------------------------------------------------------------------------


def text(
    text: str = "Hello world",
    *,
    chunks: Chunks = None,
    reasoning: str | None = None,
    reasoning_text: str | None = None,
    reasoning_encrypted: str | None = None,
    usage: Mapping[str, Any] | None = None,
    delay: float = 0.0,
    event_delay: float = 0.0,
    first_event_delay: float = 0.0,
    phase: str | None = None,
    model: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Scenario:
    """A text answer, optionally preceded by a reasoning item (``reasoning`` = its summary,
    ``reasoning_text`` its raw text, ``reasoning_encrypted`` its ``encrypted_content``).

    ``chunks`` splits the text into deltas (by words by default); ``usage`` is computed from
    word counts unless given; ``delay`` waits before the headers, ``event_delay`` between
    events, ``first_event_delay`` after ``response.in_progress`` (a slow first token)::

        server.push(text("Hi there", reasoning="Greet the user", event_delay=0.01))
    """
    outputs: list[Output] = []
    if reasoning is not None or reasoning_text is not None or reasoning_encrypted is not None:
        outputs.append(
            ReasoningOutput(summary=reasoning, raw=reasoning_text, encrypted_content=reasoning_encrypted)
        )
    outputs.append(MessageOutput(text=text, chunks=freeze_chunks(chunks), phase=phase))
    return Scenario(
        outputs=tuple(outputs),
        usage=usage,
        delay=delay,
        event_delay=event_delay,
        first_event_delay=first_event_delay,
        model=model,
        headers=tuple((headers or {}).items()),
    )


def function_call(
    name: str,
    arguments: str | Mapping[str, Any] = "{}",
    *,
    call_id: str | None = None,
    chunks: Chunks = None,
    usage: Mapping[str, Any] | None = None,
    delay: float = 0.0,
    event_delay: float = 0.0,
) -> Scenario:
    """One function call; ``arguments`` (a JSON string or a dict) streams as deltas."""
    return Scenario(
        outputs=(_call(name, arguments, call_id=call_id, chunks=chunks),),
        usage=usage,
        delay=delay,
        event_delay=event_delay,
    )


def tool_calls(
    calls: Iterable[Scenario | FunctionCallOutput],
    *,
    text: str | None = None,
    usage: Mapping[str, Any] | None = None,
    event_delay: float = 0.0,
) -> Scenario:
    """Parallel function calls (``output_index`` 0, 1, ...), optionally after a text message.

    ``tool_calls([function_call("a", {"x": 1}), function_call("b")])``
    """
    outputs: list[Output] = []
    if text is not None:
        outputs.append(MessageOutput(text=text))
    for call in calls:
        if isinstance(call, Scenario):
            outputs.extend(call.outputs)
        else:
            outputs.append(call)
    return Scenario(outputs=tuple(outputs), usage=usage, event_delay=event_delay)


def refusal(text: str = "I can't help with that.", *, chunks: Chunks = None) -> Scenario:
    """A message whose only part is a ``refusal``."""
    return Scenario(outputs=(MessageOutput(text=text, chunks=freeze_chunks(chunks), refusal=True),))


def incomplete(
    text: str = "The answer was cut", *, reason: str = "max_output_tokens", chunks: Chunks = None
) -> Scenario:
    """Text whose item ends ``incomplete``, then ``response.incomplete`` with ``reason``."""
    return Scenario(
        outputs=(MessageOutput(text=text, chunks=freeze_chunks(chunks)),),
        ending="incomplete",
        incomplete_reason=reason,
    )


def failed(
    message: str = "The server had an error.",
    *,
    code: str | None = "server_error",
    type: str = "server_error",
    after_text: str | None = None,
) -> Scenario:
    """Optional partial text, then ``error`` and ``response.failed`` (``response.error.code``)."""
    outputs: tuple[Output, ...] = () if after_text is None else (MessageOutput(text=after_text),)
    return Scenario(outputs=outputs, ending="failed", error_message=message, error_code=code, error_type=type)


_STATUS_TYPES = {
    400: "invalid_request",
    401: "authentication_error",
    403: "permission_denied",
    404: "not_found",
    409: "conflict",
    422: "invalid_request",
    429: "too_many_requests",
}


def status(
    code: int,
    *,
    error_type: str | None = None,
    message: str | None = None,
    code_str: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    retry_after: float | None = None,
    delay: float = 0.0,
) -> Scenario:
    """An HTTP error reply with the spec body ``{"error": {"message", "type", "param", "code"}}``.

    ``status(429, headers={"Retry-After": "2"})`` or ``status(429, retry_after=2)``.
    """
    etype = error_type or _STATUS_TYPES.get(code, "server_error" if code >= 500 else "invalid_request")
    body = {
        "error": {
            "message": message or f"Scripted HTTP {code}.",
            "type": etype,
            "param": param,
            "code": code_str,
        }
    }
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    if retry_after is not None:
        hdrs["retry-after"] = f"{retry_after:g}"
    return Scenario(http_status=StatusReply(code, body, tuple(hdrs.items())), delay=delay)


def json_response(response: Response | Mapping[str, Any]) -> Scenario:
    """Reply with this exact ``Response`` (streamed via ``emit_response`` when a stream is asked for)."""
    fixed = response if isinstance(response, Response) else Response.model_validate(response)
    return Scenario(fixed=fixed)


def reset_before_headers(*, delay: float = 0.0) -> Scenario:
    """Close the connection without replying (the client sees a connection error)."""
    return Scenario(fault=Fault("reset_before_headers"), delay=delay)


def reset_mid_stream(after_events: int = 4, *, text: str = "Hello world, this is partial") -> Scenario:
    """Send ``after_events`` events, then abort the TCP connection (an RST, not a clean EOF)."""
    return _with_fault(text, Fault("reset", after_events))


def stall(after_events: int = 2, *, seconds: float | None = None, text: str = "Hello world") -> Scenario:
    """Send ``after_events`` events, then go silent for ``seconds`` (forever if ``None``)."""
    return _with_fault(text, Fault("stall", after_events, seconds=seconds))


def truncated(after_events: int = 4, *, text: str = "Hello world, this is partial") -> Scenario:
    """Send ``after_events`` events, then end the body cleanly without a terminal event."""
    return _with_fault(text, Fault("truncate", after_events))


def malformed(after_events: int = 3, *, payload: bytes = b"{not json", text: str = "Hello world") -> Scenario:
    """Send ``after_events`` events, then an event whose data is ``payload``."""
    return _with_fault(text, Fault("malformed", after_events, payload=payload))


def mislabelled(after_events: int = 2, *, text: str = "Hello world") -> Scenario:
    """Event number ``after_events`` carries an ``event:`` name contradicting its ``type``."""
    return _with_fault(text, Fault("mislabel", after_events))


def extension_events(scenario: Scenario | None = None) -> Scenario:
    """Interleave slug-prefixed ``acme:trace`` events (clients must pass them through)."""
    return (scenario or text()).with_(extension_events=True)


# -- queue shared by the server and the transport -----------------------------------------------


class ScenarioQueue:
    """Scenarios consumed one per request, in order; ``default`` serves when it is empty.

    Each scenario handed out carries the queue's :attr:`ledger`, so the responses one server
    (or transport) sends can be continued with ``previous_response_id`` and unknown ids get a
    404. A request refused that way still consumes its scenario.
    """

    def __init__(self, scenarios: Iterable[Scenario], default: Scenario | None) -> None:
        self._queue: deque[Scenario] = deque(scenarios)
        self.default = default if default is not None else text("Hello")
        self._lock = threading.Lock()
        #: The response ids answered so far (what ``previous_response_id`` may name).
        self.ledger = ResponseLedger()

    def push(self, *scenarios: Scenario) -> None:
        for scenario in scenarios:
            if not isinstance(scenario, Scenario):
                raise TypeError(f"expected a Scenario, got {scenario!r}")
        with self._lock:
            self._queue.extend(scenarios)

    def next(self) -> Scenario:
        with self._lock:
            scenario = self._queue.popleft() if self._queue else self.default
        return scenario.with_(ledger=self.ledger)

    def __len__(self) -> int:
        return len(self._queue)


# -- helpers ------------------------------------------------------------------------------------


def _with_fault(text_: str, fault: Fault) -> Scenario:
    return text(text_).with_(fault=fault)


def _call(
    name: str, arguments: str | Mapping[str, Any], *, call_id: str | None, chunks: Chunks
) -> FunctionCallOutput:
    args = arguments if isinstance(arguments, str) else json.dumps(dict(arguments), separators=(",", ":"))
    return FunctionCallOutput(name=name, arguments=args, call_id=call_id, chunks=freeze_chunks(chunks))


def __getattr__(name: str) -> Any:
    # ``HTTPStatus`` shadowed ``http.HTTPStatus``; the old name still works, with a warning.
    if name == "HTTPStatus":
        warnings.warn(
            "openresponses.testing.HTTPStatus is deprecated; use StatusReply",
            DeprecationWarning,
            stacklevel=2,
        )
        return StatusReply
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
