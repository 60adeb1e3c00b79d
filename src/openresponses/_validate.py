"""Checks on a call's arguments, before anything is sent.

Pydantic validates the body's typed fields (``CreateResponseBody``: strict scalars, finite
floats). What it cannot see is checked here, where the caller's keywords arrive:

- a keyword that is not a parameter is an :class:`UnknownParameterError`, a ``TypeError`` as
  Python's own, naming the closest valid name (provider-specific fields go in ``extra_body=``);
- ``None`` where the spec has no null (``store``, ``include``, ...) and ``model=None``, which is
  almost always a missing setting rather than a wish for the server's default;
- the free-form parts of a body (``input`` items, tool schemas, ``extra_body``) must be JSON:
  no ``NaN``, no arbitrary objects, so the failure is named here and not raised by a serializer
  in the middle of sending;
- ``extra_headers``, ``idempotency_key`` and ``timeout``, which never reach pydantic.

Every problem is a :class:`~openresponses.RequestValidationError` naming the parameter (and the
path inside it), never the offending value: a header value may be a credential.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel

from ._errors import RequestValidationError

__all__ = [
    "UnknownParameterError",
    "check_extra_body",
    "check_headers",
    "check_idempotency_key",
    "check_keywords",
    "check_no_null",
    "check_stream",
    "check_timeout",
    "free_form_json",
]

#: Body fields the spec does not allow to be ``null`` (omit them to get the server's default),
#: plus ``model``: a ``None`` model is nearly always an unset environment variable.
NOT_NULL = frozenset({"model", "include", "background", "truncation", "store", "service_tier"})
#: Fields whose content is (partly) free-form JSON, walked by :func:`free_form_json`.
FREE_FORM = ("input", "tools", "tool_choice", "text", "reasoning", "stream_options")
#: Deeper than this is almost surely a reference cycle; no real request nests so far.
MAX_DEPTH = 64

# RFC 9110 field names are tokens; values are visible ASCII, spaces and tabs (httpx encodes
# header values as ASCII, so anything else would fail in the middle of sending).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # used with fullmatch: "$" would allow "\n"
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")


class UnknownParameterError(RequestValidationError, TypeError):
    """A keyword that is not a parameter of the call: a ``TypeError``, as Python's own is.

    Also a :class:`~openresponses.RequestValidationError` (nothing was sent). ``keyword`` is
    the unknown name, ``suggestion`` the closest valid one (or ``None``). Provider-specific
    body fields go in ``extra_body={...}``.
    """

    def __init__(self, message: str, *, keyword: str, suggestion: str | None) -> None:
        super().__init__(message, [{"loc": (keyword,), "msg": "unexpected keyword argument"}])
        self.keyword = keyword
        self.suggestion = suggestion


def check_keywords(function: str, given: Collection[str], valid: Collection[str]) -> None:
    """Raise :class:`UnknownParameterError` for the first name of ``given`` not in ``valid``."""
    for name in given:
        if name in valid:
            continue
        close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
        suggestion = close[0] if close else None
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        raise UnknownParameterError(
            f"{function}() got an unexpected keyword argument {name!r}.{hint} "
            f"Provider-specific fields go in extra_body={{{name!r}: ...}}.",
            keyword=name,
            suggestion=suggestion,
        )


def _invalid(where: str, message: str) -> RequestValidationError:
    return RequestValidationError(f"{where}: {message}", [{"loc": (where,), "msg": message}])


def check_no_null(data: Mapping[str, Any], fields: Collection[str] = NOT_NULL) -> None:
    """Reject ``None`` for the fields that may not be null (see :data:`NOT_NULL`)."""
    for name in fields:
        if name in data and data[name] is None:
            if name == "model":
                raise _invalid(
                    "model",
                    "expected a string, got None (omit model= to let the server or a "
                    "Provider(model=...) choose)",
                )
            raise _invalid(name, f"None is not allowed (omit {name}= to use the server's default)")


def check_stream(stream: object) -> bool:
    """``stream`` must be a bool (``None`` means ``False``, as in openai-python)."""
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise _invalid("stream", f"expected True or False, got {type(stream).__name__}")
    return stream


def check_headers(headers: object, where: str = "extra_headers") -> dict[str, str]:
    """A mapping of valid header names to ASCII values without line breaks; names only in errors."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise _invalid(where, f"expected a mapping of header names to strings, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            shown = repr(name) if isinstance(name, str) else type(name).__name__
            raise _invalid(where, f"{shown} is not a valid header name")
        if not isinstance(value, str):
            raise _invalid(f"{where}[{name!r}]", f"expected a string, got {type(value).__name__}")
        if not _FIELD_VALUE.fullmatch(value):
            raise _invalid(
                f"{where}[{name!r}]", "header values must be ASCII without line breaks or control characters"
            )
        checked[name] = value
    return checked


