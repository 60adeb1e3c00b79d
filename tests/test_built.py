"""``_built.message_response`` builds exactly the ``Response`` that validation builds, or declines;
``_built.message_json`` writes exactly the JSON its ``model_dump_json`` writes, or declines.

Over generated request bodies (every echoed setting, of its own type or not, plus the settings
that need validating: tools, a text format, a tool choice, reasoning) and usage shapes: when it
answers, the instance equals ``Response.model_validate`` of the same dict in every slot pydantic
keeps (``__dict__`` and its order, fields set, extra, private), nested models included, and
serializes and prints the same; it declines whenever a value is not of its exact type.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from openresponses._built import message_json, message_response
from openresponses._emit_state import response_skeleton
from openresponses.types import CreateResponseBody, Message, Response, Usage

_short = st.text(min_size=1, max_size=8)

BODIES = st.fixed_dictionaries(
    {},
    optional={
        "model": _short,
        "instructions": _short,
        "previous_response_id": _short,
        "truncation": st.sampled_from(["auto", "disabled"]),
        "parallel_tool_calls": st.booleans(),
        "top_p": st.floats(0, 1),
        "temperature": st.floats(0, 2),
        "presence_penalty": st.floats(-2, 2),
        "frequency_penalty": st.floats(-2, 2),
        "top_logprobs": st.integers(0, 20),
        "max_output_tokens": st.integers(16, 10_000),
        "max_tool_calls": st.integers(1, 50),
        "store": st.booleans(),
        "background": st.booleans(),
        "service_tier": st.sampled_from(["auto", "default", "flex", "priority"]),
        "metadata": st.dictionaries(_short, _short, max_size=3),
        "safety_identifier": _short,
        "prompt_cache_key": _short,
        # The settings whose echo needs validating: message_response declines them.
        "tools": st.just([{"type": "function", "name": "f", "parameters": {"type": "object"}}]),
        "text": st.just({"format": {"type": "json_object"}}),
        "tool_choice": st.sampled_from(["auto", "none", {"type": "function", "name": "f"}]),
        "reasoning": st.just({"effort": "low"}),
    },
)
_count = st.integers(0, 10**6)
USAGE = st.one_of(
    st.none(),
    st.builds(
        lambda i, o, c, r: {
            "input_tokens": i,
            "output_tokens": o,
            "total_tokens": i + o,
            "input_tokens_details": {"cached_tokens": c},
            "output_tokens_details": {"reasoning_tokens": r},
        },
        _count,
        _count,
        _count,
        _count,
    ),
)


def same(built: Any, validated: Any, path: str = "response") -> None:
    """Equal in every slot pydantic keeps, recursively, and in the order of ``__dict__``."""
    assert type(built) is type(validated), path
    if isinstance(built, BaseModel):
        assert list(built.__dict__) == list(validated.__dict__), path
        assert built.__pydantic_fields_set__ == validated.__pydantic_fields_set__, path
        assert built.__pydantic_extra__ == validated.__pydantic_extra__, path
        assert built.__pydantic_private__ == validated.__pydantic_private__, path
        for name, value in built.__dict__.items():
            same(value, validated.__dict__[name], f"{path}.{name}")
    elif isinstance(built, list):
        assert len(built) == len(validated), path
        for index, (a, b) in enumerate(zip(built, validated, strict=True)):
            same(a, b, f"{path}[{index}]")
    else:
        assert built == validated and type(built) is type(validated), path


def validated(body: CreateResponseBody | None, usage: dict[str, Any] | None) -> Response:
    """The old way: the skeleton's dict, validated."""
    item = {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello.", "annotations": []}],
    }
    skeleton = response_skeleton(body, id="resp_1", model="upstream-model", created_at=10)
    data = dict(skeleton, status="completed", output=[item], usage=usage, completed_at=20)
    return Response.model_validate(data)


