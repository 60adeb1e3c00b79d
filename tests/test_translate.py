"""StreamTranslator: vendor pieces in, spec-valid, ordered Open Responses streams out."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openresponses._translate import FinishReason, StreamTranslator
from openresponses.testing import assert_valid_stream
from openresponses.types import (
    CreateResponseBody,
    FunctionCall,
    Message,
    ReasoningItem,
    Response,
    StreamEvent,
)


def types(events: list[StreamEvent]) -> list[str]:
    return [e.type for e in events]


def test_text_answer_follows_readme_order_a() -> None:
    t = StreamTranslator(CreateResponseBody(model="m", temperature=0.2), response_id="resp_1", created_at=7)
    events = t.text("Hel") + t.text("lo") + t.finish(usage={"input_tokens": 3, "output_tokens": 2})
    assert_valid_stream(events)
    assert types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = t.response
    assert final is not None and t.finished
    assert final.id == "resp_1" and final.created_at == 7 and final.model == "m"
    assert final.temperature == 0.2 and final.status == "completed"
    assert final.output_text == "Hello"
    assert final.usage is not None and final.usage.total_tokens == 5
    assert final.usage.input_tokens_details.cached_tokens == 0  # type: ignore[union-attr]
    assert final.usage.output_tokens_details.reasoning_tokens == 0  # type: ignore[union-attr]


def test_start_is_idempotent_and_implicit() -> None:
    t = StreamTranslator(model="m")
    assert types(t.start()) == ["response.created", "response.in_progress"]
    assert t.start() == []
    assert types(t.text("x"))[0] == "response.output_item.added"
    assert t.snapshot() is not None and t.snapshot().output_text == "x"  # type: ignore[union-attr]
    assert t.response is None and not t.finished


def test_snapshot_is_none_before_start() -> None:
    assert StreamTranslator().snapshot() is None


def test_empty_text_delta_opens_message_and_part_but_sends_no_delta() -> None:
    t = StreamTranslator()
    events = t.text("")
    assert types(events)[2:] == ["response.output_item.added", "response.content_part.added"]
    assert t.text("") == []
    events += t.finish()
    assert_valid_stream(events)
    assert not any(e.type.endswith(".delta") for e in events)


def test_reasoning_then_message_closes_reasoning_first() -> None:
    t = StreamTranslator()
    events = t.reasoning("plan ", summary=True) + t.reasoning("it", summary=True)
    events += t.reasoning("raw")
    events += t.reasoning_signature("sig==")
    events += t.text("Answer")
    events += t.finish()
    assert_valid_stream(events)
    final = t.response
    assert final is not None
    reasoning, message = final.output
    assert isinstance(reasoning, ReasoningItem) and isinstance(message, Message)
    assert [p.text for p in reasoning.summary] == ["plan it"]  # type: ignore[union-attr]
    assert [p.text for p in reasoning.content or []] == ["raw"]  # type: ignore[union-attr]
    assert reasoning.encrypted_content == "sig=="
    # The reasoning item is done before the message is added.
    done_rs = next(i for i, e in enumerate(events) if e.type == "response.output_item.done")
    added_msg = [i for i, e in enumerate(events) if e.type == "response.output_item.added"][1]
    assert done_rs < added_msg


def test_reasoning_after_a_message_starts_a_new_reasoning_item() -> None:
    t = StreamTranslator()
    events = t.reasoning("a") + t.text("b") + t.reasoning("c") + t.text("d") + t.finish()
    assert_valid_stream(events)
    final = t.response
    assert final is not None
    assert [item.type for item in final.output] == ["reasoning", "message", "reasoning", "message"]
    assert final.output_text == "bd"


def test_redacted_reasoning_carries_only_the_signature() -> None:
    t = StreamTranslator()
    events = t.reasoning_signature("opaque", key=0) + t.close(0) + t.text("hi", key=1) + t.finish()
    assert_valid_stream(events)
    final = t.response
    assert final is not None
    reasoning = final.output[0]
    assert isinstance(reasoning, ReasoningItem)
    assert reasoning.encrypted_content == "opaque" and reasoning.summary == []


def test_refusal_part_in_the_same_message() -> None:
    t = StreamTranslator()
    events = t.text("Sure") + t.refusal("no, ") + t.refusal("sorry") + t.finish("refusal")
    assert_valid_stream(events)
    final = t.response
    assert final is not None and final.status == "completed"
    message = final.output[0]
    assert isinstance(message, Message)
    assert [p.type for p in message.content] == ["output_text", "refusal"]
    assert message.content[1].refusal == "no, sorry"  # type: ignore[union-attr]


def test_interleaved_parallel_tool_calls_by_vendor_index() -> None:
    t = StreamTranslator()
    events = t.text("Let me check.")
    events += t.tool_call(0, name="weather", call_id="call_a", arguments='{"city":')
    events += t.tool_call(1, name="time", arguments="{")
    events += t.tool_call(0, arguments='"Paris"}', name="ignored", call_id="ignored")
    events += t.tool_call(1, arguments="}")
    events += t.finish("tool_calls")
    assert_valid_stream(events)
    final = t.response
    assert final is not None
    message, first, second = final.output
    assert isinstance(message, Message) and message.status == "completed"
    assert isinstance(first, FunctionCall) and isinstance(second, FunctionCall)
    assert (first.name, first.call_id, first.arguments) == ("weather", "call_a", '{"city":"Paris"}')
    assert second.name == "time" and second.call_id.startswith("call_") and second.arguments == "{}"
    # The message closed when the first tool call opened.
    assert (
        types(events).index("response.output_item.done")
        < [i for i, e in enumerate(events) if e.type == "response.output_item.added"][1]
    )


def test_tool_call_encrypted_content_is_kept_and_never_overwritten() -> None:
    t = StreamTranslator()
    t.tool_call("a", name="f", encrypted_content="first")
    t.tool_call("a", arguments="{}", encrypted_content="second")
    t.finish()
    final = t.response
    assert final is not None
    assert final.output[0].model_dump()["encrypted_content"] == "first"


def test_tool_call_without_name_is_rejected_before_anything_is_sent() -> None:
    t = StreamTranslator()
    with pytest.raises(ValueError, match="name"):
        t.tool_call(3, arguments="{}")
    assert t.builder.sequence_number == 0  # nothing emitted
    with pytest.raises(ValueError, match="name"):
        t.tool_call(3, name="")


def test_close_by_key_ends_that_item_now_and_unknown_keys_are_ignored() -> None:
    t = StreamTranslator()
    t.text("a", key=0)
    events = t.close(0)
    assert types(events) == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert t.close(0) == [] and t.close("nope") == []
    t.tool_call(5, name="f")
    assert types(t.close(5)) == ["response.function_call_arguments.done", "response.output_item.done"]
    # A closed tool call's vendor id starts a new item (it must name its function again).
    with pytest.raises(ValueError):
        t.tool_call(5, arguments="x")
    t.tool_call(5, name="g", arguments="{}")
    t.finish()
    assert [item.type for item in t.response.output] == ["message", "function_call", "function_call"]  # type: ignore[union-attr]


def test_text_with_another_key_starts_another_message() -> None:
    t = StreamTranslator()
    t.text("a", key="x")
    t.text("b", key="y")
    t.text("c")  # the current message: y
    t.finish()
    assert [m.text for m in t.response.output] == ["a", "bc"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("reason", "status", "detail"),
    [
        ("stop", "completed", None),
        ("tool_calls", "completed", None),
        ("refusal", "completed", None),
        ("length", "incomplete", "max_output_tokens"),
        ("content_filter", "incomplete", "content_filter"),
    ],
)
def test_finish_reasons_map_to_terminals(reason: FinishReason, status: str, detail: str | None) -> None:
    t = StreamTranslator()
    events = t.tool_call(0, name="f", arguments="{}") + t.text("partial") + t.finish(reason)
    assert_valid_stream(events)
    assert events[-1].type == f"response.{status}"
    final = t.response
    assert final is not None and final.status == status
    assert (final.incomplete_details.reason if final.incomplete_details else None) == detail
    last_status = final.output[-1].status  # type: ignore[union-attr]
    assert last_status == ("incomplete" if status == "incomplete" else "completed")
    assert final.output[0].status == "completed"  # type: ignore[union-attr]


def test_fail_ends_open_items_incomplete_then_error_and_failed() -> None:
    t = StreamTranslator()
    events = t.text("half") + t.fail("upstream died", code="upstream_error", type="api_error")
    assert_valid_stream(events)
    assert types(events)[-2:] == ["error", "response.failed"]
    final = t.response
    assert final is not None and final.status == "failed"
    assert final.error is not None and final.error.code == "upstream_error"
    assert final.output[0].status == "incomplete"  # type: ignore[union-attr]


def test_fail_before_anything_still_starts_the_stream() -> None:
    t = StreamTranslator()
    events = t.fail("no")
    assert_valid_stream(events)
    assert types(events) == ["response.created", "response.in_progress", "error", "response.failed"]


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.text("x"),
        lambda t: t.refusal("x"),
        lambda t: t.reasoning("x"),
        lambda t: t.reasoning_signature("x"),
        lambda t: t.tool_call(0, name="f"),
        lambda t: t.close(0),
        lambda t: t.finish(),
        lambda t: t.fail("x"),
        lambda t: t.start(),
    ],
)
def test_anything_after_the_terminal_raises(call: Any) -> None:
    t = StreamTranslator()
    t.finish()
    with pytest.raises(RuntimeError, match="already ended"):
        call(t)


def test_bad_input_is_rejected_with_a_named_error() -> None:
    t = StreamTranslator()
    with pytest.raises(ValueError, match="finish reason"):
        t.finish("eos")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="usage"):
        t.finish(usage={"input_tokens": "many"})
    with pytest.raises(TypeError, match="delta"):
        t.text(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="usage"):
        t.finish(usage=[1, 2])  # type: ignore[arg-type]
    assert not t.finished
    t.finish(usage={"input_tokens": 1, "output_tokens": 2, "total_tokens": 10})
    assert t.response is not None and t.response.usage is not None
    assert t.response.usage.total_tokens == 10  # given totals are kept


def test_usage_details_are_filled_without_dropping_what_was_given() -> None:
    t = StreamTranslator()
    t.finish(usage={"input_tokens": 4, "output_tokens": 6, "output_tokens_details": {"reasoning_tokens": 2}})
    usage = t.response.usage  # type: ignore[union-attr]
    assert usage is not None and usage.total_tokens == 10
    assert usage.output_tokens_details.reasoning_tokens == 2  # type: ignore[union-attr]
    assert usage.input_tokens_details.cached_tokens == 0  # type: ignore[union-attr]


# -- the property: any sequence of calls gives a valid stream holding exactly what was fed ------

_keys = st.sampled_from([None, 0, 1, "blk"])
_text = st.text(alphabet="ab ✓\n", max_size=4)
_op = st.one_of(
    st.tuples(st.just("text"), _text, _keys),
    st.tuples(st.just("refusal"), _text, _keys),
    st.tuples(st.just("reasoning"), _text, _keys, st.booleans()),
    st.tuples(st.just("signature"), st.sampled_from(["s1", "s2"]), _keys),
    st.tuples(st.just("tool"), st.integers(0, 2), st.sampled_from([None, "f", "g"]), _text),
    st.tuples(st.just("close"), st.one_of(_keys, st.integers(0, 2))),
)
_ending = st.sampled_from(["stop", "length", "content_filter", "tool_calls", "refusal", "fail"])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, max_size=25), ending=_ending)
def test_any_call_sequence_yields_a_valid_ordered_stream_of_what_was_fed(
    ops: list[tuple[Any, ...]], ending: str
) -> None:
    t = StreamTranslator(model="m")
    events: list[StreamEvent] = []
    fed: dict[str, list[str]] = {"text": [], "refusal": [], "summary": [], "raw": []}
    calls: list[list[Any]] = []  # [name, arguments] per tool-call item, in opening order
    open_calls: dict[Hashable, list[Any]] = {}
    for op in ops:
        kind = op[0]
        if kind == "text":
            events += t.text(op[1], key=op[2])
            fed["text"].append(op[1])
        elif kind == "refusal":
            events += t.refusal(op[1], key=op[2])
            fed["refusal"].append(op[1])
        elif kind == "reasoning":
            events += t.reasoning(op[1], key=op[2], summary=op[3])
            fed["summary" if op[3] else "raw"].append(op[1])
        elif kind == "signature":
            events += t.reasoning_signature(op[1], key=op[2])
        elif kind == "tool":
            _, vendor, name, args = op
            if vendor not in open_calls and not name:
                with pytest.raises(ValueError):
                    t.tool_call(vendor, name=name, arguments=args)
                continue
            events += t.tool_call(vendor, name=name, arguments=args)
            if vendor not in open_calls:
                open_calls[vendor] = [name, ""]
                calls.append(open_calls[vendor])
            open_calls[vendor][1] += args
        else:
            events += t.close(op[1])
            open_calls.pop(op[1], None)
    if ending == "fail":
        events += t.fail("boom")
    else:
        events += t.finish(ending)  # type: ignore[arg-type]
    assert_valid_stream(events)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = t.response
    assert isinstance(final, Response) and t.finished
    assert final.status == {"fail": "failed", "length": "incomplete", "content_filter": "incomplete"}.get(
        ending, "completed"
    )
    output = final.output
    messages = [i for i in output if isinstance(i, Message)]
    reasoning = [i for i in output if isinstance(i, ReasoningItem)]
    assert final.output_text == "".join(fed["text"])
    refusals = [p.refusal for m in messages for p in m.content if p.type == "refusal"]  # type: ignore[union-attr]
    assert "".join(refusals) == "".join(fed["refusal"])
    assert "".join(p.text for r in reasoning for p in r.summary) == "".join(fed["summary"])  # type: ignore[union-attr]
    assert "".join(p.text for r in reasoning for p in r.content or []) == "".join(fed["raw"])  # type: ignore[union-attr]
    got_calls = [[i.name, i.arguments] for i in output if isinstance(i, FunctionCall)]
    assert got_calls == calls
    # Accumulating the stream from scratch gives the terminal response, and no item is left open.
    assert all(item.status in ("completed", "incomplete") for item in output)  # type: ignore[union-attr]
    assert t.snapshot() == final
