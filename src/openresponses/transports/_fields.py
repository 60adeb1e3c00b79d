"""Which fields of a request body a translating dialect must carry, shared by every adapter.

A translating adapter (chat, Anthropic, Gemini, Bedrock) never drops a field silently: what it
cannot send raises :class:`~openresponses.RequestValidationError` naming the field, before
anything is sent. The pieces every adapter shares live here, so the adapters differ only in
their tables: :class:`Rejecter` (the error, under the adapter's message prefix),
:func:`set_fields` (the unsupported-field check), :func:`reject_server_state` (the fields that
need server-side state no upstream keeps for us), :func:`function_tools` and
:func:`allowed_tool_names` (the tool checks), and the field sets the tables are built from.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from pydantic import BaseModel

from .._errors import RequestValidationError
from ..types import CreateResponseBody
from ..types.content import UnknownAnnotation, UnknownContent
from ..types.items import FunctionCallItemParam, UnknownItem, UnknownItemParam
from ..types.text import UnknownTextFormat
from ..types.tools import AllowedToolsChoice, FunctionToolParam, UnknownTool, UnknownToolChoice

__all__ = [
    "CLIENT_BOOKKEEPING_FIELDS",
    "CORE_FIELDS",
    "SENT_BACK_KEYS",
    "SERVER_STATE_FIELDS",
    "Reject",
    "Rejecter",
    "allowed_tool_names",
    "function_tools",
    "nested_extra",
    "reject_nested_extras",
    "reject_server_state",
    "set_fields",
]

#: Fields a Codex-style client sends on every call that mean nothing to a translated upstream:
#: accepted and not forwarded (forwarding ``store`` or ``metadata`` would mean something else
#: there). Each adapter's ``HARMLESS_FIELDS`` adds its own few to these.
CLIENT_BOOKKEEPING_FIELDS: frozenset[str] = frozenset(
    {"include", "prompt_cache_key", "client_metadata", "store", "metadata", "truncation", "stream_options"}
)
#: The spec fields every translating adapter maps onto its upstream's request: the conversation,
#: tools, output format, sampling, the token limit and reasoning. Each adapter's ``_TRANSLATED``
#: adds its own few to these; a spec field in none of an adapter's sets is refused.
CORE_FIELDS: frozenset[str] = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "text",
        "temperature",
        "top_p",
        "parallel_tool_calls",
        "max_output_tokens",
        "reasoning",
    }
)
#: The spec fields :func:`reject_server_state` checks: an adapter calling it lists them as translated.
SERVER_STATE_FIELDS: frozenset[str] = frozenset(
    {"previous_response_id", "background", "max_tool_calls", "top_logprobs"}
)
_NEEDS_STORE = "needs a response store: add the store middleware, which expands the history into input"


class Reject(Protocol):
    """The adapter's ``reject``: raise ``RequestValidationError`` for ``<what> <detail>``."""

    def __call__(self, what: str, detail: str = ..., *, loc: Sequence[str | int] = ...) -> NoReturn: ...


@dataclass(frozen=True, slots=True)
class Rejecter:
    """Raises an adapter's ``RequestValidationError``: ``<prefix>: <what> <detail>``.

    One per adapter (``reject = Rejecter("gemini adapter")``), so every message names the
    adapter that refused the request and the error entry carries the field's ``loc``.
    """

    prefix: str

    def __call__(
        self, what: str, detail: str = "is not supported", *, loc: Sequence[str | int] = ()
    ) -> NoReturn:
        """Raise ``RequestValidationError`` (type ``unsupported``): ``<prefix>: <what> <detail>``."""
        message = f"{self.prefix}: {what} {detail}"
        raise RequestValidationError(message, [{"loc": tuple(loc), "msg": message, "type": "unsupported"}])

    def invalid(self, name: str, detail: str, *, msg: str | None = None) -> NoReturn:
        """Raise ``RequestValidationError`` (type ``type_error``): ``<prefix>: field '<name>' <detail>``.

        For an extension field of the wrong type; the error entry's ``msg`` is ``msg`` (default
        ``detail``).
        """
        raise RequestValidationError(
            f"{self.prefix}: field {name!r} {detail}",
            [{"loc": (name,), "msg": detail if msg is None else msg, "type": "type_error"}],
        )


