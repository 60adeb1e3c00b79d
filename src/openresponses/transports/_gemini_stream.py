"""Gemini replies -> Open Responses events, sans I/O: ``streamGenerateContent?alt=sse`` streams
and whole ``generateContent`` bodies, through one state machine.

Every ``data:`` line of the stream is a whole ``GenerateContentResponse`` increment: no event
names, no ``[DONE]``; the stream ends at EOF. :class:`GeminiChunkTranslator` reads each one and
calls :class:`~openresponses._translate.StreamTranslator`. The rules, each a test:

- ``text`` parts are output text; ``thought: true`` parts are reasoning (Gemini returns thought
  *summaries*, so they are summary text); ``functionCall`` parts become ``function_call`` items,
  whole, or assembled from Vertex's ``partialArgs`` fragments (``jsonPath`` + value,
  ``willContinue``) and emitted when complete.
- A ``thoughtSignature`` is kept in ``encrypted_content`` (our envelope, see ``_gemini_contents``):
  of the ``function_call`` it came on, of the reasoning item of a thought part, or of a reasoning
  item placed after the message whose text part carried it.
- Calls without a Gemini ``id`` (most models) get a minted ``call_id``; the request side maps
  ``function_call_output`` back by name and order.
- ``usageMetadata`` is cumulative: the last one wins. Open Responses ``input_tokens`` =
  ``promptTokenCount`` (which includes cached tokens) + ``toolUsePromptTokenCount``;
  ``output_tokens`` = ``candidatesTokenCount`` + ``thoughtsTokenCount``; reasoning = thoughts;
  cached = ``cachedContentTokenCount``.
- The terminal event waits for EOF: ``finishReason`` mapped per :data:`FINISH_REASONS`; EOF with
  no ``finishReason`` is a cut stream (``ProtocolError``), never a completed response; a
  mid-stream ``{"error": {...}}`` chunk fails the response; ``promptFeedback.blockReason`` with
  no candidate is a refusal.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Literal

from .._emit import new_id
from .._errors import ProtocolError
from .._sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder
from .._translate import FinishReason, StreamTranslator
from ..types import CreateResponseBody, Response, StreamEvent
from ._gemini_args import PartialCall
from ._gemini_contents import signature_envelope
from ._gemini_errors import google_error

__all__ = [
    "FINISH_REASONS",
    "GeminiChunkTranslator",
    "GeminiStreamDecoder",
    "gemini_usage",
    "translate_generate_content",
]

logger = logging.getLogger("openresponses")

Outcome = Literal["stop", "length", "content_filter", "failed", "retryable"]

#: Every documented ``finishReason`` -> what the response becomes. ``failed``: the response
#: fails, not retryable (the request or the model's output is at fault); ``retryable``: it fails
#: as a model error another attempt may not repeat. Unknown reasons count as ``retryable``.
FINISH_REASONS: Mapping[str, Outcome] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "IMAGE_OTHER": "content_filter",
    "MODEL_ARMOR": "content_filter",
    "MALFORMED_FUNCTION_CALL": "failed",
    "UNEXPECTED_TOOL_CALL": "failed",
    "TOO_MANY_TOOL_CALLS": "failed",
    "MISSING_THOUGHT_SIGNATURE": "failed",
    "MALFORMED_RESPONSE": "failed",
    "NO_IMAGE": "failed",
    "OTHER": "retryable",
    "FINISH_REASON_UNSPECIFIED": "retryable",
}
_BLOCKED = "<prompt blocked>"  # our own marker: promptFeedback.blockReason without a candidate
_BOM = b"\xef\xbb\xbf"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _int(value: Any) -> int:
    return max(int(value), 0) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def gemini_usage(raw: Any) -> dict[str, Any] | None:
    """A ``usageMetadata`` object as an Open Responses usage mapping (``None`` when absent)."""
    if not isinstance(raw, Mapping):
        return None
    prompt = _int(raw.get("promptTokenCount")) + _int(raw.get("toolUsePromptTokenCount"))
    thoughts = _int(raw.get("thoughtsTokenCount"))
    output = _int(raw.get("candidatesTokenCount")) + thoughts
    return {
        "input_tokens": prompt,
        "output_tokens": output,
        "total_tokens": prompt + output,
        "input_tokens_details": {"cached_tokens": _int(raw.get("cachedContentTokenCount"))},
        "output_tokens_details": {"reasoning_tokens": thoughts},
    }


class GeminiChunkTranslator:
    """One Gemini reply's ``GenerateContentResponse`` chunks in, Open Responses events out.

    Call :meth:`feed` per chunk and :meth:`end` at EOF. After the terminal event everything is
    ignored. ``provider`` names the vendor in failure messages (``gemini`` or ``vertex``).
    """

    def __init__(self, body: CreateResponseBody | None = None, *, provider: str = "gemini") -> None:
        self._body = body
        self._provider = provider
        self._out: StreamTranslator | None = None
        self._finish: str | None = None
        self._finish_message: str | None = None
        self._usage: dict[str, Any] | None = None
        self._calls = 0
        self._segment = 0  # bumps whenever something other than thought text is emitted
        self._text_signature: str | None = None  # held until the open message closes
        self._partial: PartialCall | None = None
        self._skipped: set[str] = set()

    @property
    def finished(self) -> bool:
        """Whether the terminal event was emitted."""
        return self._out is not None and self._out.finished

    @property
    def response(self) -> Response | None:
        """The final response, once the terminal event was emitted."""
        return self._out.response if self._out is not None else None

    def snapshot(self) -> Response | None:
        """The response as translated so far."""
        return self._out.snapshot() if self._out is not None else None

    def _translator(self, chunk: Mapping[str, Any]) -> StreamTranslator:
        if self._out is None:
            response_id = chunk.get("responseId")
            model = chunk.get("modelVersion")
            self._out = StreamTranslator(
                self._body,
                response_id=f"resp_{response_id}"
                if isinstance(response_id, str) and _SAFE_ID.match(response_id)
                else None,
                model=model if isinstance(model, str) and model else None,
            )
        return self._out

    # -- chunks ---------------------------------------------------------------------------------

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        """The events one parsed ``GenerateContentResponse`` produces."""
        if self.finished:
            return []
        out = self._translator(chunk)
        events = out.start()
        error = chunk.get("error")
        if error is not None:  # a mid-stream failure: the stream is over, whatever follows
            problem = google_error(error)
            return events + out.fail(problem.message, code=problem.code, type=problem.type, usage=self._usage)
        usage = gemini_usage(chunk.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        candidates = chunk.get("candidates")
        candidate = _first(candidates)
        if candidate is None:
            feedback = chunk.get("promptFeedback")
            reason = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
            if isinstance(reason, str) and reason and self._finish is None:
                detail = feedback.get("blockReasonMessage") if isinstance(feedback, Mapping) else None
                text = f"Gemini blocked the prompt ({reason})" + (
                    f": {detail}" if isinstance(detail, str) else ""
                )
                self._finish = _BLOCKED
                events += out.refusal(text)
            return events
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, Mapping) else None
        if isinstance(parts, list):
            for part in parts:
                if isinstance(part, Mapping):
                    events += self._part(out, part)
        finish = candidate.get("finishReason")
        if isinstance(finish, str) and finish:
            self._finish = finish
            message = candidate.get("finishMessage")
            self._finish_message = message if isinstance(message, str) and message else None
        return events

    def _part(self, out: StreamTranslator, part: Mapping[str, Any]) -> list[StreamEvent]:
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) and signature else None
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            return self._function_call(out, call, signature)
        if self._partial is not None:
            return self._flush_partial(out) + self._part(out, part)
        text = part.get("text")
        if part.get("thought") is True:
            events: list[StreamEvent] = self._seal(out)  # thoughts after text: the message closes
            key = ("thought", self._segment)
            if isinstance(text, str) and text:
                events += out.reasoning(text, key=key, summary=True)
            if signature is not None:
                events += out.reasoning_signature(signature_envelope("thought", signature), key=key)
            return events
        if isinstance(text, str):
            events = []
            if text:
                self._segment += 1
                events = out.text(text)
            if signature is not None:
                self._text_signature = signature  # the message may go on: sealed when it closes
            return events
        kind = next((key for key in part if key != "thoughtSignature"), "empty")
        if kind not in self._skipped:
            self._skipped.add(kind)
            logger.warning("%s: response part %r is not translated (dropped)", self._provider, kind[:64])
        return []

    def _seal(self, out: StreamTranslator) -> list[StreamEvent]:
        """A held text-part signature becomes a reasoning item after its message."""
        signature, self._text_signature = self._text_signature, None
        if signature is None:
            return []
        self._segment += 1
        return out.reasoning_signature(signature_envelope("text", signature), key=("text", self._segment))

    def _function_call(
        self, out: StreamTranslator, call: Mapping[str, Any], signature: str | None
    ) -> list[StreamEvent]:
        name = call.get("name")
        gemini_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        fragments = call.get("partialArgs")
        streaming = isinstance(fragments, list) or call.get("willContinue") is True
        partial = self._partial
        if streaming or (partial is not None and not name):
            # Vertex's streamed arguments: the first fragment names the call, the last one
            # (``willContinue`` false, possibly an empty ``functionCall``) completes it.
            if partial is None or (isinstance(name, str) and name and partial.name and name != partial.name):
                events = self._flush_partial(out)
                partial = self._partial = PartialCall()
            else:
                events = []
            if isinstance(name, str) and name and partial.name is None:
                partial.name = name
            partial.gemini_id = partial.gemini_id or gemini_id
            partial.signature = partial.signature or signature
            for fragment in fragments if isinstance(fragments, list) else ():
                if isinstance(fragment, Mapping):
                    partial.add(fragment)
            if call.get("willContinue") is not True:
                events += self._flush_partial(out)
            return events
        events = self._flush_partial(out)
        if not isinstance(name, str) or not name:
            raise ProtocolError(
                f"{self._provider} sent a functionCall without a name", response=self.snapshot()
            )
        args = call.get("args")
        return events + self._emit_call(
            out, name, gemini_id, signature, args if isinstance(args, Mapping) else {}
        )

    def _flush_partial(self, out: StreamTranslator) -> list[StreamEvent]:
        partial, self._partial = self._partial, None
        if partial is None:
            return []
        if not partial.name:
            raise ProtocolError(
                f"{self._provider} streamed function call arguments without a name", response=self.snapshot()
            )
        return self._emit_call(out, partial.name, partial.gemini_id, partial.signature, partial.arguments())

    def _emit_call(
        self,
        out: StreamTranslator,
        name: str,
        gemini_id: str | None,
        signature: str | None,
        args: Mapping[str, Any],
    ) -> list[StreamEvent]:
        events = self._seal(out)
        self._segment += 1
        key = ("call", self._calls)
        self._calls += 1
        usable = gemini_id is not None and len(gemini_id) <= 64
        call_id = gemini_id if usable else new_id("call")
        blob = signature_envelope("call", signature, call_id=gemini_id) if signature or gemini_id else None
        arguments = json.dumps(args, ensure_ascii=False, separators=(",", ":"))
        events += out.tool_call(key, name=name, call_id=call_id, arguments=arguments, encrypted_content=blob)
        return events + out.close(key)  # Gemini sends a call whole: it is done now

    # -- the end --------------------------------------------------------------------------------

    def end(self, *, whole: bool = False) -> list[StreamEvent]:
        """EOF: emit the terminal event. ``ProtocolError`` when no ``finishReason`` came (the
        stream was cut); ``whole`` bodies cannot be cut, so there a missing reason is ``STOP``."""
        if self.finished:
            return []
        finish = self._finish or ("STOP" if whole and self._out is not None else None)
        if self._out is None or finish is None:
            raise ProtocolError(
                f"{self._provider} ended the stream without a finishReason (the stream was cut)",
                response=self.snapshot(),
            )
        out = self._out
        events = self._flush_partial(out) + self._seal(out)
        if finish == _BLOCKED:
            return events + out.finish("refusal", usage=self._usage)
        outcome = FINISH_REASONS.get(finish)
        if outcome is None:
            logger.warning("%s: unknown finishReason %r treated as a failure", self._provider, finish[:64])
            outcome = "retryable"
        if outcome in ("failed", "retryable"):
            detail = f": {self._finish_message}" if self._finish_message else ""
            return events + out.fail(
                f"{self._provider} stopped with finishReason {finish}{detail}",
                code=finish.lower()[:64],
                type="invalid_request" if outcome == "failed" else "model_error",
                usage=self._usage,
            )
        reason: FinishReason = "length" if outcome == "length" else "content_filter"
        if outcome == "stop":
            reason = "tool_calls" if self._calls else "stop"
        return events + out.finish(reason, usage=self._usage)


def _first(candidates: Any) -> Mapping[str, Any] | None:
    """Candidate 0 (one candidate is all a response has)."""
    if not isinstance(candidates, list) or not candidates:
        return None
    for candidate in candidates:
        if isinstance(candidate, Mapping) and candidate.get("index", 0) == 0:
            return candidate
    first = candidates[0]
    return first if isinstance(first, Mapping) else None


class GeminiStreamDecoder:
    """The Gemini dialects' ``StreamDecoder``: SSE bytes -> chunks -> Open Responses events.

    A ``data:`` line that is not a JSON object raises ``ProtocolError`` whose ``events`` are the
    good events before it; EOF without a ``finishReason`` raises ``ProtocolError`` too.
    """

    __slots__ = ("_chunks", "_sse")

    def __init__(
        self,
        body: CreateResponseBody | None = None,
        *,
        provider: str = "gemini",
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._sse = SSEDecoder(max_event_size=max_event_size)
        self._chunks = GeminiChunkTranslator(body, provider=provider)

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events the bytes ``chunk`` completed."""
        events: list[StreamEvent] = []
        for sse in self._sse.feed(chunk):
            data = sse.data.strip()
            if not data:
                continue
            try:
                events += self._chunks.feed(_parse(data, self._chunks))
            except ProtocolError as exc:
                exc.events = events + exc.events
                raise
        return events

    def close(self) -> list[StreamEvent]:
        """EOF: the terminal event, or ``ProtocolError`` when the stream was cut."""
        events: list[StreamEvent] = []
        if self._sse.pending.strip():
            events = self.feed(b"\n\n")  # a last event without its blank line: complete it
        try:
            return events + self._chunks.end()
        except ProtocolError as exc:
            exc.events = events + exc.events
            raise