def check_idempotency_key(key: object) -> str | None:
    """A non-empty ASCII string (it is sent as the ``Idempotency-Key`` header), or ``None``."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise _invalid("idempotency_key", f"expected a string, got {type(key).__name__}")
    if not key or len(key) > 255 or not _FIELD_VALUE.fullmatch(key) or key != key.strip():
        raise _invalid(
            "idempotency_key",
            "expected 1 to 255 printable ASCII characters without surrounding spaces",
        )
    return key


def check_timeout(timeout: object, where: str = "timeout") -> object:
    """Seconds (a finite number > 0), an ``httpx.Timeout``, or ``None`` (the client's default)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        from .transports._kinds import is_httpx_timeout

        if is_httpx_timeout(timeout):
            return timeout
        raise _invalid(
            where, f"expected seconds (a number) or an httpx.Timeout, got {type(timeout).__name__}"
        )
    if not math.isfinite(timeout) or timeout <= 0:
        raise _invalid(where, "expected a finite number of seconds greater than 0 (None for the default)")
    return timeout


def check_extra_body(extra_body: object, reserved: Collection[str] = ("stream",)) -> dict[str, Any]:
    """A mapping with string keys whose values are JSON; ``stream`` has its own parameter."""
    if extra_body is None:
        return {}
    if not isinstance(extra_body, Mapping):
        raise _invalid(
            "extra_body", f"expected a mapping of field names to JSON values, got {type(extra_body).__name__}"
        )
    for key in extra_body:
        if not isinstance(key, str):
            raise _invalid("extra_body", f"keys must be strings, got {type(key).__name__}")
        if key in reserved:
            raise _invalid(f"extra_body[{key!r}]", f"pass {key}= as its own parameter")
    free_form_json(extra_body, "extra_body")
    return dict(extra_body)


def free_form_json(value: Any, where: str) -> None:
    """Raise ``RequestValidationError`` naming the path of the first part of ``value`` that is
    not JSON: ``NaN`` / infinities, objects other than dicts, lists, tuples, strings, numbers,
    booleans and ``None`` (pydantic models: their set fields and extras are walked)."""
    if not _is_json(value, 0):
        _find_non_json(value, where, 0)  # the slow walk, building paths, only to name the problem


_SCALARS = (str, int, bool, type(None))


def _is_json(value: Any, depth: int) -> bool:
    # Hot path (every body, every call): no strings built; isinstance only past the common types.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    depth += 1
    if kind is dict:
        return all(type(key) is str and _is_json(item, depth) for key, item in value.items())
    if kind is list or kind is tuple:
        return all(_is_json(item, depth) for item in value)
    if isinstance(value, BaseModel):
        return all(_is_json(getattr(value, name, None), depth) for name in value.model_fields_set) and all(
            _is_json(item, depth) for item in (value.__pydantic_extra__ or {}).values()
        )
    if isinstance(value, _SCALARS):
        return True  # a str / int subclass (a str enum, a numpy int, ...)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and _is_json(item, depth) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_is_json(item, depth) for item in value)
    return False


def _find_non_json(value: Any, where: str, depth: int) -> None:
    if value is None or isinstance(value, _SCALARS):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(where, f"{value!r} is not valid JSON (use a finite number)")
        return
    if depth >= MAX_DEPTH:
        raise _invalid(where, f"nested deeper than {MAX_DEPTH} levels (a reference cycle?)")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _invalid(where, f"object keys must be strings, got {type(key).__name__}")
            _find_non_json(item, f"{where}.{key}", depth + 1)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _find_non_json(item, f"{where}[{index}]", depth + 1)
        return
    if isinstance(value, BaseModel):
        # A model's typed fields were validated, but dict-typed fields and extras hold anything.
        for name in value.model_fields_set:
            _find_non_json(getattr(value, name, None), f"{where}.{name}", depth + 1)
        for name, item in (value.__pydantic_extra__ or {}).items():
            _find_non_json(item, f"{where}.{name}", depth + 1)
        return
    raise _invalid(where, f"{type(value).__name__} is not JSON-serializable")
