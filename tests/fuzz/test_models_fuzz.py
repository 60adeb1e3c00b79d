"""Arbitrary JSON into the event and response models raises only validation errors.

``validate_event_json`` / ``parse_event`` / ``parse_events`` and the response and request models
may reject input only with pydantic's ``ValidationError``, and the stream-level decoder only with
``ProtocolError``. Whatever parses must serialise again (what a proxy does with every event).
Inputs are random JSON and, to reach deep into the models, valid events with one value replaced
by random JSON, or one key dropped.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from openresponses import ProtocolError
from openresponses._decode import decode_events
from openresponses._emit import EventBuilder
from openresponses._sse import ServerSentEvent, encode_event
from openresponses.types import CreateResponseBody, Response, parse_event, parse_events
from openresponses.types.events import validate_event_json


def _valid_events() -> list[dict[str, Any]]:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    r = b.start_reasoning()
    b.summary(r, "think")
    b.reasoning_text(r, "raw")
    b.end_item(r)
    m = b.start_message()
    b.text(m, "Hi")
    b.refusal(m, "no")
    b.end_item(m)
    f = b.start_function_call("f", call_id="c")
    b.arguments(f, "{}")
    b.end_item(f)
    b.fail("boom")
    return [json.loads(event.model_dump_json()) for event in b.drain()]


VALID = _valid_events()
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid event with one value replaced by random JSON, or one key removed."""
    event = json.loads(json.dumps(draw(st.sampled_from(VALID))))
    path = draw(st.sampled_from(_paths(event)[1:]))
    parent = event
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSON)
    return event


PAYLOADS = st.one_of(
    mutated().map(lambda v: json.dumps(v).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
)


@settings(max_examples=150, deadline=None)
@given(PAYLOADS)
def test_event_parsers_raise_only_validation_errors(payload: bytes) -> None:
    for parse in (validate_event_json, parse_event):
        try:
            event = parse(payload)
        except ValidationError:
            continue
        wire = encode_event(event)
        assert wire.endswith(b"\n\n")


@settings(max_examples=60, deadline=None)
@given(st.lists(PAYLOADS, min_size=1, max_size=4))
def test_batches_raise_validation_errors_and_decoding_protocol_errors(payloads: list[bytes]) -> None:
    try:
        events = parse_events(payloads)
    except ValidationError:
        pass
    else:
        assert len(events) == len(payloads)
    try:
        decoded = decode_events([ServerSentEvent(p) for p in payloads])
    except ProtocolError as exc:
        assert len(exc.events) < len(payloads)
    else:
        assert len(decoded) == sum(p != b"[DONE]" for p in payloads)


@settings(max_examples=60, deadline=None)
@given(st.one_of(mutated().map(lambda e: e.get("response", e)), JSON))
def test_response_and_request_models_raise_only_validation_errors(value: Any) -> None:
    for model in (Response, CreateResponseBody):
        try:
            parsed = model.model_validate(value)
        except ValidationError:
            continue
        parsed.model_dump_json()
