"""Chat Completions replies -> Open Responses events, sans I/O: SSE streams and whole bodies.

:class:`ChatStreamDecoder` is the chat dialect's ``StreamDecoder`` (SSE bytes via the shared
WHATWG decoder -> JSON chunks -> :class:`~._chat_chunks.ChatChunkTranslator`), and
:func:`chat_completion_to_response` feeds a whole non-stream body through the very same
machine, so both paths agree by construction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .._built import message_response
from .._emit_state import full_usage, new_id, response_skeleton
from .._errors import ProtocolError
from .._json_bytes import loads as loads_json
from .._json_bytes import loads_utf8
from .._sse import SSEDecoder
from ..types import CreateResponseBody, Response, StreamEvent
from ._chat_chunks import STOP_FINISHES, ChatChunkTranslator, ChatStreamOptions, ReasoningField
from ._chat_reads import chat_usage, chunk_origin, chunk_usage, first_choice
from ._chat_think import THINK_TAGS

__all__ = [
    "ChatChunkTranslator",
    "ChatStreamDecoder",
    "ChatStreamOptions",
    "ReasoningField",
    "chat_completion_to_response",
    "chat_usage",
    "completion_json",
    "plain_completion",
    "translate_completion",
]


class ChatStreamDecoder:
    """The chat dialect's ``StreamDecoder``: SSE bytes -> chunks -> Open Responses events.

    Keep-alive comments (``: OPENROUTER PROCESSING``) are dropped by the SSE decoder; ``[DONE]``
    ends the stream (anything after it is ignored); a data line that is not a JSON object raises
    ``ProtocolError`` whose ``events`` are the good events before it.
    """

    __slots__ = ("_chunks", "_done", "_require_done", "_sse")

    def __init__(self, body: CreateResponseBody | None = None, *, options: ChatStreamOptions | None = None):
        self._sse = SSEDecoder()
        self._chunks = ChatChunkTranslator(body, options=options)
        self._done = False
        self._require_done = options is not None and options.require_done

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events the bytes ``chunk`` completed."""
        events: list[StreamEvent] = []
        for sse in self._sse.feed(chunk):
            if self._done:
                break
            data = sse.data.strip()
            try:
                if data == b"[DONE]":
                    self._done = True
                    events += self._chunks.end()
                elif data:
                    events += self._chunks.feed(self._parse(data))
            except ProtocolError as exc:
                exc.events = events + exc.events
                raise
        return events

    def _parse(self, data: bytes) -> Mapping[str, Any]:
        try:
            parsed = loads_utf8(data)  # SSE is UTF-8: json.loads(bytes) minus its encoding sniffing
        except ValueError as exc:
            raise ProtocolError(
                f"Invalid JSON in a chat completion chunk: {exc}", data=data, response=self._chunks.snapshot()
            ) from None
        if not isinstance(parsed, dict):
            raise ProtocolError(
                "A chat completion chunk is not a JSON object", data=data, response=self._chunks.snapshot()
            )
        return parsed

    def close(self) -> list[StreamEvent]:
        """The end of the body: the held terminal event, or ``ProtocolError`` if the stream was cut."""
        events: list[StreamEvent] = []
        if not self._done and self._sse.pending.strip():
            # A last event without its blank line (``data: [DONE]\\n``): complete rather than drop it.
            events = self.feed(b"\n\n")
        if self._done:
            return events
        self._done = True
        try:
            if self._require_done and not self._chunks.finished:
                raise ProtocolError(
                    "upstream ended the stream without [DONE], which it always sends: the stream was cut",
                    response=self._chunks.snapshot(),
                )
            return events + self._chunks.end()
        except ProtocolError as exc:
            exc.events = events + exc.events
            raise


def chat_completion_to_response(
    data: bytes | Mapping[str, Any],
    body: CreateResponseBody | None = None,
    *,
    options: ChatStreamOptions | None = None,
) -> Response:
    """A non-stream ``chat.completion`` body as a ``Response``, through the stream's own machine.

    Leading blank lines (DeepSeek's keep-alive under load) are fine. A body with a top-level
    ``error`` (OpenRouter answers 200 with one) becomes a ``failed`` response.
    """
    return translate_completion(data, body, options=options)[0]


def completion_json(raw: bytes) -> Any:
    """A whole body's JSON (any value); ``ProtocolError`` (with the bytes) if it is not JSON."""
    try:
        return loads_json(raw.strip() or b"null")
    except ValueError as exc:
        raise ProtocolError(f"Invalid chat completion body: {exc}", data=raw) from None


