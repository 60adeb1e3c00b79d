"""JSON-Schema validation against the bundled OpenAPI document (``openresponses/spec/openapi.json``).

OpenAPI 3.1 components are JSON Schema 2020-12, so one ``referencing`` registry holding the whole
document resolves every ``$ref`` (``#/components/schemas/...``) and a validator per component is
built on demand. ``jsonschema`` is an optional dependency (the ``check`` extra), imported here
lazily; the type tests use the same code through this module.

Messages are rewritten for people: jsonschema reports a failed ``oneOf`` (the item, content
and event unions) as "is not valid under any of the given schemas" with the whole instance; we
follow the branch whose ``type`` discriminator matches and report its errors instead.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

__all__ = ["SPEC_URI", "SpecSchemas", "load_spec", "require_jsonschema", "spec_schemas"]

SPEC_URI = "urn:openresponses:openapi"
_MAX_MESSAGE = 200
_INSTALL_HINT = "pip install 'openresponses-python[check]'"


def require_jsonschema() -> None:
    """Raise one clear ``ImportError`` naming the extra when ``jsonschema`` is missing."""
    try:
        import jsonschema  # type: ignore[import-untyped]  # noqa: F401
        import referencing  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"spec validation needs jsonschema: {_INSTALL_HINT}") from exc


def load_spec() -> dict[str, Any]:
    """A fresh parse of the bundled OpenAPI document (``info.version`` 2026-04-24)."""
    text = resources.files("openresponses").joinpath("spec/openapi.json").read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


class SpecSchemas:
    """Validators for the document's component schemas, by name (``"ResponseResource"``).

    ``validate`` raises ``jsonschema.ValidationError`` (for tests); ``problems`` returns short,
    path-prefixed messages (for reports). ``event_schema(type)`` maps an SSE event ``type`` to
    its schema name, read from the ``type`` enum of each ``*StreamingEvent`` component.
    """

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        require_jsonschema()
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.spec = spec if spec is not None else load_spec()
        self.schemas: dict[str, Any] = self.spec["components"]["schemas"]
        self._registry: Any = Registry().with_resource(
            SPEC_URI, Resource.from_contents(self.spec, default_specification=DRAFT202012)
        )
        self._validators: dict[str, Any] = {}
        self._events: dict[str, str] = {}
        for name, schema in self.schemas.items():
            if name.endswith("StreamingEvent"):
                for etype in schema.get("properties", {}).get("type", {}).get("enum", []):
                    self._events[etype] = name

    @property
    def event_types(self) -> frozenset[str]:
        """Every standard streaming event ``type`` in the document."""
        return frozenset(self._events)

    def event_schema(self, event_type: str) -> str | None:
        """The component name for an event ``type`` (``None`` when the spec has no such event)."""
        return self._events.get(event_type)

    def validator(self, name: str) -> Any:
        """The Draft 2020-12 validator for component ``name`` (``KeyError`` if unknown)."""
        if name not in self.schemas:
            raise KeyError(f"no component schema named {name!r} in the OpenAPI document")
        if name not in self._validators:
            from jsonschema import Draft202012Validator

            self._validators[name] = Draft202012Validator(
                {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}, registry=self._registry
            )
        return self._validators[name]

    def validate(self, name: str, instance: Any) -> None:
        """Raise ``jsonschema.ValidationError`` if ``instance`` violates component ``name``."""
        self.validator(name).validate(instance)

    def problems(self, name: str, instance: Any, *, limit: int = 10) -> list[str]:
        """Short messages, one per violation (``"output/0/content/0: 'annotations' is required"``)."""
        errors = sorted(self.validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
        out: list[str] = []
        for error in errors:
            for leaf in _explain(error):
                message = _format(leaf)
                if message not in out:
                    out.append(message)
        if len(out) > limit:
            out = [*out[:limit], f"... and {len(out) - limit} more schema problem(s)"]
        return out


@functools.cache
def spec_schemas() -> SpecSchemas:
    """The shared :class:`SpecSchemas` over the bundled document (built once per process)."""
    return SpecSchemas()


def _explain(error: Any) -> list[Any]:
    """The errors worth showing for ``error``: for a failed union, those of the matching branch."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[int, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.schema_path[0]), []).append(sub)
    here = list(error.absolute_path)
    plausible = {i: subs for i, subs in branches.items() if not _ruled_out(subs, here)}
    if not plausible:
        discriminator = error.instance.get("type") if isinstance(error.instance, dict) else None
        if discriminator is not None:
            return [_Leaf(here, f"type {discriminator!r} is not one of the types allowed here")]
        expected = [
            str(sub.validator_value)
            for sub in error.context
            if sub.validator == "type" and list(sub.absolute_path) == here
        ]
        if expected:
            shown = _short(repr(error.instance))
            return [_Leaf(here, f"{shown} is not of type {' or '.join(dict.fromkeys(expected))}")]
        return [error]
    # Prefer the branch that got furthest (fewest, then deepest errors): the intended one.
    best = min(plausible.values(), key=lambda subs: (len(subs), -max(len(s.absolute_path) for s in subs)))
    return [leaf for sub in best for leaf in _explain(sub)]


def _ruled_out(errors: Iterable[Any], here: list[Any]) -> bool:
    """A branch is the wrong one when its discriminator or the instance's JSON type differs."""
    for sub in errors:
        path = list(sub.absolute_path)
        if path == here and sub.validator == "type":
            return True
        if path == [*here, "type"] and sub.validator in ("enum", "const"):
            return True
    return False


class _Leaf:
    """A synthetic error (a path and a message) for cases jsonschema words badly."""

    validator = "synthetic"
    context: list[Any] = []  # noqa: RUF012 - read-only, mirrors ValidationError.context

    def __init__(self, path: list[Any], message: str) -> None:
        self.absolute_path = path
        self.message = message


def _short(text: str, limit: int = _MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _format(error: Any) -> str:
    path = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return f"{path}: {_short(str(error.message))}"
