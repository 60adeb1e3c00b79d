"""The :class:`Scenario` value and the :class:`ResponseLedger` it consults.

A scenario answers any request: a streaming ``create`` gets spec-ordered events (README §11)
built with :class:`~openresponses._emit.EventBuilder`, a non-streaming one the same final
``Response`` JSON, and ``/responses/compact`` a ``CompactResponse``. :meth:`Scenario.wire` turns
it into the bytes and pauses to send. With a ledger (set by a ``ScenarioQueue``) an unknown
``previous_response_id`` gets the spec's 404 ``previous_response_not_found``, as a real
stateful server answers. The constructor functions that build scenarios are in ``_script``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
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
from ._outputs import MessageOutput, Output, ReasoningOutput, emit_output
from ._wire import Fault, StatusReply, Wire, json_wire, reset_wire, sse_wire, status_wire

__all__ = ["Body", "ResponseLedger", "Scenario", "previous_response_not_found"]

Body: TypeAlias = "CreateResponseBody | CompactResponseBody | Mapping[str, Any] | None"


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
            index = emit_output(builder, output)
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


# -- helpers ------------------------------------------------------------------------------------


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
