"""``POST /responses/compact`` on stateless backends: the conversation summarised by the model.

Chat Completions has no compaction, and a Chat-Completions server keeps nothing, so
:class:`SummaryCompaction` does it with an ordinary call: it sends the conversation, then a
documented summarisation prompt (:data:`COMPACTION_PROMPT`) as the last user turn, and returns
the spec's ``CompactResource`` whose one ``compaction`` item carries the summary in its opaque
``encrypted_content``. When a later request gives that item back as input, it is expanded into
a developer message holding the summary before the request is translated, so the upstream sees
plain text and the client sees the spec's compaction flow (R66, R70).

``encrypted_content`` is :func:`encode_summary`'s envelope: ``openresponses.compaction.v1.``
followed by base64url (unpadded) JSON ``{"v": 1, "summary": ..., "model": ...}``. It is **not
encrypted**, only opaque: anyone holding the item can read the summary. It is not signed either,
on purpose: the expanded summary is a developer message, which a client may send directly, so a
hand-written envelope gives it nothing it could not already do. Compaction items that are not
this envelope (another provider's encrypted blob) are passed on untouched, to be used by the
upstream that made them or refused by the Chat-Completions translation with a 400.

Sans-I/O apart from ``call_next``; usable in process too::

    AsyncClient(middleware=[Stateful(), SummaryCompaction()],
                endpoint=Provider("ollama", base_url=url, adapter="chat-completions"))
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from .._emit_state import full_usage, new_id
from .._errors import ProtocolError, RequestValidationError
from .._pipeline import Handler, Reply, Request
from ..types import CompactResponse, CompactResponseBody, CreateResponseBody, Response
from ..types.items import CompactionItemParam, DeveloperMessageItemParam, UserMessageItemParam

__all__ = [
    "COMPACTION_PROMPT",
    "ENVELOPE_PREFIX",
    "SUMMARY_HEADING",
    "SummaryCompaction",
    "decode_summary",
    "encode_summary",
]

ENVELOPE_PREFIX = "openresponses.compaction.v1."
"""How every ``encrypted_content`` written by :class:`SummaryCompaction` starts."""

COMPACTION_PROMPT = (
    "Summarise the conversation so far so that it can continue from your summary alone; the "
    "earlier messages will be removed. Keep the user's goals and requests, every decision and "
    "fact established, names, numbers, file paths and code identifiers exactly as written, the "
    "results of tool calls, and what remains to be done. Write it as plain prose and short lists, "
    "in the conversation's language. Do not answer or continue the conversation; write only the "
    "summary."
)
"""The user turn appended to the conversation to ask the upstream for its summary."""

SUMMARY_HEADING = "Summary of the earlier conversation (it was compacted):"
"""The first line of the developer message a compaction item is expanded into."""

_CREATED_BY = "openresponses"


def encode_summary(summary: str, *, model: str | None = None) -> str:
    """The ``encrypted_content`` carrying ``summary`` (opaque, not encrypted: see the module)."""
    payload = json.dumps({"v": 1, "summary": summary, "model": model}, ensure_ascii=False)
    return ENVELOPE_PREFIX + base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_summary(encrypted_content: str) -> str | None:
    """The summary in an envelope from :func:`encode_summary`; ``None`` if it is not one.

    Raises ``ValueError`` for a value that starts like an envelope but is damaged.
    """
    if not encrypted_content.startswith(ENVELOPE_PREFIX):
        return None
    data = encrypted_content[len(ENVELOPE_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        envelope = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the compaction envelope is damaged ({type(exc).__name__})") from None
    if (
        not isinstance(envelope, dict)
        or envelope.get("v") != 1
        or not isinstance(envelope.get("summary"), str)
    ):
        raise ValueError("the compaction envelope is not version 1 with a summary")
    return str(envelope["summary"])


class SummaryCompaction:
    """Middleware: compaction by summary for upstreams that cannot compact (see the module).

    A ``compact`` request becomes a non-streaming ``create`` (``store: false``) of the same model
    with the conversation plus ``prompt`` as the last user turn (``instructions`` kept,
    ``max_output_tokens`` bounds the summary); any other request has its envelopes expanded.
    Put it inside ``Stateful`` (so ``previous_response_id`` is already expanded) and outside
    ``Retry`` and ``Timeout`` (so the summarising call is retried and bounded like any other).
    """

    __slots__ = ("max_output_tokens", "prompt")

    def __init__(self, *, prompt: str = COMPACTION_PROMPT, max_output_tokens: int | None = None) -> None:
        if not prompt.strip():
            raise ValueError("SummaryCompaction: prompt must not be empty")
        if max_output_tokens is not None and max_output_tokens < 16:
            raise ValueError(f"SummaryCompaction: max_output_tokens must be >= 16, got {max_output_tokens}")
        self.prompt = prompt
        self.max_output_tokens = max_output_tokens

    def __repr__(self) -> str:
        return f"SummaryCompaction(max_output_tokens={self.max_output_tokens})"

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        body = request.body
        if isinstance(body, CompactResponseBody):
            return await self._compact(request, body, call_next)
        expanded = _expand(body.input)
        if expanded is not None:
            request = request.replace(body=body.model_copy(update={"input": expanded}))
        return await call_next(request)

    async def _compact(self, request: Request, body: CompactResponseBody, call_next: Handler) -> Reply:
        items: list[Any] = _expand(body.input) or _items(body.input)
        if not items:
            return _compacted([], None)  # nothing to summarise: an empty window, no upstream call
        create = CreateResponseBody(
            model=body.model,
            instructions=body.instructions,
            input=[*items, UserMessageItemParam(content=self.prompt)],
            store=False,
            prompt_cache_key=body.prompt_cache_key,
            max_output_tokens=self.max_output_tokens,
        )
        request.context.record("compaction.summarise", {"items": len(items)})
        reply = await call_next(request.replace(body=create, operation="create", stream=False))
        if not isinstance(reply, Response):
            raise ProtocolError(
                f"expected a whole response to the summarising call, got {type(reply).__name__}"
            )
        summary = reply.output_text.strip()
        if not summary:
            raise ProtocolError("the upstream answered the summarising call with no text")
        model = reply.model or body.model
        usage = reply.usage.to_dict() if reply.usage is not None else None
        item = {
            "type": "compaction",
            "id": new_id("cmp"),
            "encrypted_content": encode_summary(summary, model=model),
            "created_by": _CREATED_BY,
        }
        return _compacted([item], usage)


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [UserMessageItemParam(content=value)]
    return list(value)


def _expand(value: Any) -> list[Any] | None:
    """``value`` with each envelope expanded into a developer message; ``None`` when none was."""
    if value is None or isinstance(value, str):
        return None
    out: list[Any] = []
    changed = False
    for index, item in enumerate(value):
        if isinstance(item, CompactionItemParam):
            try:
                summary = decode_summary(item.encrypted_content)
            except ValueError as exc:
                loc = ("input", index, "encrypted_content")
                raise RequestValidationError(
                    f"input.{index}.encrypted_content: {exc}; send compaction items back unchanged",
                    [{"loc": loc, "msg": str(exc), "type": "value_error"}],
                ) from None
            if summary is not None:
                out.append(DeveloperMessageItemParam(content=f"{SUMMARY_HEADING}\n\n{summary}"))
                changed = True
                continue
        out.append(item)
    return out if changed else None


def _compacted(output: list[Any], usage: dict[str, Any] | None) -> CompactResponse:
    filled = full_usage(usage or {"input_tokens": 0, "output_tokens": 0})
    return CompactResponse.model_validate(
        {
            "id": new_id("cmp"),
            "object": "response.compaction",
            "output": output,
            "created_at": int(time.time()),
            "usage": filled,
        }
    )
