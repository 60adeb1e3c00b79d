"""Event builders and the shared stream assertions."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

from .._extras import MissingExtraError
from ..types import LIFECYCLE_EVENT_TYPES, TERMINAL_EVENT_TYPES, CreateResponseBody, StreamEvent
from ._script import Chunks, function_call, text

__all__ = ["assert_valid_stream", "function_call_events", "text_events"]

_SPEC_URI = "urn:openresponses:openapi"
_PART_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.output_text.done",
        "response.output_text.annotation.added",
        "response.refusal.delta",
        "response.refusal.done",
        "response.reasoning.delta",
        "response.reasoning.done",
    }
)
_SUMMARY_DELTAS = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_summary_text.done"})


def text_events(
    text_: str = "Hello world",
    *,
    chunks: Chunks = None,
    reasoning: str | None = None,
    reasoning_text: str | None = None,
    model: str = "test-model",
    usage: Mapping[str, Any] | None = None,
) -> list[StreamEvent]:
    """A complete, spec-ordered text stream (``response.created`` ... ``response.completed``)."""
    scenario = text(text_, chunks=chunks, reasoning=reasoning, reasoning_text=reasoning_text, usage=usage)
    return scenario.events(CreateResponseBody(model=model))


def function_call_events(
    name: str,
    arguments: str | Mapping[str, Any] = "{}",
    *,
    call_id: str | None = None,
    model: str = "test-model",
) -> list[StreamEvent]:
    """A complete, spec-ordered function-call stream."""
    return function_call(name, arguments, call_id=call_id).events(CreateResponseBody(model=model))


def assert_valid_stream(
    events: Iterable[StreamEvent | Mapping[str, Any]], *, schema: bool = True, complete: bool = True
) -> None:
    """Assert the README §10-§11 stream rules; raise ``AssertionError`` naming the first violation.

    Checks: ``sequence_number`` strictly increases; exactly one terminal event and it is last
    (``complete=False`` accepts a stream cut short, without a terminal event); every
    ``output_item.added`` / ``content_part.added`` / ``reasoning_summary_part.added`` has its
    ``done``; deltas only inside an open part or item; an ``error`` is followed by
    ``response.failed``; and (``schema=True``) every standard event validates against the spec's
    JSON schema. Slug-prefixed extension events (``acme:trace``) are allowed anywhere.
    """
    dicts = [e if isinstance(e, Mapping) else e.model_dump(mode="json", exclude_unset=True) for e in events]
    validate = _validator() if schema else None
    assert dicts, "empty stream"
    last_seq: int | None = None
    items: set[int] = set()
    parts: set[tuple[int, int]] = set()
    summaries: set[tuple[int, int]] = set()
    terminal_at: int | None = None

    def where(i: int, data: Mapping[str, Any]) -> str:
        return f"event #{i} ({data.get('type')!r}, seq {data.get('sequence_number')})"

    for i, data in enumerate(dicts):
        etype = str(data.get("type"))
        seq = data.get("sequence_number")
        assert isinstance(seq, int), f"{where(i, data)}: sequence_number missing"
        assert last_seq is None or seq > last_seq, f"{where(i, data)}: sequence_number not above {last_seq}"
        last_seq = seq
        assert terminal_at is None, f"{where(i, data)}: after the terminal event #{terminal_at}"
        if ":" in etype:  # extension event: no further rules
            continue
        if validate is not None:
            validate(etype, data, where(i, data))
        if (
            i < 2
            and etype not in LIFECYCLE_EVENT_TYPES
            and etype not in TERMINAL_EVENT_TYPES
            and etype != "error"
        ):
            raise AssertionError(f"{where(i, data)}: the stream must start with response.created")
        index: Any = data.get("output_index")
        if etype == "response.output_item.added":
            assert index not in items, f"{where(i, data)}: output_index {index} added twice"
            items.add(int(index))
        elif etype == "response.output_item.done":
            assert index in items, f"{where(i, data)}: output_index {index} done but never added"
            assert not any(p[0] == index for p in parts), f"{where(i, data)}: a content part is still open"
            assert not any(s[0] == index for s in summaries), (
                f"{where(i, data)}: a summary part is still open"
            )
            items.discard(int(index))
        elif etype == "response.content_part.added":
            assert index in items, f"{where(i, data)}: content part of an item that is not open"
            parts.add((int(index), int(data["content_index"])))
        elif etype == "response.content_part.done":
            key = (int(index), int(data["content_index"]))
            assert key in parts, f"{where(i, data)}: content part {key} done but never added"
            parts.discard(key)
        elif etype in _PART_DELTAS:
            key = (int(index), int(data["content_index"]))
            assert key in parts, f"{where(i, data)}: outside an open content part {key}"
        elif etype == "response.reasoning_summary_part.added":
            assert index in items, f"{where(i, data)}: summary part of an item that is not open"
            summaries.add((int(index), int(data["summary_index"])))
        elif etype == "response.reasoning_summary_part.done":
            key = (int(index), int(data["summary_index"]))
            assert key in summaries, f"{where(i, data)}: summary part {key} done but never added"
            summaries.discard(key)
        elif etype in _SUMMARY_DELTAS:
            key = (int(index), int(data["summary_index"]))
            assert key in summaries, f"{where(i, data)}: outside an open summary part {key}"
        elif etype.startswith("response.function_call_arguments."):
            assert index in items, f"{where(i, data)}: arguments of an item that is not open"
        elif etype == "error":
            following = dicts[i + 1].get("type") if i + 1 < len(dicts) else None
            assert following == "response.failed", f"{where(i, data)}: not followed by response.failed"
        elif etype in TERMINAL_EVENT_TYPES:
            terminal_at = i
            assert not items, f"{where(i, data)}: output items {sorted(items)} still open"
    if complete:
        assert terminal_at is not None, "no terminal event (completed, incomplete or failed)"


@functools.cache
def _validator() -> Callable[[str, Mapping[str, Any], str], None]:
    try:
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError("assert_valid_stream(schema=True)", "check", missing=exc.name) from None
    spec = json.loads(
        resources.files("openresponses").joinpath("spec/openapi.json").read_text(encoding="utf-8")
    )
    schemas: dict[str, Any] = spec["components"]["schemas"]
    registry: Registry[Any] = Registry().with_resource(
        _SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    by_type: dict[str, Any] = {}
    for name, schema in schemas.items():
        if name.endswith("StreamingEvent"):
            for etype in schema.get("properties", {}).get("type", {}).get("enum", []):
                by_type[etype] = Draft202012Validator(
                    {"$ref": f"{_SPEC_URI}#/components/schemas/{name}"}, registry=registry
                )

    def validate(etype: str, data: Mapping[str, Any], where: str) -> None:
        validator = by_type.get(etype)
        if validator is None:
            raise AssertionError(f"{where}: unknown event type {etype!r} (extensions must be slug-prefixed)")
        errors = sorted(validator.iter_errors(dict(data)), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            path = "/".join(str(p) for p in first.absolute_path) or "(event)"
            raise AssertionError(f"{where}: violates the spec schema at {path}: {first.message}")

    return validate
