"""``_built.message_response`` builds exactly the ``Response`` that validation builds, or declines.

Over generated request bodies (every echoed setting, of its own type or not, plus the settings
that need validating: tools, a text format, a tool choice, reasoning) and usage shapes: when it
answers, the instance equals ``Response.model_validate`` of the same dict in every slot pydantic
keeps (``__dict__`` and its order, fields set, extra, private), nested models included, and
serializes and prints the same; it declines whenever a value is not of its exact type.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from openresponses._built import message_response
from openresponses._emit_state import response_skeleton
from openresponses.types import CreateResponseBody, Response

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


def build(body: CreateResponseBody | None, usage: dict[str, Any] | None) -> Response | None:
    return message_response(
        body,
        response_id="resp_1",
        message_id="msg_1",
        text="Hello.",
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
