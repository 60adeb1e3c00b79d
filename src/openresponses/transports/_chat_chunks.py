"""Chat Completions chunks -> Open Responses events: the state machine, sans I/O.

:class:`ChatChunkTranslator` takes one chat completion's chunks (parsed dicts) and calls
:class:`~openresponses._translate.StreamTranslator`, which owns numbering, item order and the
terminal response; this module only knows where each provider puts things (PROVIDERS.md). The
stream decoder and the whole-body parser in ``_chat_stream`` both drive it, so streamed and
non-stream replies agree by construction.

The rules that are easy to get wrong, each a test:

- The terminal event waits for ``[DONE]`` or the end of the body (:meth:`~ChatChunkTranslator.end`):
  usage arrives *after* the finish chunk (a ``choices: []`` chunk), *on* it (Together, Groq
  ``x_groq.usage``) or never; the last value seen wins (vLLM's continuous usage is cumulative).
- A body that ends without a ``finish_reason`` (Ollama closes the socket on a mid-stream error)
  raises ``ProtocolError``: a cut stream is never reported as a completed response.
- Every chunk is checked for a top-level ``error`` before it is read as a chunk; anything after
  the failure (vLLM and TGI send ``[DONE]`` after an error) is ignored.
- ``finish_reason: "insufficient_system_resource"`` (DeepSeek cut the generation for capacity)
  and ``"error"`` (OpenRouter) fail the response with a ``server_error``, so Retry and Failover
  treat them as a server fault; LiteLLM reports the first as ``stop``, hiding the truncation.
- Reasoning is read from one of ``reasoning_details``, ``reasoning``, ``reasoning_content`` per
  chunk (aliases repeat the text) and from ``<think>`` tags at the start of ``content``.
- Tool calls are keyed by ``index``, falling back to ``id``; a new non-empty ``id`` at a used
  index is a new call (Ollama before 0.20.6 sent every parallel call at index 0); names are
  never overwritten or concatenated (old LM Studio appended an empty one); arguments that
  arrive before the name are held until it comes; empty or repeated upstream ids are replaced.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import ProtocolError
from .._translate import FinishReason, StreamTranslator
from ..types import CreateResponseBody, Response, StreamEvent
from ._chat_errors import ChatError, normalize_error
from ._chat_messages import call_envelope, reasoning_envelope
from ._chat_reads import chunk_origin, chunk_usage, first_choice, is_mapping, json_get
from ._chat_think import Piece, ThinkSplitter

__all__ = [
    "STOP_FINISHES",
    "ChatChunkTranslator",
    "ChatStreamOptions",
    "ReasoningField",
]

logger = logging.getLogger("openresponses")

ReasoningField = Literal["auto", "reasoning_content", "reasoning", "reasoning_details"]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",  # Together
    "stop_sequence": "stop",  # TGI passes it through
    "end_turn": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",  # deprecated OpenAI spelling
    "length": "length",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "SAFETY": "content_filter",
}
#: The finish reasons that end a response ``completed`` as a plain stop.
STOP_FINISHES = frozenset(name for name, reason in _FINISH.items() if reason == "stop")
_FAILURES: dict[str, str] = {
    "insufficient_system_resource": (
        "the upstream cut the generation short for lack of capacity "
        "(finish_reason 'insufficient_system_resource')"
    ),
    "error": "the upstream reported an error (finish_reason 'error')",
}


# OpenRouter ``reasoning_details`` entry type -> the key holding its payload.
_DETAIL_FIELDS = {"reasoning.text": "text", "reasoning.summary": "summary", "reasoning.encrypted": "data"}


@dataclass(frozen=True, slots=True)
class ChatStreamOptions:
    """Where a preset's upstream puts reasoning; mirrors the dialect's constructor options.

    ``carry_reasoning`` puts the raw reasoning of each reasoning item into its
    ``encrypted_content`` (a small JSON envelope), so it survives being sent back as input
    (input reasoning items cannot carry ``content``) for upstreams that want it back.
    """

    reasoning_field: ReasoningField = "auto"
    think_tags: bool = True
    think_open: bool = False
    carry_reasoning: bool = False
    #: With ``carry_reasoning``: also keep OpenRouter's ``reasoning_details`` entries whole
    #: (streamed fragments merged by ``index``) in the envelope, to be sent back unchanged.
    carry_details: bool = False
    #: The upstream always sends ``[DONE]``: a body ending without it was cut.
    require_done: bool = False


@dataclass(slots=True)
class _Call:
    key: int
    call_id: str | None
    name: str | None = None
    held: list[str] = field(default_factory=list)  # arguments that came before the name
    opened: bool = False
    extra: str | None = None  # its ``extra_content`` in our envelope (Gemini's thought signature)


class ChatChunkTranslator:
    """One chat completion's chunks in, Open Responses events out (all numbered by the translator).

    Call :meth:`feed` per chunk and :meth:`end` at ``[DONE]`` or the end of the body. After the
    terminal event everything is ignored.
    """

    def __init__(self, body: CreateResponseBody | None = None, *, options: ChatStreamOptions | None = None):
        self._body = body
        self._opts = options if options is not None else ChatStreamOptions()
        self._out: StreamTranslator | None = None
        self._think = ThinkSplitter(open=self._opts.think_open) if self._opts.think_tags else None
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}
        self._by_id: dict[str, _Call] = {}
        self._used_ids: set[str] = set()
        self._reasoning: list[str] = []  # raw reasoning of the open reasoning item (for the envelope)
        self._signed = False  # the open reasoning item already has an upstream signature
        self._details: list[dict[str, Any]] = []  # its reasoning_details entries (carry_details)

    # -- state ----------------------------------------------------------------------------------

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
            model, created = chunk_origin(chunk)
            self._out = StreamTranslator(self._body, model=model, created_at=created)
        return self._out

    # -- chunks ---------------------------------------------------------------------------------

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        """The events one chunk (a parsed ``chat.completion.chunk``) produces."""
        if self.finished:
            return []  # after a failure: vLLM and TGI still send [DONE], OpenRouter more chunks
        out = self._out if self._out is not None else self._translator(chunk)
        events = out.start()
        error = chunk.get("error")
        if error:  # before anything else: an error chunk may also carry choices (OpenRouter)
            return events + self._fail(normalize_error(error))
        usage = chunk_usage(chunk)
        if usage is not None:
            self._usage = usage  # cumulative when sent on every chunk: the last one wins
        choice = first_choice(chunk.get("choices"))
        if choice is None:
            return events
        delta = choice.get("delta")
        if not is_mapping(delta):
            delta = choice.get("message")
        if is_mapping(delta):
            events += self._delta(out, delta)
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            if finish in _FAILURES:
                events += self._fail(ChatError(_FAILURES[finish], "server_error", "server_error"))
            else:
                self._finish = finish
        return events

    def _delta(self, out: StreamTranslator, delta: Mapping[str, Any]) -> list[StreamEvent]:
        events = self._reasoning_fields(out, delta)
        content = delta.get("content")
        if isinstance(content, list):  # a few servers send content parts even when streaming
            content = "".join(str(json_get(part, "text") or "") for part in content)
        if isinstance(content, str) and content:
            pieces: list[Piece] = (
                self._think.feed(content) if self._think is not None else [("text", content)]
            )
            events += self._pieces(out, pieces)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            events += self._flush_think(out) + self._seal(out) + out.refusal(refusal)
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, Mapping):
                    events += self._tool_call(out, call)
        return events

    def _reasoning_fields(self, out: StreamTranslator, delta: Mapping[str, Any]) -> list[StreamEvent]:
        mode = self._opts.reasoning_field
        events: list[StreamEvent] = []
        from_details = False
        details = delta.get("reasoning_details") if mode in ("auto", "reasoning_details") else None
        if isinstance(details, list):
            carry = self._opts.carry_details
            for detail in details:
                if carry and isinstance(detail, dict):
                    self._keep_detail(detail)
                kind = json_get(detail, "type")
                value = json_get(detail, _DETAIL_FIELDS[kind]) if kind in _DETAIL_FIELDS else None
                if not (isinstance(value, str) and value):
                    continue
                if kind == "reasoning.encrypted" and not carry:
                    events += out.reasoning_signature(value)
                    self._signed = True
                elif kind == "reasoning.encrypted":
                    # Carried in the envelope, written when the item closes (_seal). A redacted
                    # block may be all the item holds: open it now, and mark it as held.
                    events += out.reasoning_signature(reasoning_envelope("", self._details))
                    self._reasoning.append("")
                else:
                    events += self._reason(out, value, summary=kind == "reasoning.summary")
                    from_details = True
        if mode == "auto" and not from_details:
            # Two alias fields may carry the same text (vLLM's rename, OpenRouter): take one.
            text = delta.get("reasoning")
            if not (isinstance(text, str) and text):
                text = delta.get("reasoning_content")
        elif mode in ("reasoning", "reasoning_content"):
            text = delta.get(mode)
        else:
            text = None
        if isinstance(text, str) and text:
            events += self._reason(out, text)
        return events

    def _keep_detail(self, detail: dict[str, Any]) -> None:
        """Merge one streamed ``reasoning_details`` entry into the open item's: fragments of the
        same ``index`` and type are one entry (text and summary joined, the rest last-wins)."""
        index, kind = detail.get("index"), detail.get("type")
        for kept in self._details if index is not None else ():
            if kept.get("index") == index and kept.get("type") == kind:
                for key, value in detail.items():
                    if key in ("text", "summary") and isinstance(value, str):
                        kept[key] = f"{kept.get(key) or ''}{value}"
                    elif value is not None:
                        kept[key] = value
                return
        self._details.append(dict(detail))

    def _reason(self, out: StreamTranslator, text: str, *, summary: bool = False) -> list[StreamEvent]:
        if not summary:
            self._reasoning.append(text)
        return out.reasoning(text, summary=summary)

    def _pieces(self, out: StreamTranslator, pieces: list[Piece]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for kind, text in pieces:
            if kind == "reasoning":
                events += self._reason(out, text)
            else:
                events += self._seal(out) + out.text(text)
        return events

    def _flush_think(self, out: StreamTranslator) -> list[StreamEvent]:
        """Release held content before something that is not content (a call, a refusal, the end)."""
        return self._pieces(out, self._think.flush()) if self._think is not None else []

    def _seal(self, out: StreamTranslator) -> list[StreamEvent]:
        """Before the open reasoning item closes: give it its envelope (``carry_reasoning``)."""
        if not self._reasoning:  # called before every text piece: nothing held, nothing to reset
            self._signed = False
            return []
        text, signed, details = "".join(self._reasoning), self._signed, self._details
        self._reasoning, self._signed, self._details = [], False, []
        if details:  # carry_details: the entries as they came, the signatures with them
            return out.reasoning_signature(reasoning_envelope(text, details))
        if not text or signed or not self._opts.carry_reasoning:
            return []
        return out.reasoning_signature(reasoning_envelope(text))

    # -- tool calls -----------------------------------------------------------------------------

    def _tool_call(self, out: StreamTranslator, delta: Mapping[str, Any]) -> list[StreamEvent]:
        index = delta.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            index = None
        raw_id = delta.get("id")
        call_id = raw_id if isinstance(raw_id, str) and raw_id else None
        function = delta.get("function")
        name = json_get(function, "name")
        arguments = json_get(function, "arguments")
        if isinstance(arguments, dict | list):  # a few servers send the arguments as an object
            arguments = json.dumps(arguments, ensure_ascii=False)
        arguments = arguments if isinstance(arguments, str) else ""
        call = self._resolve(index, call_id)
        extra = delta.get("extra_content")
        carried = False
        if isinstance(extra, dict) and extra and call.extra is None:
            call.extra = call_envelope(extra)  # kept whole; sent back with call_extra_content
            carried = True
        if call.name is None and isinstance(name, str) and name:
            call.name = name  # the first non-empty name; later ones never overwrite it
        if call_id is not None and call.call_id is None and not call.opened:
            call.call_id = call_id
        events = self._flush_think(out)
        if call.opened:
            if not (arguments or carried):
                return events
            return events + out.tool_call(call.key, arguments=arguments, encrypted_content=call.extra)
        call.held.append(arguments)
        if call.name is None:
            return events  # arguments before the name: held until it comes
        events += self._seal(out)  # opening a call closes the reasoning item
        call.opened = True
        held, call.held = "".join(call.held), []
        return events + out.tool_call(
            call.key,
            name=call.name,
            call_id=self._mint(call.call_id),
            arguments=held,
            encrypted_content=call.extra,
        )

    def _resolve(self, index: int | None, call_id: str | None) -> _Call:
        if index is not None:
            known = self._by_index.get(index)
            # The index is the key; a different non-empty id at a used index is a new call.
            if known is not None and not (call_id and known.call_id and call_id != known.call_id):
                return known
        elif call_id is not None and call_id in self._by_id:
            return self._by_id[call_id]  # no index (Gemini-compat, some proxies): the id is the key
        elif call_id is None and self._calls:
            return self._calls[-1]  # a bare fragment belongs to the last call
        call = _Call(key=len(self._calls), call_id=call_id)
        self._calls.append(call)
        if index is not None:
            self._by_index[index] = call  # a colliding new id takes the index over
        if call_id is not None:
            self._by_id.setdefault(call_id, call)
        return call

    def _mint(self, call_id: str | None) -> str | None:
        """The upstream's call id, unless it is missing or already used (``None``: mint one)."""
        if call_id is None or call_id in self._used_ids:
            return None
        self._used_ids.add(call_id)
        return call_id

    # -- the end --------------------------------------------------------------------------------

    def _fail(self, error: ChatError) -> list[StreamEvent]:
        assert self._out is not None
        return self._out.fail(error.message, code=error.code, type=error.type, usage=self._usage)

    def end(self, *, default_finish: str | None = None) -> list[StreamEvent]:
        """``[DONE]`` or the end of the body: emit the held terminal event.

        Raises ``ProtocolError`` when no ``finish_reason`` came (the stream was cut) or a tool
        call never got a name. ``default_finish`` is for whole bodies, which cannot be cut.
        """
        if self.finished:
            return []
        finish = self._finish or default_finish
        if self._out is None or finish is None:
            raise ProtocolError("upstream ended the stream without a finish_reason", response=self.snapshot())
        out = self._out
        events = self._flush_think(out)
        if any(not call.opened for call in self._calls):
            raise ProtocolError("upstream sent a tool call without a function name", response=self.snapshot())
        events += self._seal(out)
        reason = _FINISH.get(finish)
        if reason is not None:
            return events + out.finish(reason, usage=self._usage)
        logger.warning("chat-completions: unknown finish_reason %r treated as 'stop'", finish[:64])
        events += out.finish("stop", usage=self._usage)
        # Kept, not only logged (PROVIDERS.md trap 15): an optional extension field on the
        # terminal response (R104), as the Anthropic adapter keeps its stop_reason.
        targets = [out.response, *(getattr(event, "response", None) for event in events[-1:])]
        for response in {id(r): r for r in targets if isinstance(r, Response)}.values():
            response.chat_finish_reason = finish[:64]  # type: ignore[attr-defined]
        return events