def build(body: CreateResponseBody | None, usage: Any, text: str = "Hello.") -> Response | None:
    return message_response(
        body,
        response_id="resp_1",
        message_id="msg_1",
        text=text,
        model="upstream-model",
        created_at=10,
        completed_at=20,
        usage=usage,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES, USAGE)
def test_it_builds_what_validation_builds_or_declines(data: dict[str, Any], usage: Any) -> None:
    body = CreateResponseBody.model_validate(data)
    built = build(body, usage)
    needs_validation = any(name in data for name in ("tools", "text", "tool_choice", "reasoning"))
    if needs_validation:
        assert built is None
        return
    assert built is not None
    expected = validated(body, usage)
    same(built, expected)
    assert built == expected
    assert built.model_dump_json() == expected.model_dump_json()
    assert built.model_dump_json(by_alias=True, exclude_unset=True) == expected.model_dump_json(
        by_alias=True, exclude_unset=True
    )
    assert repr(built) == repr(expected)
    if body.metadata is not None:
        assert built.metadata is not body.metadata  # a copy, as the skeleton makes: no aliasing


def test_no_body_is_the_default_settings() -> None:
    built = build(None, None)
    assert built is not None
    same(built, validated(None, None))


@pytest.mark.parametrize(
    "field, value",
    [
        ("top_p", 1),  # an int where validation gives a float
        ("temperature", True),
        ("instructions", ["not", "a", "string"]),
        ("store", 1),
        ("max_output_tokens", 100.0),
        ("metadata", {1: "x"}),
    ],
)
def test_a_value_not_of_its_exact_type_is_declined(field: str, value: Any) -> None:
    body = CreateResponseBody.model_construct(**{field: value})  # as a caller's unchecked body
    assert build(body, None) is None


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": 1, "output_tokens": 2},  # keys missing
        {
            "input_tokens": 1.0,
            "output_tokens": 2,
            "total_tokens": 3,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
        {
            "input_tokens": 1,
            "output_tokens": 2,
            "total_tokens": 3,
            "input_tokens_details": {"cached_tokens": 0, "audio_tokens": 1},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    ],
)
def test_usage_not_in_the_plain_shape_is_declined(usage: dict[str, Any]) -> None:
    assert build(None, usage) is None


# -- message_json ------------------------------------------------------------------------------


def dumped(response: Response) -> bytes:
    """What the served proxy wrote before ``message_json``: the model's own serializer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an altered value of another type: pydantic warns, then writes it
        return response.model_dump_json(by_alias=True, exclude_unset=True).encode()


# Any text, escapes and non-ASCII included (lone surrogates: see the test below).
TEXTS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES, USAGE, TEXTS)
def test_message_json_writes_what_the_model_writes(data: dict[str, Any], usage: Any, text: str) -> None:
    built = build(CreateResponseBody.model_validate(data), usage, text)
    if built is None:
        return
    assert message_json(built) == dumped(built)


SCALAR_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)
ODD_VALUES = st.one_of(
    SCALAR_VALUES,
    st.lists(SCALAR_VALUES, max_size=2),
    st.dictionaries(st.text(max_size=3), SCALAR_VALUES, max_size=2),
    st.just(
        Usage.model_validate(
            {
                "input_tokens": 1,
                "output_tokens": 2,
                "total_tokens": 3,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
        )
    ),
    st.just(b"bytes"),
    st.just(("a", "tuple")),
)
PLACES = st.sampled_from(
    [
        *((response_field,) for response_field in Response.model_fields),
        ("output", 0, "id"),
        ("output", 0, "status"),
        ("output", 0, "content"),
        ("output", 0, "phase"),
        ("output", 0, "content", 0, "text"),
        ("output", 0, "content", 0, "annotations"),
        ("output", 0, "content", 0, "logprobs"),
        ("text", "format"),
        ("text", "verbosity"),
        ("text", "format", "type"),
        ("usage", "input_tokens"),
        ("usage", "input_tokens_details"),
        ("usage", "output_tokens_details", "reasoning_tokens"),
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(USAGE, st.lists(st.tuples(PLACES, ODD_VALUES), min_size=1, max_size=3))
def test_an_altered_response_is_written_as_the_model_writes_it_or_declined(
    usage: Any, changes: list[tuple[tuple[Any, ...], Any]]
) -> None:
    """A layer may change the response after it was built (assignment, as pydantic allows
    without validation): what ``message_json`` writes is still the model's JSON, or nothing."""
    built = build(None, usage)
    assert built is not None
    for place, value in changes:
        owner: Any = built
        for step in place[:-1]:  # down to the model holding the field (a list: by index)
            # An earlier change may have put something else on the way: then this one is skipped.
            if isinstance(step, int) and not (isinstance(owner, list) and len(owner) > step):
                break
            if isinstance(step, str) and not isinstance(owner, BaseModel):
                break
            owner = owner[step] if isinstance(step, int) else getattr(owner, step, None)
        else:
            if isinstance(owner, BaseModel):
                setattr(owner, place[-1], value)
    ours, theirs = outcome(lambda: message_json(built)), outcome(lambda: dumped(built))
    if ours is not None:
        assert ours == theirs


