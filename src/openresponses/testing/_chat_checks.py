"""Argument checks shared by the Chat Completions scenario builders.

Each raises ``ValueError`` or ``TypeError`` naming the argument, so a bad scenario fails in the
test that builds it, not as a confusing reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

__all__ = ["check_choice", "check_count", "check_pieces", "check_seconds"]


def check_pieces(
    name: str, chunks: Sequence[int] | Sequence[str] | None
) -> tuple[int, ...] | tuple[str, ...] | None:
    """``chunks`` as a tuple: all sizes (ints) or all pieces (strs); ``None`` stays ``None``."""
    if chunks is None:
        return None
    if isinstance(chunks, (str, bytes)):
        raise TypeError(
            f"{name} must be a sequence of sizes or of strings, not a single {type(chunks).__name__}"
        )
    values = tuple(chunks)
    if not (all(isinstance(v, str) for v in values) or all(isinstance(v, int) for v in values)):
        raise TypeError(f"{name} must be all ints (sizes) or all strs (pieces), got {values!r}")
    return values  # type: ignore[return-value]


def check_choice(name: str, value: str, options: Any) -> None:
    """``value`` must be one of the ``Literal`` type ``options``."""
    allowed = get_args(options)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def check_count(after_chunks: int) -> int:
    """``after_chunks``, an int >= 0."""
    if not isinstance(after_chunks, int) or after_chunks < 0:
        raise ValueError(f"after_chunks must be an int >= 0, got {after_chunks!r}")
    return after_chunks


def check_seconds(name: str, value: float) -> float:
    """``value``, a duration >= 0 seconds."""
    if value < 0:
        raise ValueError(f"{name} must be >= 0 seconds, got {value}")
    return value
