"""``Response.output_text`` and ``Message.text``."""

from __future__ import annotations

from types import SimpleNamespace

from openresponses.types import Message, Response


def test_output_text_concatenates_messages_in_order(samples: SimpleNamespace) -> None:
    first = samples.message_item(id="msg_1", text="Hello, ")
    first["content"].append({"type": "output_text", "text": "dear ", "annotations": []})
    second = samples.message_item(id="msg_2", text="world")
    resp = Response.model_validate(
        samples.response(
            output=[
                samples.reasoning_item(),
                first,
                samples.function_call_item(),
                second,
                samples.compaction_item(),
            ]
        )
    )
    # Refusals, reasoning summaries/content and function calls are ignored.
    assert resp.output_text == "Hello, dear world"
    assert isinstance(resp.output[1], Message)
    assert resp.output[1].text == "Hello, dear "


def test_output_text_empty(samples: SimpleNamespace) -> None:
    resp = Response.model_validate(samples.response(output=[samples.reasoning_item()]))
    assert resp.output_text == ""


def test_output_text_ignores_unknown_items(samples: SimpleNamespace) -> None:
    unknown = {"type": "acme:message", "id": "x", "content": [{"type": "output_text", "text": "no"}]}
    resp = Response.model_validate(samples.response(output=[unknown, samples.message_item(text="yes")]))
    assert resp.output_text == "yes"
