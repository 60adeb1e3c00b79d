"""Unknown events arrive at run time; ``is_unknown_event`` picks them out (types: test_docs_typecheck)."""

from __future__ import annotations

import typing

from openresponses.types import OutputTextDeltaEvent, UnknownEvent, is_unknown_event, parse_event
from openresponses.types.events import StreamEvent


def test_unknown_events_are_parsed_and_recognised() -> None:
    event = parse_event('{"type":"acme:trace","sequence_number":4,"span":"s1"}')
    assert isinstance(event, UnknownEvent)
    assert is_unknown_event(event) and is_unknown_event(event, "acme:trace")
    assert not is_unknown_event(event, "openresponses:stream.restarted")
    assert event.model_extra == {"span": "s1"}


def test_known_events_are_not_unknown() -> None:
    event = parse_event(
        '{"type":"response.output_text.delta","sequence_number":3,"item_id":"m","output_index":0,'
        '"content_index":0,"delta":"Hi","logprobs":[]}'
    )
    assert isinstance(event, OutputTextDeltaEvent)
    assert not is_unknown_event(event) and not is_unknown_event(event, "response.output_text.delta")
    assert not is_unknown_event(object())


def test_the_runtime_union_still_lists_unknown_events() -> None:
    # Only type checkers see the Literal-tagged union; isinstance and pydantic see everything.
    assert UnknownEvent in typing.get_args(StreamEvent)
