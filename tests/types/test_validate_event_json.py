"""``validate_event_json``: the strict first step of ``parse_event``, public for fast decoders."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openresponses.types import OutputTextDeltaEvent, UnknownEvent, events, parse_event

_DELTA = (
    b'{"type":"response.output_text.delta","sequence_number":3,"item_id":"m1",'
    b'"output_index":0,"content_index":0,"delta":"Hi"}'
)


def test_it_is_public_and_the_old_private_name_still_works() -> None:
    assert "validate_event_json" in events.__all__
    assert events._validate_event is events.validate_event_json


def test_a_standard_event_validates_from_bytes_or_str() -> None:
    for payload in (_DELTA, _DELTA.decode()):
        event = events.validate_event_json(payload)
        assert isinstance(event, OutputTextDeltaEvent)
        assert event.delta == "Hi"


def test_an_unknown_type_raises_where_parse_event_falls_back() -> None:
    payload = b'{"type":"vendor.thing","sequence_number":1}'
    with pytest.raises(ValidationError):
        events.validate_event_json(payload)
    assert isinstance(parse_event(payload), UnknownEvent)
