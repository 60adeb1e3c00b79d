"""The commonest request body, a ``CreateResponseBody`` built without pydantic's validation.

Why: on the served proxy's non-streamed path, validating the body (a discriminated union per
input item, 26 fields) and walking it for non-JSON values were about a twentieth of a request's
CPU, for a body that is nearly always a model, maybe instructions, and text messages. When the
body is exactly that, with every value of the exact type validation accepts, :func:`plain_body`
builds the instance validation would build; otherwise it answers ``None`` and the caller
validates (and names what is wrong, as before).

The instance is the one ``CreateResponseBody.model_validate`` gives: the same ``__dict__``
(field order, defaults), fields set, extra and private slots, the items' classes and theirs
(``tests/test_built.py`` checks it over generated bodies, near misses included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._built import _model
from .types import CreateResponseBody
from .types.items import DeveloperMessageItemParam, SystemMessageItemParam, UserMessageItemParam
from .types.request import _MAX_INPUT_CHARS  # the spec's maxLength of a string input

__all__ = ["plain_body"]

_BODY_KEYS = frozenset({"model", "input", "instructions", "stream"})
_ITEM_KEYS = frozenset({"type", "role", "content"})
_ITEM_CLASSES: dict[Any, type[Any]] = {
    "user": UserMessageItemParam,
    "system": SystemMessageItemParam,
    "developer": DeveloperMessageItemParam,
}
#: Each class's fields and their defaults, in field order: what validation fills in.
_DEFAULTS: dict[type[Any], dict[str, Any]] = {
    cls: {name: field.default for name, field in cls.model_fields.items()}
    for cls in (CreateResponseBody, UserMessageItemParam, SystemMessageItemParam, DeveloperMessageItemParam)
}
# A default made per instance (a factory) would be shared here: none of these fields has one.
assert not any(field.default_factory for cls in _DEFAULTS for field in cls.model_fields.values())


def _plain_item(item: Any) -> Any:
    """The input item validation builds from ``item``, a text message; ``None`` otherwise."""
    if type(item) is not dict or not item.keys() <= _ITEM_KEYS:
        return None
    cls = _ITEM_CLASSES.get(item.get("role"))
    content = item.get("content")
    if cls is None or type(item["role"]) is not str or type(content) is not str:
        return None
    if "type" in item and (type(item["type"]) is not str or item["type"] != "message"):
        return None
    values = dict(_DEFAULTS[cls])
    values["role"], values["content"] = item["role"], content
    return _model(cls, values, frozenset(item))


def plain_body(data: Mapping[str, Any]) -> CreateResponseBody | None:
    """``CreateResponseBody.model_validate(data)`` for a body of ``model``, ``instructions``,
    ``input`` (a string, or user / system / developer messages with string content) and
    ``stream: true``, each of its exact type; ``None`` for any other body (validate it)."""
    if type(data) is not dict or not data.keys() <= _BODY_KEYS:
        return None
    values = dict(_DEFAULTS[CreateResponseBody])
    for name in ("model", "instructions"):
        if name in data:
            if type(data[name]) is not str:
                return None
            values[name] = data[name]
    if "stream" in data:
        if data["stream"] is not True:
            return None
        values["stream"] = True
    if "input" in data:
        given = data["input"]
        if type(given) is str:
            if len(given) > _MAX_INPUT_CHARS:
                return None
            values["input"] = given
        elif type(given) is list:
            items = []
            for entry in given:
                item = _plain_item(entry)
                if item is None:
                    return None
                items.append(item)
            values["input"] = items
        else:
            return None
    body: CreateResponseBody = _model(CreateResponseBody, values, frozenset(data))
    return body