def set_fields(
    body: CreateResponseBody,
    *,
    translated: Set[str],
    extensions: Set[str],
    harmless: Set[str],
    reject: Reject,
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


def reject_nested_extras(body: CreateResponseBody, present: Set[str], reject: Reject) -> None:
    """Refuse a key no Open Responses model has, at any depth of ``input``, ``tools``,
    ``tool_choice`` and ``text.format`` (those of the ``present`` fields, from
    :func:`set_fields`): see :func:`nested_extra`. An adapter calls it once its translation has
    passed, so its own, more telling refusals (``input_image without image_url``) win. The
    keys of ``text`` and ``reasoning`` themselves are each adapter's to take or refuse
    (Anthropic's ``reasoning.budget_tokens``)."""
    where = None
    if "input" in present and isinstance(body.input, list):
        for index, item in enumerate(body.input):
            skip = _CALL_SENT_BACK_KEYS if type(item) is FunctionCallItemParam else SENT_BACK_KEYS
            where = nested_extra(item, ("input", index), skip=skip)
            if where is not None:
                break
    if where is None and "tools" in present:
        where = nested_extra(body.tools, ("tools",))
    if where is None and "tool_choice" in present:
        where = nested_extra(body.tool_choice, ("tool_choice",))
    if where is None and "text" in present and body.text is not None:
        where = nested_extra(body.text.format, ("text", "format"))
    if where is not None:
        path = ".".join(str(part) for part in where)
        reject(f"field {path!r}", "is not supported (not an Open Responses field)", loc=where)


#: Keys an item has when a response's output is sent back as input (``input += output``), which
#: no input item takes (the spec's ``status`` on reasoning, a compaction's ``created_by``, a
#: message's ``phase``): bookkeeping of the response they came from, accepted and not sent.
SENT_BACK_KEYS: frozenset[str] = frozenset({"status", "created_by", "phase"})
#: A function call's, plus ``encrypted_content``, where the Gemini adapter carries the call's
#: thought signature (read back by that adapter, ignored by the others, as PROVIDERS.md says).
_CALL_SENT_BACK_KEYS = SENT_BACK_KEYS | {"encrypted_content"}

#: Models of a type this library does not know: every key of theirs is "extra". The adapter
#: refuses them by their ``type`` ("content part 'x' is not supported"), which says more.
_OPAQUE = (
    UnknownAnnotation,
    UnknownContent,
    UnknownItem,
    UnknownItemParam,
    UnknownTextFormat,
    UnknownTool,
    UnknownToolChoice,
)


def nested_extra(
    value: object, loc: tuple[str | int, ...], *, skip: Set[str] = frozenset()
) -> tuple[str | int, ...] | None:
    """Where in ``value`` (a model or a list of them, found at ``loc``) the first key that is
    no field of its model sits (``input.0.content.1.cache_control``), or ``None``. Keys in
    ``skip`` are accepted on ``value`` itself (on each element of a list), not deeper.

    Why: models keep unknown keys (``extra="allow"``), and a translation reads only the fields
    it knows, so such a key (a vendor's ``cache_control`` on a content part, a typo) would be
    dropped without a word. A key whose value is ``null`` counts as absent, as at the top level.
    Free-form values (a tool's JSON schema, ``metadata``) are dicts, not models: not looked into.
    It runs on every translated request, so types are tested by identity (a cached verdict per
    class), not with ``isinstance`` on pydantic's metaclass.
    """
    kind = type(value)
    if isinstance(value, list):
        for index, item in enumerate(value):
            item_kind = type(item)
            if item_kind is list or _inspected(item_kind):
                where = nested_extra(item, (*loc, index), skip=skip)
                if where is not None:
                    return where
        return None
    if not _inspected(kind):
        return None
    extra = value.__pydantic_extra__  # type: ignore[attr-defined]
    if extra:
        for key in sorted(extra):
            if extra[key] is not None and key not in skip:
                return (*loc, key)
    for name, field_value in value.__dict__.items():
        field_kind = type(field_value)
        if field_kind is list or _inspected(field_kind):
            info = kind.model_fields.get(name)  # type: ignore[attr-defined]
            where = nested_extra(field_value, (*loc, (info.alias if info is not None else None) or name))
            if where is not None:
                return where
    return None


_INSPECTED: dict[type, bool] = {}


def _inspected(kind: type) -> bool:
    """Whether values of ``kind`` are models to look into (not an ``Unknown*`` one)."""
    verdict = _INSPECTED.get(kind)
    if verdict is None:
        verdict = _INSPECTED[kind] = issubclass(kind, BaseModel) and not issubclass(kind, _OPAQUE)
    return verdict


def reject_server_state(
    body: CreateResponseBody,
    present: Set[str],
    reject: Reject,
    *,
    logprobs: str = "logprobs are not translated",
    drop: Set[str] = frozenset(),
) -> None:
    """Reject the :data:`SERVER_STATE_FIELDS` ``body`` sets (``present``, from :func:`set_fields`).

    ``previous_response_id`` (the store middleware expands it), ``background``,
    ``max_tool_calls`` and ``top_logprobs`` ask for state or output a translated upstream does
    not keep; ``background=False`` and ``top_logprobs=0`` ask for nothing and pass. ``logprobs``
    says why there are none; ``drop``-ped fields are skipped (the preset drops them silently).
    """

    def wanted(name: str) -> bool:
        return name in present and name not in drop

    if wanted("previous_response_id"):
        reject("field 'previous_response_id'", _NEEDS_STORE, loc=("previous_response_id",))
    if wanted("background") and body.background:
        reject("field 'background'", loc=("background",))
    if wanted("max_tool_calls"):
        reject("field 'max_tool_calls'", loc=("max_tool_calls",))
    if wanted("top_logprobs") and body.top_logprobs:
        reject("field 'top_logprobs'", f"is not supported ({logprobs})", loc=("top_logprobs",))


def function_tools(tools: Iterable[object] | None, reject: Reject) -> list[FunctionToolParam]:
    """``tools`` (``None``: none), each a function tool; any other (a hosted tool) is refused, naming it."""
    functions: list[FunctionToolParam] = []
    for index, tool in enumerate(tools or ()):
        if not isinstance(tool, FunctionToolParam):
            reject(
                f"tool type {getattr(tool, 'type', None)!r}",
                "is not supported (only function tools)",
                loc=("tools", index),
            )
        functions.append(tool)
    return functions


def allowed_tool_names(choice: AllowedToolsChoice, names: Container[str], reject: Reject) -> list[str | None]:
    """The names an ``allowed_tools`` choice lists, in order; one not among ``names`` is refused."""
    allowed = [entry.name for entry in choice.tools]
    unknown = [name for name in allowed if name not in names]
    if unknown:
        reject(f"allowed_tools {unknown[0]!r}", "is not among the tools", loc=("tool_choice", "tools"))
    return allowed