def outcome(write: Any) -> Any:
    """What a writer gives: its bytes, or the type of what it raised."""
    try:
        return write()
    except Exception as exc:  # a lone surrogate, ...: each writer must fail the same way
        return type(exc)


def test_other_shapes_are_declined() -> None:
    plain = build(None, None)
    assert plain is not None and message_json(plain) == dumped(plain)
    validated_tools = Response.model_validate(
        {
            **plain.model_dump(),
            "tools": [
                {"type": "function", "name": "f", "parameters": {}, "description": None, "strict": None}
            ],
        }
    )
    assert message_json(validated_tools) is None
    two = plain.model_copy(update={"output": [*plain.output, *plain.output]})
    assert message_json(two) is None
    extra = Response.model_validate({**plain.model_dump(), "vendor_field": 1})
    assert message_json(extra) is None

    class Mine(Response):
        pass

    assert message_json(Mine.model_validate(plain.model_dump())) is None
    not_a_message = plain.model_copy(deep=True)
    not_a_message.output[0] = Message.model_validate(
        {
            "type": "message",
            "id": "m",
            "status": "completed",
            "role": "assistant",
            "content": [],
            "phase": None,
        }
    )
    assert message_json(not_a_message) is None  # other fields set (phase), no content


def test_inf_and_nan_are_written_as_the_model_writes_them() -> None:
    built = build(None, None)
    assert built is not None
    built.temperature, built.top_p = math.inf, math.nan
    written = message_json(built)
    assert written is not None and written == dumped(built)
    assert b'"temperature":null' in written


def test_a_lone_surrogate_fails_as_the_model_fails() -> None:
    """Text with a lone surrogate (a ``\\ud800`` escape an upstream sent): both writers refuse it."""
    built = build(None, None, "bad \ud800 text")
    assert built is not None
    with pytest.raises(Exception) as ours:
        message_json(built)
    with pytest.raises(Exception) as theirs:
        dumped(built)
    assert type(ours.value) is type(theirs.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS, st.lists(st.tuples(PLACES, ODD_VALUES), max_size=2))
def test_message_dict_is_the_items_to_dict_or_declines(
    text: str, changes: list[tuple[tuple[Any, ...], Any]]
) -> None:
    """The store's record of an output item (``StoredResponse.from_response``): the plain
    message's dict is what ``to_dict`` gives, altered or not; anything else declines."""
    from openresponses._built import message_dict
    from openresponses.store import StoredResponse

    built = build(None, None, text)
    assert built is not None
    for place, value in changes:
        if place[0] == "output" and len(place) > 3 and isinstance(built.output[0].content, list):
            owner = built.output[0].content[0] if built.output[0].content else None
            if isinstance(owner, BaseModel):
                setattr(owner, place[-1], value)
        elif place[0] == "output" and len(place) == 3:
            setattr(built.output[0], place[-1], value)
    item = built.output[0]
    plain = message_dict(item)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = item.to_dict()
        record = StoredResponse.from_response(built, []).output
    if plain is not None:
        assert plain == expected and list(plain) == list(expected)
    assert record == (expected,)
    if not changes:
        assert plain is not None  # the shape message_response builds is always taken


