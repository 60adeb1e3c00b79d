"""``plain_chat_request`` (the chat request of a plain body, without the general translation)
answers exactly as ``chat_request_body`` or not at all, and the dialect's ``encode`` writes the
same bytes either way, for every chat preset's options.

Over generated bodies: the plain fields (model, instructions, text messages of every role) mixed
with everything that must take the general path (other fields, content parts, assistant and
tool items, extra keys at the top or in an item, ``None`` values), texts with escapes, controls
and non-ASCII, streamed or not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openresponses import AsyncClient, RequestValidationError
from openresponses._pipeline import Request
from openresponses.proxies.presets import PRESETS
from openresponses.transports._chat_request import chat_request_body, plain_chat_request
from openresponses.transports.chat_completions import ChatCompletionsDialect


def _dialects() -> list[ChatCompletionsDialect]:
    found = [ChatCompletionsDialect()]
    for preset in PRESETS.values():
        try:
            found.append(ChatCompletionsDialect(**preset.dialect_options))
        except TypeError:  # another dialect's options (Anthropic's, Bedrock's)
            continue
    found.append(ChatCompletionsDialect(drop_unsupported=["instructions"]))
    found.append(ChatCompletionsDialect(extra_body={"temperature": 1e-5, "keep_alive": "5m"}))
    return found


DIALECTS = _dialects()
CLIENT = AsyncClient(base_url="http://upstream.invalid")

TEXT = st.text(max_size=12)  # any code point but lone surrogates: escapes, controls, non-ASCII
PLAIN_ITEM = st.builds(
    lambda role, content, typed: (
        {"type": "message", "role": role, "content": content} if typed else {"role": role, "content": content}
    ),
    st.sampled_from(["user", "system", "developer"]),
    TEXT,
    st.booleans(),
)
OTHER_ITEM = st.sampled_from(
    [
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": [{"type": "input_text", "text": "parts"}]},
        {
            "role": "system",
            "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
        },
        {"role": "user", "content": "x", "vendor": 1},  # an extra key in an item: refused
        {"type": "function_call_output", "call_id": "c1", "output": "4"},
        {"role": "user", "content": "x", "id": "msg_1"},
    ]
)
PLAIN_BODIES = st.fixed_dictionaries(
    {"model": TEXT},
    optional={"instructions": TEXT, "input": st.one_of(TEXT, st.lists(PLAIN_ITEM, max_size=4))},
)
MIXED_BODIES = st.fixed_dictionaries(
    {"model": st.one_of(TEXT, st.none())},
    optional={
        "instructions": st.one_of(TEXT, st.none()),
        "input": st.one_of(
            TEXT,
            st.none(),
            st.lists(PLAIN_ITEM, max_size=4),
            st.lists(st.one_of(PLAIN_ITEM, OTHER_ITEM), max_size=4),
        ),
        "temperature": st.floats(0, 2),
        "max_output_tokens": st.integers(16, 100),
        "store": st.booleans(),
        "metadata": st.just({"k": "v"}),
        "vendor_field": st.just(True),
    },
)
BODIES = st.one_of(PLAIN_BODIES, MIXED_BODIES)  # half of them plain: the fast path is exercised


def request_of(data: dict[str, Any], stream: bool) -> Request | None:
    try:
        return CLIENT.build_request(data, stream=stream)
    except RequestValidationError:
        return None


def outcome(call: Any) -> Any:
    try:
        return call()
    except Exception as exc:  # the general path refuses it: the fast path must have declined
        return type(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES, st.booleans(), st.sampled_from(DIALECTS))
def test_it_answers_as_the_general_translation_or_declines(
    data: dict[str, Any], stream: bool, dialect: ChatCompletionsDialect
) -> None:
    request = request_of(data, stream)
    if request is None:
        return
    options = dialect.request_options
    fast = plain_chat_request(request.body, stream=stream, options=options)  # type: ignore[arg-type]
    general = outcome(lambda: chat_request_body(request.body, stream=stream, options=options))  # type: ignore[arg-type]
    if fast is not None:
        assert fast == general
        assert list(fast) == list(general) and json.dumps(fast) == json.dumps(general)  # key order too
    before = outcome(
        lambda: json.dumps(dialect.translate(request), ensure_ascii=False, separators=(",", ":")).encode()
    )
    assert outcome(lambda: dialect.encode(request)) == before


def test_a_dropped_field_takes_the_general_path() -> None:
    dialect = ChatCompletionsDialect(drop_unsupported=["instructions"])
    request = request_of({"model": "m", "input": "hi", "instructions": "sys"}, stream=False)
    assert request is not None
    assert plain_chat_request(request.body, stream=False, options=dialect.request_options) is None  # type: ignore[arg-type]
    assert json.loads(dialect.encode(request))["messages"] == [{"role": "user", "content": "hi"}]


def test_the_common_bodies_take_the_fast_path() -> None:
    for data in (
        {"model": "m", "input": "Tell me a story."},
        {
            "model": "m",
            "input": [{"type": "message", "role": "user", "content": "hi"}],
            "instructions": "Be brief.",
        },
        {"model": "m", "input": [{"role": "developer", "content": "d"}, {"role": "user", "content": "u"}]},
        {"model": "m"},  # a probe: one empty user turn, as the general path sends
    ):
        request = request_of(data, stream=False)
        assert request is not None
        assert plain_chat_request(request.body, stream=False) is not None, data  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        'quote " and backslash \\',
        "controls \x00\x01\x1f\x7f \n\t\r\b\f",
        "ünïcødé ✓ 🙂 \u2028\u2029",
        "/slash",
    ],
)
def test_the_bytes_are_json_dumps_bytes(text: str) -> None:
    request = request_of({"model": "m", "instructions": text, "input": text}, stream=True)
    assert request is not None
    for dialect in DIALECTS:
        expected = json.dumps(dialect.translate(request), ensure_ascii=False, separators=(",", ":")).encode()
        assert dialect.encode(request) == expected


def test_a_lone_surrogate_fails_as_before() -> None:
    """pydantic-core refuses to write it; the general path then fails as it always did."""
    body = CLIENT.build_request({"model": "m", "input": "x"}, stream=False).body
    body = body.model_copy(update={"input": "bad \ud800"})
    request = Request(body=body)
    dialect = ChatCompletionsDialect()
    with pytest.raises(UnicodeEncodeError):
        json.dumps(dialect.translate(request), ensure_ascii=False).encode()
    with pytest.raises(UnicodeEncodeError):
        dialect.encode(request)


def test_a_subclass_translation_is_kept() -> None:
    class Tagged(ChatCompletionsDialect):
        def translate(self, request: Request) -> dict[str, Any]:
            return {**super().translate(request), "user": "tagged"}

    request = request_of({"model": "m", "input": "hi"}, stream=False)
    assert request is not None
    assert json.loads(Tagged().encode(request))["user"] == "tagged"
