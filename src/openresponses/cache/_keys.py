"""Sans-I/O cache keys: the normalised request, its exact key, its fixed part and varying text.

**Normalised request.** The body as JSON without what does not change the answer: ``stream``,
``stream_options``, ``metadata``, ``store``, ``background``, ``service_tier``,
``safety_identifier``, ``prompt_cache_key`` and unset fields. The input becomes a list of items
in one spelling: a string input is one user message, a string ``content`` one ``input_text``
part (``output_text`` for an assistant), item ``id`` and ``status`` are dropped (references, not
content), text parts are stripped of surrounding whitespace. Everything else stays, extension
fields included: model, instructions, tools, tool_choice, text format, temperature, top_p,
penalties, reasoning, include, truncation, max_output_tokens, ...

**Exact key.** SHA-256 of the namespace and the normalised request.

**Semantic split.** :func:`last_user_message` (the default :data:`Varying`) takes the text of
the last input item when it is a user message made only of text; the *fixed part* is the
normalised request without that item. The bucket key hashes the namespace, the fixed part and
the embedder's name, so only entries with an identical fixed part (model, instructions, earlier
turns, tools, format, sampling) and comparable vectors are ever compared. A request whose last
item is anything else (a tool result, an image) is cached exactly only.

**Guards.** :func:`numbers_of` lists the numbers in the varying text: a semantic hit always
needs the same numbers ("2 + 2" never answers "2 + 3", however similar the embeddings). By
default it also needs :func:`no_substitution`: no content word swapped for another.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..types import CreateResponseBody

__all__ = [
    "IGNORED_FIELDS",
    "RequestKeys",
    "Varying",
    "last_user_message",
    "no_substitution",
    "normalise",
    "numbers_of",
]

#: Body fields that never change the answer: left out of every key.
IGNORED_FIELDS = frozenset(
    {
        "stream",
        "stream_options",
        "metadata",
        "store",
        "background",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
    }
)

#: Splits a normalised body into ``(varying text, fixed part)``; ``None``: exact layer only.
Varying: TypeAlias = "Callable[[dict[str, Any]], tuple[str, dict[str, Any]] | None]"

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})


def normalise(body: CreateResponseBody) -> dict[str, Any]:
    """The body as the keys see it (see the module docstring)."""
    data = body.model_dump(mode="json", exclude_none=True, by_alias=True)
    for name in IGNORED_FIELDS:
        data.pop(name, None)
    raw = data.get("input")
    if isinstance(raw, str):
        data["input"] = [_message("user", raw)]
    elif isinstance(raw, list):
        data["input"] = [_item(item) for item in raw]
    if isinstance(data.get("instructions"), str):
        data["instructions"] = data["instructions"].strip()
    return data


def _message(role: str, content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        kind = "output_text" if role == "assistant" else "input_text"
        parts: Any = [{"type": kind, "text": content.strip()}]
    elif isinstance(content, list):
        parts = [_part(part) for part in content]
    else:
        parts = content
    return {"type": "message", "role": role, "content": parts}


def _part(part: Any) -> Any:
    if isinstance(part, dict) and part.get("type") in _TEXT_PARTS and isinstance(part.get("text"), str):
        return dict(part, text=part["text"].strip())
    return part


def _item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    if item.get("type", "message") == "message" and "role" in item:
        out = _message(str(item["role"]), item.get("content"))
        out.update({k: v for k, v in item.items() if k not in ("type", "role", "content", "id", "status")})
        return out
    return {k: v for k, v in item.items() if k not in ("id", "status")}


def last_user_message(normalised: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The default split: the last input item's text when it is a text-only user message."""
    items = normalised.get("input")
    if not isinstance(items, list) or not items:
        return None
    last = items[-1]
    if not isinstance(last, dict) or last.get("type") != "message" or last.get("role") != "user":
        return None
    parts = last.get("content")
    if not isinstance(parts, list) or not parts:
        return None
    texts: list[str] = []
    for part in parts:
        if not isinstance(part, dict) or part.get("type") != "input_text" or set(part) != {"type", "text"}:
            return None  # an image, a file, a part with options: not comparable as text
        texts.append(str(part["text"]))
    text = "\n".join(texts).strip()
    if not text:
        return None
    fixed = dict(normalised, input=items[:-1])
    return text, fixed


def no_substitution(query: str, cached: str) -> bool:
    """Whether ``query`` and ``cached`` differ only by *added or dropped* content words.

    A rewording adds or drops words ("Which city is the capital of France?" / "capital of
    France"); a hard negative *substitutes* one ("... of France?" / "... of Germany?"). When
    each side has a content word the other lacks, this says no: measured on the benchmark's hard
    negatives it removes every false hit, for any embedder, at the cost of paraphrases that
    swap words ("boiling point" / "temperature ... boil").
    """
    from ._lexical import words

    mine, theirs = set(words(query)), set(words(cached))
    return not (mine - theirs and theirs - mine)


def numbers_of(text: str) -> str:
    """The numbers in ``text`` in order, as one string (``"2 2"`` for "2 + 2"); ``""`` if none."""
    return " ".join(_NUMBER.findall(text))


def digest(*parts: Any) -> str:
    """SHA-256 (hex) of ``parts`` as canonical JSON."""
    data = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class RequestKeys:
    """What one request is cached under: its exact ``key``; for the semantic layer its
    ``bucket`` (fixed part), ``text`` (varying part) and ``guard`` (numbers), else ``None``."""

    key: str
    bucket: str | None = None
    text: str | None = None
    guard: str = ""

    @classmethod
    def of(
        cls, body: CreateResponseBody, namespace: str, *, embedder: str | None, varying: Varying | None
    ) -> RequestKeys:
        """The keys of ``body`` in ``namespace``; no semantic part without ``embedder``/``varying``."""
        normalised = normalise(body)
        key = digest("exact-v1", namespace, normalised)
        if embedder is None or varying is None:
            return cls(key)
        split = varying(normalised)
        if split is None:
            return cls(key)
        text, fixed = split
        return cls(key, digest("bucket-v1", namespace, fixed, embedder), text, numbers_of(text))