def _parse(data: bytes, chunks: GeminiChunkTranslator) -> Mapping[str, Any]:
    try:
        parsed = json.loads(data if data[:3] == _BOM else data.decode("utf-8", "surrogatepass"))
    except ValueError as exc:
        raise ProtocolError(
            f"Invalid JSON in a Gemini stream chunk: {exc}", data=data, response=chunks.snapshot()
        ) from None
    if isinstance(parsed, list) and len(parsed) == 1:
        parsed = parsed[0]  # a bare error array, as a stream without alt=sse sends it
    if not isinstance(parsed, dict):
        raise ProtocolError(
            "A Gemini stream chunk is not a JSON object", data=data, response=chunks.snapshot()
        )
    return parsed


def translate_generate_content(
    data: bytes, body: CreateResponseBody | None = None, *, provider: str = "gemini"
) -> tuple[Response, list[StreamEvent]]:
    """A whole ``generateContent`` body as a ``Response`` (and the events it amounts to)."""
    try:
        parsed = json.loads(data.strip() or b"null")
    except ValueError as exc:
        raise ProtocolError(f"Invalid {provider} generateContent body: {exc}", data=data) from None
    if not isinstance(parsed, dict):
        raise ProtocolError(f"The {provider} generateContent body is not a JSON object", data=data)
    machine = GeminiChunkTranslator(body, provider=provider)
    events = machine.feed(parsed)
    if not machine.finished and _first(parsed.get("candidates")) is None and machine._finish is None:
        raise ProtocolError(f"The {provider} generateContent body has no candidates", data=data)
    events += machine.end(whole=True)
    response = machine.response
    assert response is not None
    return response, events