# -- plain_body ---------------------------------------------------------------------------------

_ANY = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(), _short, st.just(["x"]))
_ROLE = st.one_of(st.sampled_from(["user", "system", "developer", "assistant", "tool", "User"]), _ANY)
_ITEM = st.dictionaries(
    st.sampled_from(["type", "role", "content", "id", "status"]),
    st.one_of(_ANY, st.just("message"), _ROLE, st.text(max_size=6)),
    max_size=5,
)
_PLAIN_ITEM = st.builds(
    lambda role, content, typed: (
        {"type": "message", "role": role, "content": content} if typed else {"role": role, "content": content}
    ),
    st.sampled_from(["user", "system", "developer"]),
    st.text(max_size=6),
    st.booleans(),
)
_BODY_VALUES = {
    "model": st.one_of(_short, st.just(""), _ANY),
    "instructions": st.one_of(_short, st.just(""), _ANY),
    "input": st.one_of(st.text(max_size=6), _ANY, st.lists(st.one_of(_PLAIN_ITEM, _ITEM), max_size=3)),
    "stream": st.one_of(st.just(True), _ANY),
    "temperature": st.floats(0, 2),
    "vendor": _ANY,
}
ANY_BODIES = st.fixed_dictionaries({}, optional=_BODY_VALUES)
PLAIN_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "model": _short,
        "instructions": _short,
        "input": st.one_of(st.text(max_size=6), st.lists(_PLAIN_ITEM, max_size=3)),
        "stream": st.just(True),
    },
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(ANY_BODIES, PLAIN_BODIES))
def test_plain_body_builds_what_validation_builds_or_declines(data: dict[str, Any]) -> None:
    from openresponses._built_body import plain_body
    from openresponses._client import _check_json

    built = plain_body(data)
    if built is None:
        return
    expected = CreateResponseBody.model_validate(data)  # validation accepts whatever it takes
    _check_json(data)
    same(built, expected, "body")
    assert built == expected and repr(built) == repr(expected)
    assert built.model_dump_json(exclude_unset=True) == expected.model_dump_json(exclude_unset=True)
    if isinstance(data.get("input"), list):
        assert built.input is not data["input"]  # its own list, as validation makes


@settings(max_examples=100, deadline=None)
@given(PLAIN_BODIES)
def test_a_plain_body_always_takes_the_short_way(data: dict[str, Any]) -> None:
    from openresponses._built_body import plain_body

    assert plain_body(data) is not None


def test_plain_body_keeps_validations_limits() -> None:
    from openresponses._built_body import plain_body

    too_long = {"model": "m", "input": "x" * 10_485_761}  # the spec's maxLength, plus one
    assert plain_body(too_long) is None
    with pytest.raises(Exception, match="at most 10485760"):
        CreateResponseBody.model_validate(too_long)
    assert plain_body({"model": "m", "input": "x" * 10_485_760}) is not None

    class Text(str):
        pass

    assert plain_body({"model": Text("m")}) is None  # a str subclass: validation decides
    assert plain_body({"model": "m", "input": [{"role": "assistant", "content": "x"}]}) is None
    assert plain_body({"model": "m", "stream": False}) is None
    for item in (
        {"type": "reasoning", "role": "user", "content": "x"},  # another item type's tag
        {"type": 1, "role": "user", "content": "x"},
        {"role": "User", "content": "x"},
        {"role": "user", "content": "x", "id": "msg_1"},
        {"role": "user", "content": [{"type": "input_text", "text": "x"}]},
    ):
        assert plain_body({"model": "m", "input": [item]}) is None, item
