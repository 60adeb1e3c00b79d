"""Reading input items the way every translating adapter does (Anthropic, Gemini, Bedrock).

- :func:`open_envelope`: a vendor's opaque reasoning state (Anthropic's signed thinking, Gemini's
  thought signatures, Bedrock's reasoning blocks) rides through an Open Responses item's
  ``encrypted_content`` as a small JSON object tagged with its ``type``, so the next request can
  send it back unchanged. Any other blob (another vendor's, an OpenAI one) is not ours: ``None``.
- :func:`text_parts`: the texts of a message's content; a part the adapter cannot carry (an
  image in a system message, say) is refused, naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..types.content import InputTextContent, OutputTextContent, RefusalContent
from ._fields import Reject

__all__ = ["is_our_envelope", "open_envelope", "text_parts"]


def open_envelope(encrypted_content: object, kind: str) -> dict[str, Any] | None:
    """The JSON object of our envelope tagged ``kind``; ``None`` for anything else."""
    data = _json_object(encrypted_content)
    return data if data is not None and data.get("type") == kind else None


def is_our_envelope(encrypted_content: object) -> bool:
    """Whether ``encrypted_content`` is one of this library's envelopes (``openresponses.*``)."""
    data = _json_object(encrypted_content)
    return data is not None and str(data.get("type", "")).startswith("openresponses.")


def _json_object(blob: object) -> dict[str, Any] | None:
    if not isinstance(blob, str) or not blob.startswith("{"):
        return None
    try:
        data = json.loads(blob)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def text_parts(
    content: str | Iterable[Any], loc: Sequence[str | int], reject: Reject, *, refusal: bool = False
) -> list[str]:
    """The texts of a message's ``content``: a string as is, else each ``input_text`` /
    ``output_text`` part (and ``refusal`` parts when ``refusal``); any other part is refused
    through the adapter's ``reject``, at ``loc + ("content", index)``."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for index, part in enumerate(content):
        if isinstance(part, InputTextContent | OutputTextContent):
            texts.append(part.text)
        elif refusal and isinstance(part, RefusalContent):
            texts.append(part.refusal)
        else:
            reject(f"content part {getattr(part, 'type', None)!r}", loc=(*loc, "content", index))
    return texts