def translate_completion(
    data: bytes | Mapping[str, Any],
    body: CreateResponseBody | None = None,
    *,
    options: ChatStreamOptions | None = None,
    raw: bytes | None = None,
) -> tuple[Response, list[StreamEvent]]:
    """:func:`chat_completion_to_response` plus the events the body amounts to (as if streamed).

    ``data`` may be the parsed body (:func:`completion_json`), ``raw`` then its bytes for errors.
    """
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
        parsed = completion_json(raw)
    else:
        parsed = data
    raw = raw or b""
    if not isinstance(parsed, Mapping):
        raise ProtocolError("The chat completion body is not a JSON object", data=raw)
    chunk = dict(parsed)
    choices = chunk.get("choices")
    if isinstance(choices, list):
        chunk["choices"] = [_as_delta(choice) for choice in choices]
    machine = ChatChunkTranslator(body, options=options)
    events = machine.feed(chunk)
    if not machine.finished and first_choice(chunk.get("choices")) is None:
        raise ProtocolError("The chat completion body has no choices", data=raw)
    # A whole body cannot be cut short, so a missing finish_reason on a present choice is a stop.
    events += machine.end(default_finish="stop")
    response = machine.response
    assert response is not None
    return response, events


def _as_delta(choice: Any) -> Any:
    """A non-stream choice as a stream chunk's choice: ``message`` -> ``delta``, calls indexed."""
    if not isinstance(choice, Mapping) or not isinstance(choice.get("message"), Mapping):
        return choice
    message = dict(choice["message"])
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        message["tool_calls"] = [
            {"index": position, **call} if isinstance(call, Mapping) and "index" not in call else call
            for position, call in enumerate(calls)
        ]
    return {**choice, "delta": message}


#: The message fields the machine reads besides ``content``: a plain reply has none of them.
_NOT_PLAIN = ("reasoning_details", "reasoning", "reasoning_content", "refusal", "tool_calls")


def plain_completion(
    data: Any,
    body: CreateResponseBody | None = None,
    *,
    options: ChatStreamOptions | None = None,
) -> Response | None:
    """The commonest whole body, one text answer that ended normally, as the same ``Response`` the
    machine gives (:func:`translate_completion`), without its nine events; ``None`` for anything
    else (reasoning, tool calls, a refusal, ``<think>`` tags, a cut or failed reply, ...), which
    must go through the machine. ``data`` is the body's bytes or its parsed JSON
    (:func:`completion_json`).

    Why: on the proxy's non-streamed path the machine was about a tenth of the CPU of a request,
    most of it building and validating events nobody reads. ``tests/transports/test_chat_plain.py``
    checks, over generated bodies, that this answers exactly as the machine or not at all.
    """
    if isinstance(data, bytes | bytearray):
        try:
            parsed = loads_json(data)
        except ValueError:
            return None  # the machine names the problem
    else:
        parsed = data  # already parsed (completion_json): any JSON value
    if type(parsed) is not dict or parsed.get("error"):
        return None
    choice = first_choice(parsed.get("choices"))
    if choice is None:
        return None
    message = choice.get("message")
    if type(message) is not dict or any(message.get(name) for name in _NOT_PLAIN):
        return None
    content = message.get("content")
    if type(content) is not str or not content:
        return None
    opts = options if options is not None else ChatStreamOptions()
    if opts.think_tags and (opts.think_open or content.lstrip().startswith(THINK_TAGS)):
        return None  # reasoning in <think> tags (the splitter reads only the start of the content)
    finish = choice.get("finish_reason")
    if finish and (type(finish) is not str or finish not in STOP_FINISHES):
        return None
    model, created = chunk_origin(parsed)
    now = int(time.time())
    response_id, message_id, usage = new_id("resp"), new_id("msg"), full_usage(chunk_usage(parsed))
    built = message_response(
        body,
        response_id=response_id,
        message_id=message_id,
        text=content,
        model=model,
        created_at=created if created is not None else now,
        completed_at=now,
        usage=usage,
    )
    if built is not None:
        return built
    skeleton = response_skeleton(body, id=response_id, model=model, created_at=created)
    item = {
        "type": "message",
        "id": message_id,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": content, "annotations": []}],
    }
    data = dict(skeleton, status="completed", output=[item], usage=usage, completed_at=now)
    return Response.model_validate(data)
