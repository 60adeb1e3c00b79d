"""Which fields of a request body a translating dialect must carry, shared by every adapter."""

from __future__ import annotations

from collections.abc import Callable, Set
from typing import Any, NoReturn

from ..types import CreateResponseBody

__all__ = ["set_fields"]


def set_fields(
    body: CreateResponseBody,
    *,
    translated: Set[str],
    extensions: Set[str],
    harmless: Set[str],
    reject: Callable[..., NoReturn],
    drop: Set[str] = frozenset(),
    why: Callable[[str], str] | None = None,
) -> tuple[set[str], dict[str, Any]]:
    """The spec fields set on ``body`` (not ``None``) and its extra (provider) fields.

    Raises through ``reject`` (the adapter's ``RequestValidationError``, naming the field) for a
    spec field outside ``translated`` or an extra field outside ``extensions``, unless it is
    ``harmless`` (accepted, not sent) or ``drop``-ped by the preset; ``why(name)`` says why, for
    the spec fields. ``model_fields_set`` also lists extra keys: those are the second result.
    """
    fields = type(body).model_fields
    present = {name for name in body.model_fields_set if name in fields and getattr(body, name) is not None}
    extras = {key: value for key, value in (body.model_extra or {}).items() if value is not None}
    for name in sorted(present - translated - harmless - drop):
        detail = () if why is None else (why(name),)
        reject(f"field {name!r}", *detail, loc=(name,))
    for name in sorted(set(extras) - extensions - harmless - drop):
        reject(f"field {name!r}", loc=(name,))
    return present, extras
