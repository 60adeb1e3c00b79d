"""What a scripted response is made of, and how each part streams.

The three output kinds a :class:`~openresponses.testing.Scenario` holds (reasoning, message,
function call), how their text is cut into deltas (:func:`split`), and :func:`emit_output`,
which plays one output through an :class:`~openresponses._emit.EventBuilder` in spec order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from .._emit import EventBuilder

__all__ = [
    "Chunks",
    "FunctionCallOutput",
    "MessageOutput",
    "Output",
    "ReasoningOutput",
    "emit_output",
    "freeze_chunks",
    "split",
]

Chunks: TypeAlias = "int | Sequence[str] | None"
"""How text is split into deltas: ``None`` by words, an ``int`` into that many pieces, or the pieces."""


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


def freeze_chunks(chunks: Chunks) -> int | tuple[str, ...] | None:
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


def emit_output(builder: EventBuilder, output: Output) -> int:
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
