"""Open Responses input items -> Gemini ``contents`` and ``systemInstruction``, sans I/O.

Gemini speaks in ``Content`` turns of ``parts``, role ``user`` or ``model``; everything the
assistant said (text, thoughts, function calls) joins one ``model`` turn and every
``function_call_output`` becomes a ``functionResponse`` part of the next ``user`` turn, named
after its call (the API matches responses to calls by name and order; it issues call ids on
some models only). System and developer messages, wherever they sit, join
``systemInstruction``: Gemini has exactly one.

Thought signatures (opaque blobs Gemini 3 requires back unchanged, or it answers 400) ride in
``encrypted_content`` inside a small JSON envelope (:func:`signature_envelope`): on the
``function_call`` item for a ``functionCall`` part, on a reasoning item for a ``thought`` part
or for a plain text part. Only our own envelope is ever sent back, never another vendor's
blob; a function call without one (another vendor produced it, e.g. after a failover) gets the
validator-skip signature Google documents for foreign history.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..types.content import (
    InputFileContent,
    InputImageContent,
    InputTextContent,
    SummaryTextContent,
)
from ..types.items import (
    AssistantMessageItemParam,
    CompactionItemParam,
    DeveloperMessageItemParam,
    FunctionCallItemParam,
    FunctionCallOutputItemParam,
    ItemReferenceParam,
    ReasoningItemParam,
    SystemMessageItemParam,
    UserMessageItemParam,
)
from ._fields import Rejecter
from ._items import open_envelope, text_parts

__all__ = [
    "PREFIX",
    "SIGNATURE_ENVELOPE",
    "SKIP_SIGNATURE",
    "Envelope",
    "gemini_contents",
    "parse_envelope",
    "reject",
    "signature_envelope",
]

#: How every message of the Gemini dialect's request errors starts.
PREFIX = "gemini adapter"
#: Raises ``RequestValidationError``: ``gemini adapter: <what> <detail>``.
reject = Rejecter(PREFIX)
#: The ``type`` tag of the JSON envelope carrying a Gemini thought signature in ``encrypted_content``.
SIGNATURE_ENVELOPE = "openresponses.gemini.signature"
#: The signature Google documents for function calls the model did not produce itself.
SKIP_SIGNATURE = "skip_thought_signature_validator"

PartKind = Literal["thought", "text", "call"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """What one of our ``encrypted_content`` envelopes holds."""

    part: PartKind
    signature: str | None = None
    #: The ``functionCall.id`` Gemini issued, when it issued one.
    call_id: str | None = None


def signature_envelope(part: PartKind, signature: str | None, *, call_id: str | None = None) -> str:
    """The ``encrypted_content`` for a Gemini ``signature`` found on a ``part`` kind."""
    data: dict[str, Any] = {"type": SIGNATURE_ENVELOPE, "part": part}
    if signature:
        data["signature"] = signature
    if call_id:
        data["id"] = call_id
    return json.dumps(data, separators=(",", ":"))


def parse_envelope(encrypted_content: Any) -> Envelope | None:
    """Our envelope's content; ``None`` for anything else (another vendor's opaque blob)."""
    data = open_envelope(encrypted_content, SIGNATURE_ENVELOPE)
    if data is None:
        return None
    part, signature, call_id = data.get("part"), data.get("signature"), data.get("id")
    if part not in ("thought", "text", "call"):
        return None
    return Envelope(
        part,
        signature if isinstance(signature, str) and signature else None,
        call_id if isinstance(call_id, str) and call_id else None,
    )


def gemini_contents(
    instructions: str | None,
    items: str | Sequence[Any] | None,
    *,
    foreign_signature: str | None = SKIP_SIGNATURE,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """``(contents, systemInstruction)`` for ``instructions`` and ``input``.

    Raises ``RequestValidationError`` naming the first item Gemini cannot carry.
    ``foreign_signature`` is put on the first ``functionCall`` of a model turn that has no
    signature of ours (``None``: send it without one).
    """
    return _Builder(foreign_signature).build(instructions, items)


@dataclass(slots=True)
class _Call:
    name: str
    position: int
    gemini_id: str | None
    answered: bool = False


@dataclass(slots=True)
class _Builder:
    foreign_signature: str | None
    contents: list[dict[str, Any]] = field(default_factory=list)
    system: list[str] = field(default_factory=list)
    calls: dict[str, _Call] = field(default_factory=dict)

    def build(
        self, instructions: str | None, items: str | Sequence[Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        if instructions:
            self.system.append(instructions)
        if isinstance(items, str):
            self._add("user", {"text": items})
        elif items:
            for index, item in enumerate(items):
                self._item(item, ("input", index))
        unanswered = sorted(call_id for call_id, call in self.calls.items() if not call.answered)
        if unanswered:
            reject(
                f"function_call {', '.join(repr(c) for c in unanswered)}",
                "has no function_call_output in input (Gemini needs every function call answered)",
                loc=("input",),
            )
        for content in self.contents:
            if content["role"] == "user":
                self._order_responses(content)
            else:
                self._sign_first_call(content)
        if not self.contents:
            self.contents.append({"role": "user", "parts": [{"text": ""}]})  # a probe still needs a turn
        system = {"parts": [{"text": text} for text in self.system]} if self.system else None
        return self.contents, system

    # -- items ----------------------------------------------------------------------------------

    def _item(self, item: Any, loc: tuple[str, int]) -> None:
        if isinstance(item, UserMessageItemParam):
            for part in _user_parts(item.content, loc):
                self._add("user", part)
        elif isinstance(item, SystemMessageItemParam | DeveloperMessageItemParam):
            self.system.append(_text_of(item.content, loc))
        elif isinstance(item, AssistantMessageItemParam):
            text = _text_of(item.content, loc, refusal=True)
            if text:
                self._add("model", {"text": text})
        elif isinstance(item, ReasoningItemParam):
            self._reasoning(item)
        elif isinstance(item, FunctionCallItemParam):
            self._function_call(item, loc)
        elif isinstance(item, FunctionCallOutputItemParam):
            self._function_output(item, loc)
        elif isinstance(item, ItemReferenceParam):
            reject("input item type 'item_reference'", "is not supported (needs a response store)", loc=loc)
        elif isinstance(item, CompactionItemParam):
            reject("input item type 'compaction'", "is not supported (opaque to Gemini)", loc=loc)
        else:
            item_type, role = getattr(item, "type", None), getattr(item, "role", None)
            reject(
                f"message role {role!r}" if item_type == "message" else f"input item type {item_type!r}",
                loc=loc,
            )

    def _add(self, role: str, part: dict[str, Any]) -> None:
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"].append(part)
        else:
            self.contents.append({"role": role, "parts": [part]})

    def _reasoning(self, item: ReasoningItemParam) -> None:
        envelope = parse_envelope(item.encrypted_content)
        if envelope is None or envelope.signature is None:
            return  # another vendor's reasoning, or thoughts Gemini needs no record of
        if envelope.part == "thought":
            text = "".join(part.text for part in item.summary if isinstance(part, SummaryTextContent))
            self._add("model", {"text": text, "thought": True, "thoughtSignature": envelope.signature})
            return
        # The signature came on a text part: it goes back on the text it followed.
        last = self.contents[-1] if self.contents and self.contents[-1]["role"] == "model" else None
        target = last["parts"][-1] if last is not None else None
        if (
            target is not None
            and "text" in target
            and not target.get("thought")
            and "thoughtSignature" not in target
        ):
            target["thoughtSignature"] = envelope.signature
        else:
            self._add("model", {"text": "", "thoughtSignature": envelope.signature})

    def _function_call(self, item: FunctionCallItemParam, loc: tuple[str, int]) -> None:
        if item.call_id in self.calls:
            reject(f"function_call call_id {item.call_id!r}", "appears twice in input", loc=loc)
        try:
            args = json.loads(item.arguments) if item.arguments.strip() else {}
        except ValueError:
            reject(f"function_call {item.call_id!r} arguments", "are not valid JSON", loc=(*loc, "arguments"))
        if not isinstance(args, dict):
            reject(
                f"function_call {item.call_id!r} arguments", "must be a JSON object", loc=(*loc, "arguments")
            )
        envelope = parse_envelope((item.model_extra or {}).get("encrypted_content"))
        gemini_id = envelope.call_id if envelope is not None else None
        call: dict[str, Any] = {"name": item.name, "args": args}
        if gemini_id:
            call["id"] = gemini_id
        part: dict[str, Any] = {"functionCall": call}
        if envelope is not None and envelope.signature:
            part["thoughtSignature"] = envelope.signature
        self.calls[item.call_id] = _Call(item.name, len(self.calls), gemini_id)
        self._add("model", part)

    def _function_output(self, item: FunctionCallOutputItemParam, loc: tuple[str, int]) -> None:
        call = self.calls.get(item.call_id)
        if call is None or call.answered:
            detail = (
                "answers a call that was already answered"
                if call is not None
                else "has no function_call before it in input (Gemini needs the function's name)"
            )
            reject(f"function_call_output call_id {item.call_id!r}", detail, loc=loc)
        call.answered = True
        response: dict[str, Any] = {"name": call.name, "response": _response_object(item, loc)}
        if call.gemini_id:
            response["id"] = call.gemini_id
        self._add("user", {"functionResponse": response, "_position": call.position})

    # -- turn fix-ups ---------------------------------------------------------------------------

    @staticmethod
    def _order_responses(content: dict[str, Any]) -> None:
        """Function responses first, in the order of their calls (Gemini matches by order)."""
        parts = content["parts"]
        responses = sorted((p for p in parts if "_position" in p), key=lambda p: int(p["_position"]))
        if responses:
            others = [p for p in parts if "_position" not in p]
            for part in responses:
                del part["_position"]
            content["parts"] = [*responses, *others]

    def _sign_first_call(self, content: dict[str, Any]) -> None:
        first = next((part for part in content["parts"] if "functionCall" in part), None)
        if first is not None and "thoughtSignature" not in first and self.foreign_signature:
            first["thoughtSignature"] = self.foreign_signature


# --------------------------------------------------------------------------- content parts


def _user_parts(content: str | Sequence[Any], loc: tuple[str, int]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        where = (*loc, "content", index)
        if isinstance(part, InputTextContent):
            parts.append({"text": part.text})
        elif isinstance(part, InputImageContent):
            if not part.image_url:
                reject(
                    "content part 'input_image' without image_url", "is not supported (file ids)", loc=where
                )
            parts.append(_media(part.image_url, None, where, "input_image"))
        elif isinstance(part, InputFileContent):
            parts.append(_file(part, where))
        else:
            reject(f"content part {getattr(part, 'type', None)!r}", loc=where)
    return parts


def _media(url: str, filename: str | None, loc: tuple[str | int, ...], what: str) -> dict[str, Any]:
    """``inlineData`` for a ``data:`` URL, ``fileData`` for a URI (Files API, ``gs://``, https)."""
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        mime, _, encoding = header.partition(";")
        if not sep or encoding != "base64" or not mime:
            reject(f"{what} data URL", "must be data:<mime type>;base64,<data>", loc=loc)
        return {"inlineData": {"mimeType": mime, "data": data}}
    guessed = mimetypes.guess_type(filename or url.split("?", 1)[0])[0]
    if guessed is None:
        reject(f"{what} URL {url[:80]!r}", "has no recognisable file type (use a data: URL)", loc=loc)
    return {"fileData": {"mimeType": guessed, "fileUri": url}}


def _file(part: InputFileContent, loc: tuple[str | int, ...]) -> dict[str, Any]:
    if part.file_data:
        if part.file_data.startswith("data:"):
            return _media(part.file_data, part.filename, loc, "input_file")
        mime = mimetypes.guess_type(part.filename or "")[0]
        if mime is None:
            reject("input_file file_data", "needs a filename with a known extension or a data: URL", loc=loc)
        try:
            base64.b64decode(part.file_data, validate=True)
        except (binascii.Error, ValueError):
            reject("input_file file_data", "is not base64", loc=loc)
        return {"inlineData": {"mimeType": mime, "data": part.file_data}}
    if part.file_url:
        return _media(part.file_url, part.filename, loc, "input_file")
    return reject(
        "content part 'input_file' without file_data or file_url", "is not supported (file ids)", loc=loc
    )


def _text_of(content: str | Sequence[Any], loc: tuple[str | int, ...], *, refusal: bool = False) -> str:
    if isinstance(content, str):
        return content
    texts = text_parts(content, loc, reject, refusal=refusal)
    return "".join(texts) if refusal else "\n".join(texts)


def _response_object(item: FunctionCallOutputItemParam, loc: tuple[str, int]) -> dict[str, Any]:
    """``functionResponse.response`` must be a JSON object: an output that is one is sent as is,
    anything else under ``output`` (the key Google's SDKs use)."""
    text = item.output if isinstance(item.output, str) else _text_of(item.output, (*loc, "output"))
    try:
        value = json.loads(text)
    except ValueError:
        return {"output": text}
    return value if isinstance(value, dict) else {"output": value}
