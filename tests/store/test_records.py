"""StoredResponse (its JSON form) and the output-item -> input-item-param conversion."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from openresponses.store import StoredResponse, output_to_input
from openresponses.testing import text
from openresponses.types import CreateResponseBody

_SPEC = json.loads((files("openresponses") / "spec" / "openapi.json").read_text())
_REGISTRY: Registry[Any] = Registry().with_resource("spec", DRAFT202012.create_resource(_SPEC))
_PARAM_SCHEMAS = {
    "message": "AssistantMessageItemParam",
    "function_call": "FunctionCallItemParam",
    "function_call_output": "FunctionCallOutputItemParam",
    "reasoning": "ReasoningItemParam",
    "compaction": "CompactionSummaryItemParam",
}


def assert_spec_param(item: dict[str, Any]) -> None:
    """``item`` validates against the spec's input item param schema for its type."""
    name = _PARAM_SCHEMAS[item["type"]]
    validator = Draft202012Validator({"$ref": f"spec#/components/schemas/{name}"}, registry=_REGISTRY)
    errors = sorted(validator.iter_errors(item), key=str)
    assert not errors, f"{name}: {errors[0].message}"


ASSISTANT = {
    "type": "message",
    "id": "msg_1",
    "status": "completed",
    "role": "assistant",
    "phase": "final_answer",
    "content": [
        {
            "type": "output_text",
            "text": "See [1].",
            "annotations": [
                {
                    "type": "url_citation",
                    "url": "https://e.x",
                    "start_index": 4,
                    "end_index": 7,
                    "title": "E",
                },
                {"type": "acme:footnote", "n": 1},
            ],
            "logprobs": [{"token": "See", "logprob": -0.1, "bytes": [83], "top_logprobs": []}],
        },
        {"type": "refusal", "refusal": "Not that."},
    ],
}
REASONING = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [{"type": "summary_text", "text": "Think"}],
    "content": [{"type": "reasoning_text", "text": "raw thoughts"}],
    "encrypted_content": "gAAA-opaque",
}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
    "status": "completed",
}


def test_an_assistant_message_becomes_an_assistant_message_param() -> None:
    param = output_to_input(ASSISTANT)
    assert param == {
        "type": "message",
        "role": "assistant",
        "id": "msg_1",
        "status": "completed",
        "phase": "final_answer",  # the spec asks to resend it
        "content": [
            {
                "type": "output_text",
                "text": "See [1].",
                "annotations": [
                    {
                        "type": "url_citation",
                        "url": "https://e.x",
                        "start_index": 4,
                        "end_index": 7,
                        "title": "E",
                    }
                ],
            },
            {"type": "refusal", "refusal": "Not that."},
        ],
    }
    assert_spec_param(param)


def test_reasoning_keeps_summary_and_encrypted_content_with_null_content() -> None:
    param = output_to_input(REASONING)
    assert param == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Think"}],
        "content": None,
        "encrypted_content": "gAAA-opaque",
    }
    assert_spec_param(param)
    bare = output_to_input({"type": "reasoning", "id": "rs_2", "summary": []})
    assert bare == {"type": "reasoning", "id": "rs_2", "summary": [], "content": None}
    assert bare is not None
    assert_spec_param(bare)


def test_function_calls_outputs_and_compactions_keep_what_their_params_accept() -> None:
    call = output_to_input(CALL)
    assert call == CALL
    assert call is not None
    assert_spec_param(call)
    odd = output_to_input({**CALL, "status": "acme:queued"})
    assert odd is not None and "status" not in odd  # a non-standard status is not a valid param
    result = output_to_input(
        {
            "type": "function_call_output",
            "id": "fco_1",
            "call_id": "call_1",
            "output": "18C",
            "status": "completed",
        }
    )
    assert result == {
        "type": "function_call_output",
        "id": "fco_1",
        "call_id": "call_1",
        "output": "18C",
        "status": "completed",
    }
    assert_spec_param(result)
    compaction = output_to_input(
        {"type": "compaction", "id": "cmp_1", "encrypted_content": "xyz", "created_by": "s"}
    )
    assert compaction == {"type": "compaction", "id": "cmp_1", "encrypted_content": "xyz"}
    assert_spec_param(compaction)


def test_extension_items_are_resent_unchanged() -> None:
    item = {"type": "acme:search_call", "id": "sc_1", "query": "q"}
    assert output_to_input(item) == item


def test_history_is_previous_input_then_previous_output() -> None:
    rec = StoredResponse(
        id="resp_1",
        model="m",
        created_at=1,
        status="completed",
        input=({"type": "message", "role": "user", "content": "hi"},),
        output=(REASONING, ASSISTANT, CALL),
    )
    history = rec.history()
    assert [(item["type"], item.get("role")) for item in history] == [
        ("message", "user"),
        ("reasoning", None),
        ("message", "assistant"),
        ("function_call", None),
    ]
    # The whole history is valid input for the typed request body.
    body = CreateResponseBody.model_validate({"input": history})
    assert body.to_dict()["input"] == history


def test_from_response_keeps_the_output_as_returned() -> None:
    response = text("Hello there", reasoning="Greet").response({"model": "m", "input": "hi"})
    rec = StoredResponse.from_response(response, [{"type": "message", "role": "user", "content": "hi"}])
    assert rec.id == response.id and rec.model == response.model and rec.created_at == response.created_at
    assert [item["type"] for item in rec.output] == ["reasoning", "message"]
    assert rec.output[1]["content"][0]["text"] == "Hello there"


def test_json_round_trip_and_corrupt_records(make_record: Any) -> None:
    rec = make_record("resp_a", expires_at=123.5, previous_response_id="resp_0")
    assert StoredResponse.from_json(rec.to_json()) == rec
    with pytest.raises(ValueError, match="JSON object"):
        StoredResponse.from_json("[]")
    with pytest.raises(ValueError, match="format"):
        StoredResponse.from_json('{"v": 99}')
    with pytest.raises(ValueError, match="lacks 'output'"):
        StoredResponse.from_json(
            json.dumps({k: v for k, v in json.loads(rec.to_json()).items() if k != "output"})
        )


def test_repr_shows_no_content(make_record: Any) -> None:
    rec = make_record("resp_a", "a secret plan")
    assert "secret" not in repr(rec)
    assert "resp_a" in repr(rec)


_json_text = st.text(max_size=30)


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(_json_text, min_size=1, max_size=4),
    user=_json_text,
    expires=st.none() | st.floats(min_value=0, max_value=1e10),
)
def test_any_record_survives_its_json_form(texts: list[str], user: str, expires: float | None) -> None:
    output = tuple(
        {"type": "message", "id": f"m{i}", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": t, "annotations": []}]}
        for i, t in enumerate(texts)
    )  # fmt: skip
    rec = StoredResponse(
        id="resp_x",
        model=None,
        created_at=0,
        status="incomplete",
        input=({"type": "message", "role": "user", "content": user},),
        output=output,
        expires_at=expires,
    )
    back = StoredResponse.from_json(rec.to_json())
    assert back == rec
    assert [part["content"][0]["text"] for part in back.history()[1:]] == texts
