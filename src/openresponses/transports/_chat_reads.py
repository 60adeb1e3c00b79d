"""What a Chat Completions chunk (or whole body) says about itself, sans I/O: its usage, its
origin (``model``, ``created``) and its first choice, read leniently (PROVIDERS.md trap 23:
unknown keys ignored, odd shapes tolerated). Kept apart from ``_chat_chunks``, the state
machine that turns chunks into events, which reads them through these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

__all__ = ["chat_usage", "chunk_origin", "chunk_usage", "first_choice", "is_mapping", "json_get"]


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(int(value), 0)


def json_get(mapping: Any, key: str) -> Any:
    """``mapping[key]`` if ``mapping`` is a mapping holding it, else ``None``."""
    if type(mapping) is dict:  # JSON objects: skip the ABC check (a per-chunk cost)
        return mapping.get(key)
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """Whether ``value`` is a JSON object (a mapping)."""
    return type(value) is dict or isinstance(value, Mapping)


def chat_usage(raw: Any) -> dict[str, Any] | None:
    """A chat ``usage`` object as an Open Responses usage mapping (``None`` when it has no counts).

    Cached tokens come from ``prompt_tokens_details.cached_tokens`` or DeepSeek's
    ``prompt_cache_hit_tokens``; reasoning tokens from ``completion_tokens_details``; local
    servers send no details, which become zeros.
    """
    if raw is None:  # the chunks without usage: nearly all of them
        return None
    prompt = _int(json_get(raw, "prompt_tokens"))
    completion = _int(json_get(raw, "completion_tokens"))
    if prompt is None and completion is None:
        return None
    prompt, completion = prompt or 0, completion or 0
    total = _int(json_get(raw, "total_tokens"))
    cached = _int(json_get(json_get(raw, "prompt_tokens_details"), "cached_tokens"))
    if cached is None:
        cached = _int(json_get(raw, "prompt_cache_hit_tokens"))
    reasoning = _int(json_get(json_get(raw, "completion_tokens_details"), "reasoning_tokens"))
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": total if total is not None else prompt + completion,
        "input_tokens_details": {"cached_tokens": cached or 0},
        "output_tokens_details": {"reasoning_tokens": reasoning or 0},
    }


def chunk_usage(chunk: Mapping[str, Any]) -> dict[str, Any] | None:
    """A chunk's (or whole body's) usage: its ``usage``, else Groq's ``x_groq.usage``."""
    return chat_usage(chunk.get("usage")) or chat_usage(json_get(chunk.get("x_groq"), "usage"))


def chunk_origin(chunk: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The upstream's ``model`` and ``created`` of a chunk (or whole body), when well-formed."""
    model = chunk.get("model")
    created = chunk.get("created")
    return (
        model if isinstance(model, str) and model else None,
        created if isinstance(created, int) and not isinstance(created, bool) else None,
    )


def first_choice(choices: Any) -> Mapping[str, Any] | None:
    """Choice 0 (one choice is all a response has); ``None`` for ``choices: []`` or none."""
    if not isinstance(choices, list):
        return None
    if len(choices) == 1 and type(choices[0]) is dict:
        return choices[0]  # the usual case: one choice, whatever its index
    fallback: Mapping[str, Any] | None = None
    for choice in choices:
        if isinstance(choice, Mapping):
            if choice.get("index", 0) == 0:
                return choice
            fallback = fallback or choice
    return fallback
