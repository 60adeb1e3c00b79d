"""``plain_completion``: the whole-body fast path answers exactly as the event machine, or not at all.

The chat dialect's ``parse_body`` tries :func:`plain_completion` first and falls back to
:func:`translate_completion` (the machine the stream uses). Over generated bodies, close to and
far from the plain case, whatever the fast path returns must equal the machine's response (ids
and the completion time aside, which are fresh per call), field for field and with the same
fields set.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openresponses.transports._chat_stream import ChatStreamOptions, plain_completion, translate_completion
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.types import CreateResponseBody


def normalized(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = response.model_dump(mode="json", exclude_unset=True, by_alias=True)
    data["id"] = "resp"
    data["completed_at"] = 0
    for item in data.get("output", []):
        item["id"] = "item"
    return data


def same_as_machine(body: Any, request: CreateResponseBody | None, options: ChatStreamOptions) -> bool:
    """Assert the fast path agrees with the machine; return whether it answered at all."""
    raw = json.dumps(body).encode()
    fast = plain_completion(raw, request, options=options)
    if fast is None:
        return False
    machine, _ = translate_completion(raw, request, options=options)
    assert normalized(fast) == normalized(machine)
    assert fast.status == machine.status == "completed"
    return True


REQUEST = CreateResponseBody.model_validate(
    {"model": "m", "input": "hi", "max_output_tokens": 50, "temperature": 0.2}
)
OPENAI_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1760000000,
    "model": "gpt-4.1-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 9,
        "completion_tokens": 2,
        "total_tokens": 11,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}


def test_the_common_bodies_take_the_fast_path() -> None:
    ollama = {
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "created": 1760000001,
        "model": "qwen3:8b",
        "system_fingerprint": "fp_ollama",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": " Hi."}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    options = ChatStreamOptions()
    assert same_as_machine(OPENAI_BODY, REQUEST, options)
    assert same_as_machine(ollama, REQUEST, options)
    assert same_as_machine(ollama, None, options)
    no_usage = {"choices": [{"message": {"content": "x"}}]}  # no finish_reason: a whole body is a stop
    assert same_as_machine(no_usage, None, options)


def test_everything_else_goes_through_the_machine() -> None:
    options = ChatStreamOptions()
    for message, finish in (
        ({"content": "<think>why</think>answer"}, "stop"),
        ({"content": "  </think>answer"}, "stop"),
        ({"content": "answer", "reasoning_content": "why"}, "stop"),
        ({"content": "answer", "reasoning": "why"}, "stop"),
        (
            {"content": None, "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]},
            "tool_calls",
        ),
        ({"content": "", "refusal": "no"}, "stop"),
        ({"content": "cut"}, "length"),
        ({"content": "hidden"}, "content_filter"),
        ({"content": "oops"}, "insufficient_system_resource"),
        ({"content": "odd"}, "something_new"),
        ({"content": ""}, "stop"),
    ):
        body = {"choices": [{"message": message, "finish_reason": finish}]}
        assert plain_completion(json.dumps(body).encode(), None, options=options) is None, message
    failed = {"error": {"message": "upstream broke"}, "choices": [{"message": {"content": "x"}}]}
    assert plain_completion(json.dumps(failed).encode(), None) is None
    assert plain_completion(b"not json", None) is None
    assert plain_completion(b'{"choices": []}', None) is None
    opened = ChatStreamOptions(think_open=True)  # the prompt opened the block: content is reasoning
    assert plain_completion(json.dumps(OPENAI_BODY).encode(), None, options=opened) is None


def test_the_dialect_answers_the_same_either_way() -> None:
    from openresponses._pipeline import CallContext, Request

    dialect = ChatCompletionsDialect()
    request = Request(body=REQUEST, context=CallContext())
    raw = json.dumps(OPENAI_BODY).encode()
    fast = dialect.parse_body(raw, request, provider="p")
    machine, _ = translate_completion(raw, REQUEST, options=dialect.stream_options)
    assert normalized(fast) == normalized(machine)
    assert fast.provider == "p"
    assert fast.usage is not None and fast.usage.input_tokens_details.cached_tokens == 4


TEXTS = ["Hello", "", " ", "\n\nHello", "<think>a</think>b", " <think>a", "</think>b", "<b>hi</b>", "<thi"]
TEXTS += ["a<think>b"]
_text = st.one_of(st.text(max_size=30), st.sampled_from(TEXTS))
FINISHES: list[Any] = [None, "", "stop", "eos", "stop_sequence", "end_turn", "length", "max_tokens"]
FINISHES += ["tool_calls", "content_filter", "error", "insufficient_system_resource", "weird", 5]
_finish = st.sampled_from(FINISHES)
_usage = st.one_of(
    st.none(),
    st.just({}),
    st.fixed_dictionaries(
        {"prompt_tokens": st.integers(-3, 50)},
        optional={
            "completion_tokens": st.one_of(st.integers(0, 50), st.floats(0, 9), st.booleans(), st.none()),
            "total_tokens": st.integers(0, 200),
            "prompt_tokens_details": st.one_of(
                st.none(), st.fixed_dictionaries({"cached_tokens": st.integers(0, 9)})
            ),
            "completion_tokens_details": st.fixed_dictionaries({"reasoning_tokens": st.integers(0, 9)}),
            "prompt_cache_hit_tokens": st.integers(0, 9),
        },
    ),
)
_message = st.fixed_dictionaries(
    {"content": st.one_of(_text, st.none(), st.integers())},
    optional={
        "role": st.just("assistant"),
        "refusal": st.one_of(st.none(), st.just(""), st.just("no")),
        "reasoning_content": st.one_of(st.none(), st.just(""), st.just("why")),
        "reasoning": st.one_of(st.none(), st.just("why")),
        "tool_calls": st.one_of(st.none(), st.just([])),
        "annotations": st.just([]),
    },
)
_choice = st.fixed_dictionaries(
    {"message": st.one_of(_message, st.none(), st.just("text"))},
    optional={"finish_reason": _finish, "index": st.integers(0, 2), "logprobs": st.none()},
)
_body = st.fixed_dictionaries(
    {"choices": st.one_of(st.lists(_choice, min_size=0, max_size=2), st.none())},
    optional={
        "model": st.one_of(st.just("served-model"), st.just(""), st.integers(), st.none()),
        "created": st.one_of(st.integers(0, 2**31), st.booleans(), st.just("1760000000")),
        "usage": _usage,
        "x_groq": st.fixed_dictionaries({"usage": _usage}),
        "error": st.one_of(st.none(), st.just(""), st.just({"message": "boom"})),
        "id": st.just("chatcmpl-x"),
    },
)
_request = st.one_of(
    st.none(),
    st.just(REQUEST),
    st.just(
        CreateResponseBody.model_validate(
            {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}]}
        )
    ),
)
_options = st.builds(ChatStreamOptions, think_tags=st.booleans(), think_open=st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_body, request=_request, options=_options)
def test_the_fast_path_never_disagrees_with_the_machine(
    body: dict[str, Any], request: CreateResponseBody | None, options: ChatStreamOptions
) -> None:
    raw = json.dumps(body).encode()
    fast = plain_completion(raw, request, options=options)
    if fast is None:
        return
    machine, _ = translate_completion(raw, request, options=options)
    assert normalized(fast) == normalized(machine)


def test_a_seeded_sweep_agrees_and_mostly_takes_the_fast_path() -> None:
    """Deterministic companion of the property test: 2,000 bodies sampled from the variants
    above, every one agreeing, and the fast path taken for a good share of them (so it cannot
    quietly stop answering)."""
    import itertools
    import random

    extras: list[dict[str, Any]] = [{}, {"refusal": None, "annotations": []}, {"reasoning_content": "why"}]
    extras += [{"tool_calls": []}, {"reasoning": ""}, {"refusal": "no"}]
    usages: list[Any] = [None, {}, {"prompt_tokens": 3, "completion_tokens": 2}, OPENAI_BODY["usage"]]
    tops: list[dict[str, Any]] = [{}, {"model": "served", "created": 1760000000}, {"model": ""}]
    tops += [
        {"error": {"message": "boom"}},
        {"x_groq": {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}},
    ]
    combos = list(
        itertools.product(
            TEXTS, FINISHES, usages, extras, tops, [ChatStreamOptions(), ChatStreamOptions(think_tags=False)]
        )
    )
    fast = 0
    for text, finish, usage, extra, top, options in random.Random(0).sample(combos, 2000):
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text, **extra}}
        if finish is not None:
            choice["finish_reason"] = finish
        body = {"choices": [choice], **top}
        if usage is not None:
            body["usage"] = usage
        fast += same_as_machine(body, REQUEST, options)
    assert fast >= 150, fast
