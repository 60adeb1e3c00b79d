"""Scenarios: declarative descriptions of what a scripted server does for one request.

A :class:`Scenario` is a frozen value built with the constructor functions below (``text``,
``function_call``, ``status``, ``reset_mid_stream``, ...). It answers any request: a streaming
``create`` gets spec-ordered events (README §11) built with :class:`~openresponses._emit.EventBuilder`,
a non-streaming one the same final ``Response`` JSON, and ``/responses/compact`` a
``CompactResponse``. :meth:`Scenario.wire` turns it into the bytes and pauses to send, so the
loopback :class:`~openresponses.testing.ScriptedServer` and the in-process
:class:`~openresponses.testing.ScriptedTransport` play exactly the same thing.

A scenario taken from a :class:`ScenarioQueue` also knows the queue's :class:`ResponseLedger`:
the ids of the responses that server (or transport) has answered with. A request naming a
``previous_response_id`` it never issued gets the spec's 404 ``previous_response_not_found``,
as a real stateful server answers, so conformance checks and clients are tested against the
behaviour they will meet.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import re
import threading
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from .._emit import EventBuilder, emit_response, new_id
from .._emit_state import full_usage
from ..types import (
    CompactResponse,
    CompactResponseBody,
    CreateResponseBody,
    Response,
    StreamEvent,
)
from ._wire import Fault, Frame, StatusReply, Wire, json_wire, reset_wire, sse_wire, status_wire

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

Chunks: TypeAlias = "int | Sequence[str] | None"
"""How text is split into deltas: ``None`` by words, an ``int`` into that many pieces, or the pieces."""

Body: TypeAlias = "CreateResponseBody | CompactResponseBody | Mapping[str, Any] | None"


# -- outputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReasoningOutput:
    """A reasoning item: a streamed summary and/or raw reasoning text."""

    summary: str | None = None
    raw: str | None = None
    chunks: int | tuple[str, ...] | None = None
    #: The opaque blob a client gives back to continue the chain of thought (on ``output_item.done``).
    encrypted_content: str | None = None


@dataclass(frozen=True, slots=True)
class MessageOutput:
    """An assistant message with one ``output_text`` (or ``refusal``) part."""

    text: str
    chunks: int | tuple[str, ...] | None = None
    phase: str | None = None
    refusal: bool = False


@dataclass(frozen=True, slots=True)
class FunctionCallOutput:
    """A function call whose ``arguments`` stream as deltas."""

    name: str
    arguments: str
    call_id: str | None = None
    chunks: int | tuple[str, ...] | None = None


Output: TypeAlias = ReasoningOutput | MessageOutput | FunctionCallOutput


# -- the ledger of issued response ids ----------------------------------------------------------


class ResponseLedger:
    """The ids of the responses a scripted server has answered with (``store: false`` excluded).

    Thread-safe (a server may run in its own thread). Bounded: past ``limit`` ids the oldest are
    forgotten, so a long benchmark does not grow without bound.
    """

    def __init__(self, limit: int = 100_000) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, response_id: str) -> None:
        """Remember ``response_id`` as one that can be continued."""
        with self._lock:
            self._ids[response_id] = None
            self._ids.move_to_end(response_id)
            while len(self._ids) > self._limit:
                self._ids.popitem(last=False)

    def __contains__(self, response_id: object) -> bool:
        with self._lock:
            return response_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def previous_response_not_found(response_id: str) -> StatusReply:
    """The spec's 404 for an unknown ``previous_response_id`` (the body the library's store gives)."""
    return StatusReply(
        404,
        {
            "error": {
                "message": f"Previous response with id {response_id!r} not found.",
                "type": "not_found",
                "param": "previous_response_id",
                "code": "previous_response_not_found",
            }
        },
    )


# -- the scenario -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """What the server does for one request. Build with ``text(...)``, ``status(...)``, etc.

    Why frozen data rather than callbacks: a scenario can be pushed to the loopback server or
    to the in-process transport, replayed, compared, and printed in a failing test's output.
    Change one with :meth:`with_` (``text("Hi").with_(event_delay=0.1)``).
    """

    outputs: tuple[Output, ...] = ()
    ending: Literal["completed", "incomplete", "failed"] = "completed"
    incomplete_reason: str = "max_output_tokens"
    error_message: str = "The server had an error."
    error_code: str | None = "server_error"
    error_type: str = "server_error"
    usage: Mapping[str, Any] | None = None
    delay: float = 0.0
    event_delay: float = 0.0
    first_event_delay: float = 0.0
    http_status: StatusReply | None = None
    fault: Fault | None = None
    fixed: Response | None = None
    extension_events: bool = False
    model: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())
    #: Set by :class:`ScenarioQueue`: the issued response ids (``None``: no ``previous_response_id``
    #: check, e.g. for a scenario played directly). Not part of the scenario's identity.
    ledger: ResponseLedger | None = field(default=None, compare=False, repr=False)

    def with_(self, **changes: Any) -> Scenario:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -- what the server says -------------------------------------------------------------------

    def events(self, body: Body = None) -> list[StreamEvent]:
        """The complete, spec-ordered event stream for a streaming ``create`` (fresh ids each call)."""
        create = _create_body(body)
        if self.fixed is not None:
            return emit_response(self.fixed)
        builder = EventBuilder(create, model=self.model)
        builder.created()
        builder.in_progress()
        if self.extension_events:
            builder.extension("acme:trace", phase="start")
        last = len(self.outputs) - 1
        for position, output in enumerate(self.outputs):
            index = _emit_output(builder, output)
            if position < last or self.ending == "completed":
                builder.end_item(index)
            if self.extension_events:
                builder.extension("acme:trace", phase="item", output_index=index)
        usage = self._usage(create)
        if self.ending == "completed":
            builder.complete(usage=usage)
        elif self.ending == "incomplete":
            builder.incomplete(self.incomplete_reason, usage=usage)
        else:
            builder.fail(self.error_message, code=self.error_code, type=self.error_type)
        return builder.drain()

    def response(self, body: Body = None) -> Response:
        """The final ``Response`` (what a non-streaming request returns)."""
        if self.fixed is not None:
            return self.fixed
        final = self.events(body)[-1]
        return Response.model_validate(final.response.to_dict())  # type: ignore[union-attr]

    def compact_response(self, body: Body = None) -> CompactResponse:
        """The ``CompactResponse`` for ``POST /responses/compact``: one ``compaction`` item."""
        words = _count_words(_input_of(body))
        summary = json.dumps({"compacted_words": words, "at": time.time()}).encode()
        return CompactResponse.model_validate(
            {
                "id": new_id("cmp"),
                "object": "response.compaction",
                "output": [
                    {
                        "type": "compaction",
                        "id": new_id("cmp"),
                        "encrypted_content": base64.b64encode(summary).decode(),
                        "created_by": "server",
                    }
                ],
                "created_at": int(time.time()),
                "usage": _full_usage({"input_tokens": words, "output_tokens": max(1, words // 4)}),
            }
        )

    def wire(
        self,
        body: Body = None,
        *,
        operation: Literal["create", "compact"] = "create",
        stream: bool | None = None,
        send_done: bool = True,
    ) -> Wire:
        """What to send: status, headers, frames with their pauses, and how the body ends.

        With a :attr:`ledger`, an unknown ``previous_response_id`` is answered with the spec's
        404 instead (unless the scenario is itself an HTTP error or a reset: what a test
        scripts explicitly wins), and the id of each response sent is recorded.
        """
        if stream is None:
            stream = operation == "create" and _get(body, "stream") is True
        fault = self.fault
        if fault is not None and fault.kind == "reset_before_headers":
            return reset_wire(delay=self.delay)
        extra = tuple((k.lower(), v) for k, v in self.headers)
        if self.http_status is not None:
            return status_wire(self.http_status, delay=self.delay, headers=extra)
        ledger = self.ledger
        previous = _get(body, "previous_response_id")
        if ledger is not None and isinstance(previous, str) and previous not in ledger:
            return status_wire(previous_response_not_found(previous), delay=self.delay, headers=extra)
        if stream:
            events = self.events(body)
            self._remember(events[0].response.id if events else None, body)  # type: ignore[union-attr]
            return sse_wire(
                events,
                fault=fault,
                delay=self.delay,
                event_delay=self.event_delay,
                first_event_delay=self.first_event_delay,
                send_done=send_done,
                headers=extra,
            )
        reply: Response | CompactResponse
        if operation == "compact":
            reply = self.compact_response(body)  # a compaction is not a response: nothing to continue
        else:
            reply = self.response(body)
            self._remember(reply.id, body)
        data = reply.model_dump_json(exclude_unset=True, by_alias=True).encode()
        return json_wire(data, fault=fault, delay=self.delay, headers=extra)

    def _remember(self, response_id: Any, body: Body) -> None:
        if self.ledger is not None and isinstance(response_id, str) and _get(body, "store") is not False:
            self.ledger.add(response_id)

    def _usage(self, body: CreateResponseBody) -> dict[str, Any]:
        if self.usage is not None:
            return _full_usage(dict(self.usage))
        reasoning = 0
        output = 0
        for item in self.outputs:
            if isinstance(item, ReasoningOutput):
                reasoning += _count_words(item.summary) + _count_words(item.raw)
            elif isinstance(item, MessageOutput):
                output += _count_words(item.text)
            else:
                output += max(1, _count_words(item.arguments.replace('"', " ").replace(":", " ")))
        return _full_usage(
            {
                "input_tokens": _count_words(_input_of(body)),
                "output_tokens": output + reasoning,
                "output_tokens_details": {"reasoning_tokens": reasoning},
            }
        )


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
    outputs.append(MessageOutput(text=text, chunks=_freeze_chunks(chunks), phase=phase))
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
    return Scenario(outputs=(MessageOutput(text=text, chunks=_freeze_chunks(chunks), refusal=True),))


def incomplete(
    text: str = "The answer was cut", *, reason: str = "max_output_tokens", chunks: Chunks = None
) -> Scenario:
    """Text whose item ends ``incomplete``, then ``response.incomplete`` with ``reason``."""
    return Scenario(
        outputs=(MessageOutput(text=text, chunks=_freeze_chunks(chunks)),),
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
    return FunctionCallOutput(name=name, arguments=args, call_id=call_id, chunks=_freeze_chunks(chunks))


def _freeze_chunks(chunks: Chunks) -> int | tuple[str, ...] | None:
    if chunks is None or isinstance(chunks, int):
        return chunks
    return tuple(chunks)


def split(text: str, chunks: int | tuple[str, ...] | None, *, default_size: int | None = None) -> list[str]:
    """Split ``text`` into deltas: by words, into ``chunks`` pieces, or the given pieces."""
    if isinstance(chunks, tuple):
        if "".join(chunks) != text:
            raise ValueError(f"chunks {chunks!r} do not join to {text!r}")
        return list(chunks)
    if not text:
        return []
    if chunks is None and default_size is not None:
        return [text[i : i + default_size] for i in range(0, len(text), default_size)]
    if chunks is None:
        pieces: list[str] = re.findall(r"\s*\S+", text)
        if not pieces:
            return [text]
        pieces[-1] += text[len("".join(pieces)) :]
        return pieces
    size = max(1, math.ceil(len(text) / max(1, chunks)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _emit_output(builder: EventBuilder, output: Output) -> int:
    if isinstance(output, MessageOutput):
        index = builder.start_message(phase=output.phase)
        pieces = split(output.text, output.chunks)
        if output.refusal:
            builder.start_refusal(index)
            for piece in pieces:
                builder.refusal(index, piece)
        else:
            builder.start_text(index)
            for piece in pieces:
                builder.text(index, piece)
        return index
    if isinstance(output, FunctionCallOutput):
        index = builder.start_function_call(output.name, call_id=output.call_id)
        for piece in split(output.arguments, output.chunks, default_size=8):
            builder.arguments(index, piece)
        return index
    index = builder.start_reasoning()
    if output.encrypted_content is not None:
        builder.set_encrypted_content(index, output.encrypted_content)
    if output.summary is not None:
        builder.start_summary(index)
        for piece in split(output.summary, output.chunks):
            builder.summary(index, piece)
    if output.raw is not None:
        builder.start_reasoning_text(index)
        for piece in split(output.raw, output.chunks):
            builder.reasoning_text(index, piece)
    return index


def _full_usage(usage: dict[str, Any]) -> dict[str, Any]:
    filled = full_usage(usage)
    assert filled is not None
    return filled


def _count_words(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, Mapping):
        return sum(_count_words(value.get(key)) for key in ("text", "content", "output", "arguments"))
    if isinstance(value, Sequence):
        return sum(_count_words(part) for part in value)
    return 0


def _get(body: Body, key: str) -> Any:
    if body is None:
        return None
    if isinstance(body, Mapping):
        return body.get(key)
    return getattr(body, key, None)


def _input_of(body: Body) -> Any:
    value = _get(body, "input")
    if value is None or isinstance(value, str):
        return value
    return [item.to_dict() if hasattr(item, "to_dict") else item for item in value]


def _create_body(body: Body) -> CreateResponseBody:
    if isinstance(body, CreateResponseBody):
        return body
    if body is None:
        return CreateResponseBody()
    if isinstance(body, CompactResponseBody):
        return CreateResponseBody.model_validate(body.to_dict())
    return CreateResponseBody.model_validate(dict(body))


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
