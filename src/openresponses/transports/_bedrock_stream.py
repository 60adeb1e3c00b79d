"""Bedrock replies -> Open Responses events, sans I/O: event-stream bodies and whole bodies.

A ConverseStream body is ``application/vnd.amazon.eventstream``: binary messages, each a
prelude (total length, headers length, CRC32), typed headers, a payload and a message CRC32.
:class:`BedrockStreamDecoder` feeds the body's chunks, as they come, to botocore's own parser
(``botocore.eventstream.EventStreamBuffer``, which checks both CRCs) and each complete message
to :class:`~._bedrock_events.ConverseEventTranslator`. A bad CRC or a malformed prelude is a
:class:`~openresponses.ProtocolError` carrying the good events decoded before it; a body that
ends inside a message, or before ``messageStop``, is one too.
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import ProtocolError
from ..types import CreateResponseBody, Response, StreamEvent
from ._bedrock_auth import import_botocore
from ._bedrock_events import ConverseEventTranslator, converse_response_events

__all__ = ["BedrockStreamDecoder", "converse_body_to_response"]


def _eventstream() -> Any:
    import_botocore()  # the one-line "bedrock extra" error when botocore is missing
    import botocore.eventstream

    return botocore.eventstream


class BedrockStreamDecoder:
    """The ``StreamDecoder`` of the bedrock-converse dialect: event-stream bytes -> events."""

    __slots__ = ("_buffer", "_consumed", "_errors", "_fed", "machine")

    def __init__(self, body: CreateResponseBody | None = None, *, summary: bool = True) -> None:
        module = _eventstream()
        self._buffer = module.EventStreamBuffer()
        self._errors: type[Exception] = module.ParserError
        self._fed = 0
        self._consumed = 0
        #: The translator (public for tests: its snapshot is the partial response).
        self.machine = ConverseEventTranslator(body, summary=summary)

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events the bytes ``chunk`` completed (messages may span chunks)."""
        if not chunk:
            return []
        self._fed += len(chunk)
        self._buffer.add_data(chunk)
        events: list[StreamEvent] = []
        try:
            for message in self._buffer:
                self._consumed += message.prelude.total_length
                events += self.machine.message(message.headers, message.payload)
        except self._errors as exc:
            error = ProtocolError(
                f"Malformed Bedrock event-stream message: {type(exc).__name__}: {exc}",
                data=chunk,
                response=self.machine.snapshot(),
            )
            error.events = events
            raise error from None
        except ProtocolError as exc:
            exc.events = events + exc.events
            raise
        return events

    def close(self) -> list[StreamEvent]:
        """The end of the body: the held terminal event, or ``ProtocolError`` if it was cut."""
        if self._fed != self._consumed and not self.machine.finished:
            raise ProtocolError(
                f"the Bedrock stream ended inside an event-stream message ({self._fed - self._consumed} "
                "bytes of an incomplete message)",
                response=self.machine.snapshot(),
            )
        return self.machine.end()


def converse_body_to_response(
    data: bytes, body: CreateResponseBody | None = None, *, summary: bool = True
) -> tuple[Response, list[StreamEvent]]:
    """A whole ``/converse`` JSON body as a ``Response`` (and the events it amounts to)."""
    try:
        parsed = json.loads(data) if data.strip() else None
    except ValueError as exc:
        raise ProtocolError(f"Invalid Bedrock Converse body: {exc}", data=data) from None
    if not isinstance(parsed, dict):
        raise ProtocolError("The Bedrock Converse body is not a JSON object", data=data)
    machine, events = converse_response_events(parsed, body, summary=summary)
    response = machine.response
    assert response is not None
    return response, events
