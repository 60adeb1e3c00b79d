"""Every create() argument is checked before anything is sent (issue #12 defect 9, issue #11).

Each bad value is a RequestValidationError naming the parameter, and the loopback server sees
no request at all; an unknown keyword is also a TypeError with a "did you mean".
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses import AsyncClient, Client, RequestValidationError, UnknownParameterError
from openresponses.testing import ScriptedServer, text

SECRET = "sk-live-SECRET-header-value"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedServer]:
    # One server in a thread for the whole module: most tests only prove nothing reaches it.
    with ScriptedServer(default=text("ok")).run_in_thread() as running:
        yield running


@pytest.fixture
def server(shared_server: ScriptedServer) -> ScriptedServer:
    shared_server.requests.clear()
    return shared_server


@pytest.fixture(scope="module")
def client(shared_server: ScriptedServer) -> AsyncClient:
    # Shared (building one costs ~25 ms of TLS set-up): these tests' calls never get to send.
    return AsyncClient(base_url=shared_server.base_url)


@pytest.fixture
async def sender(server: ScriptedServer) -> AsyncIterator[AsyncClient]:
    """A client of its own for the tests that do send (its pool lives on the test's loop)."""
    async with AsyncClient(base_url=server.base_url) as running:
        yield running


async def rejected(client: AsyncClient, server: ScriptedServer, **kwargs: Any) -> RequestValidationError:
    """Call create() with ``kwargs``: it must raise RequestValidationError and send nothing."""
    kwargs.setdefault("model", "m")
    kwargs.setdefault("input", "hi")
    with pytest.raises(RequestValidationError) as info:
        await client.responses.create(**kwargs)
    assert server.requests == [], "a rejected call must not reach the server"
    return info.value


# -- unknown keywords (#11) ---------------------------------------------------------------------


async def test_a_misspelled_keyword_is_a_type_error_with_the_closest_name(
    client: AsyncClient, server: ScriptedServer
) -> None:
    exc = await rejected(client, server, temprature=0.5)
    assert isinstance(exc, UnknownParameterError) and isinstance(exc, TypeError)
    assert exc.keyword == "temprature" and exc.suggestion == "temperature"
    message = str(exc)
    assert "create() got an unexpected keyword argument 'temprature'" in message
    assert "Did you mean 'temperature'?" in message and "extra_body=" in message


@pytest.mark.parametrize(
    ("keyword", "suggestion"),
    [("max_tokens", "max_output_tokens"), ("extra_header", "extra_headers"), ("foo", None)],
)
async def test_unknown_keywords_name_the_closest_option_if_any(
    client: AsyncClient, server: ScriptedServer, keyword: str, suggestion: str | None
) -> None:
    exc = await rejected(client, server, **{keyword: 1})
    assert isinstance(exc, UnknownParameterError) and exc.suggestion == suggestion
    assert repr(keyword) in str(exc)


async def test_an_unserializable_unknown_keyword_is_the_same_type_error(
    client: AsyncClient, server: ScriptedServer
) -> None:
    exc = await rejected(client, server, foo=object())  # was a raw PydanticSerializationError
    assert isinstance(exc, UnknownParameterError) and exc.keyword == "foo"


async def test_stream_and_compact_check_keywords_too(client: AsyncClient, server: ScriptedServer) -> None:
    with pytest.raises(UnknownParameterError, match=r"stream\(\) got an unexpected keyword argument 'tols'"):
        client.responses.stream(model="m", input="x", tols=[])  # type: ignore[call-arg]
    with pytest.raises(UnknownParameterError, match=r"compact\(\) got .* 'temperature'"):
        await client.responses.compact(model="m", input="x", temperature=0.5)  # type: ignore[call-arg]
    with pytest.raises(RequestValidationError, match="model"):
        await client.responses.compact(model=None, input="x")  # type: ignore[arg-type]
    assert server.requests == []


async def test_provider_fields_go_through_extra_body(sender: AsyncClient, server: ScriptedServer) -> None:
    await sender.responses.create(model="m", input="x", extra_body={"top_k": 40, "acme": {"mode": "fast"}})
    (sent,) = server.requests
    assert sent.body["top_k"] == 40 and sent.body["acme"] == {"mode": "fast"}


# -- None ----------------------------------------------------------------------------------------


async def test_model_none_is_rejected_not_sent_as_null(client: AsyncClient, server: ScriptedServer) -> None:
    exc = await rejected(client, server, model=None)
    assert str(exc).startswith("model: expected a string, got None")
    assert exc.errors[0]["loc"] == ("model",)


@pytest.mark.parametrize("name", ["include", "background", "truncation", "store", "service_tier"])
async def test_none_is_rejected_where_the_spec_has_no_null(
    client: AsyncClient, server: ScriptedServer, name: str
) -> None:
    exc = await rejected(client, server, **{name: None})
    assert str(exc).startswith(f"{name}: None is not allowed")


async def test_none_is_sent_as_null_where_the_spec_allows_it(
    sender: AsyncClient, server: ScriptedServer
) -> None:
    await sender.responses.create(model="m", input="x", temperature=None, instructions=None)
    (sent,) = server.requests
    assert sent.body["temperature"] is None and sent.body["instructions"] is None


async def test_omitting_model_is_fine(sender: AsyncClient, server: ScriptedServer) -> None:
    await sender.responses.create(input="x")
    assert "model" not in server.requests[0].body


# -- numbers and types ---------------------------------------------------------------------------

FLOAT_PARAMS = ["temperature", "top_p", "presence_penalty", "frequency_penalty"]


@pytest.mark.parametrize("name", FLOAT_PARAMS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
async def test_nan_and_infinity_are_rejected_for_every_float(
    client: AsyncClient, server: ScriptedServer, name: str, value: float
) -> None:
    exc = await rejected(client, server, **{name: value})
    assert str(exc).startswith(f"{name}: ") and "finite number" in str(exc)
    assert exc.errors[0]["loc"] == (name,)


BAD_VALUES: list[tuple[str, Any]] = [
    ("model", 123),
    ("model", b"m"),
    ("input", 123),
    ("input", b"hello"),
    ("input", [{"role": "user", "content": 5}]),
    ("instructions", 1),
    ("previous_response_id", 1),
    ("include", "reasoning.encrypted_content"),
    ("include", ["bogus"]),
    ("tools", "search"),
    ("tools", [1]),
    ("tools", [{"type": "function", "name": "has space"}]),
    ("tool_choice", 1),
    ("tool_choice", "sometimes"),
    ("metadata", {"k": 1}),
    ("metadata", ["k"]),
    ("metadata", {"k" * 65: "v"}),
    ("metadata", {f"k{i}": "v" for i in range(17)}),
    ("text", "json"),
    ("text", {"verbosity": "loud"}),
    ("temperature", "0.5"),
    ("temperature", True),
    ("top_p", "0.1"),
    ("presence_penalty", [0.1]),
    ("frequency_penalty", {"v": 1}),
    ("parallel_tool_calls", 1),
    ("parallel_tool_calls", "yes"),
    ("stream_options", True),
    ("stream_options", {"include_obfuscation": "yes"}),
    ("background", 1),
    ("max_output_tokens", True),
    ("max_output_tokens", 16.0),
    ("max_output_tokens", "100"),
    ("max_output_tokens", 15),
    ("max_tool_calls", 0),
    ("max_tool_calls", 1.5),
    ("reasoning", "high"),
    ("reasoning", {"effort": "max"}),
    ("safety_identifier", 1),
    ("safety_identifier", "x" * 65),
    ("prompt_cache_key", 1),
    ("prompt_cache_key", "x" * 65),
    ("truncation", "sometimes"),
    ("store", "true"),
    ("service_tier", "gold"),
    ("top_logprobs", 21),
    ("top_logprobs", True),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES, ids=[f"{n}={v!r}"[:40] for n, v in BAD_VALUES])
async def test_a_wrong_type_or_value_names_the_parameter(
    client: AsyncClient, server: ScriptedServer, name: str, value: Any
) -> None:
    exc = await rejected(client, server, **{name: value})
    assert exc.errors and all(err["loc"][0] == name for err in exc.errors)
    assert str(exc).startswith(f"{name}: ") or f"\n  {name}" in str(exc)


def test_every_create_parameter_has_a_bad_value_case() -> None:
    from openresponses import CreateParams

    covered = {name for name, _ in BAD_VALUES} | set(FLOAT_PARAMS)
    assert covered == set(CreateParams.__optional_keys__)


async def test_a_number_may_be_an_int_and_tuples_are_lists(
    sender: AsyncClient, server: ScriptedServer
) -> None:
    await sender.responses.create(
        model="m",
        input=({"role": "user", "content": "x"},),
        temperature=1,
        top_p=0,
        include=("reasoning.encrypted_content",),
    )
    body = server.requests[0].body
    assert body["temperature"] == 1 and body["top_p"] == 0
    assert body["input"] == [{"role": "user", "content": "x"}]


# -- free-form JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"input": [{"role": "user", "content": "x", "meta": object()}]}, "input[0].meta"),
        ({"input": [{"role": "user", "content": "x", "score": math.nan}]}, "input[0].score"),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {"maximum": math.inf}}]},
            "tools[0].parameters.maximum",
        ),
        ({"tools": [{"type": "acme:search", "index": {1, 2}}]}, "tools[0].index"),
        ({"extra_body": {"foo": object()}}, "extra_body.foo"),
        ({"extra_body": {"foo": {"bar": [math.nan]}}}, "extra_body.foo.bar[0]"),
        ({"extra_body": {"foo": {1: "x"}}}, "extra_body.foo"),
        ({"extra_body": {1: "x"}}, "extra_body"),
        ({"extra_body": "top_k=1"}, "extra_body"),
        ({"extra_body": {"stream": True}}, "extra_body['stream']"),
        ({"extra_body": {"model": None}}, "model"),
    ],
)
async def test_free_form_parts_must_be_json(
    client: AsyncClient, server: ScriptedServer, kwargs: dict[str, Any], where: str
) -> None:
    exc = await rejected(client, server, **kwargs)
    assert str(exc).startswith(f"{where}: ")


async def test_a_reference_cycle_is_named_not_a_recursion_error(
    client: AsyncClient, server: ScriptedServer
) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    exc = await rejected(client, server, extra_body={"loop": loop})
    assert "reference cycle" in str(exc)


async def test_models_in_input_are_walked_too(client: AsyncClient, server: ScriptedServer) -> None:
    from openresponses.types import FunctionToolParam

    tool = FunctionToolParam(name="f", parameters={"type": "object", "default": object()})
    exc = await rejected(client, server, tools=[tool])
    assert str(exc).startswith("tools[0].parameters.default: object is not JSON-serializable")


# -- call options ---------------------------------------------------------------------------------

OPTION_CASES: list[tuple[str, Any, str]] = [
    ("stream", "yes", "stream"),
    ("stream", 1, "stream"),
    ("extra_headers", "x-a: 1", "extra_headers"),
    ("extra_headers", {"x-a": 1}, "extra_headers['x-a']"),
    ("extra_headers", {"bad name": "v"}, "extra_headers"),
    ("extra_headers", {1: "v"}, "extra_headers"),
    ("extra_headers", {"x-a": "v\r\nX-Injected: 1"}, "extra_headers['x-a']"),
    ("extra_headers", {"x-a": "café"}, "extra_headers['x-a']"),
    ("idempotency_key", 1, "idempotency_key"),
    ("idempotency_key", "", "idempotency_key"),
    ("idempotency_key", "a\nb", "idempotency_key"),
    ("idempotency_key", "k" * 256, "idempotency_key"),
    ("timeout", "5", "timeout"),
    ("timeout", True, "timeout"),
    ("timeout", -1, "timeout"),
    ("timeout", 0, "timeout"),
    ("timeout", math.nan, "timeout"),
    ("timeout", math.inf, "timeout"),
    ("timeout", object(), "timeout"),
    ("timeout", (5, 10), "timeout"),
]


@pytest.mark.parametrize(
    ("name", "value", "where"),
    OPTION_CASES,
    # No memory address in an id (object()'s repr): every pytest-xdist worker must collect the same ids.
    ids=[re.sub(r" at 0x[0-9a-f]+", "", f"{n}={v!r}")[:40] for n, v, _ in OPTION_CASES],
)
async def test_call_options_are_checked_before_sending(
    client: AsyncClient, server: ScriptedServer, name: str, value: Any, where: str
) -> None:
    exc = await rejected(client, server, **{name: value})
    assert str(exc).startswith(f"{where}: ")
    assert not isinstance(exc, UnknownParameterError)


async def test_a_header_value_never_appears_in_the_error(client: AsyncClient, server: ScriptedServer) -> None:
    exc = await rejected(client, server, extra_headers={"authorization": f"Bearer {SECRET}\n"})
    assert SECRET not in str(exc) and SECRET not in repr(exc.errors)


async def test_valid_call_options_are_sent(sender: AsyncClient, server: ScriptedServer) -> None:
    await sender.responses.create(
        model="m",
        input="x",
        timeout=httpx.Timeout(5.0),
        extra_headers={"x-trace": "abc"},
        idempotency_key="key-1",
    )
    await sender.responses.create(model="m", input="x", timeout=2.5, stream=None)
    first, second = server.requests
    assert first.headers["x-trace"] == "abc" and first.headers["idempotency-key"] == "key-1"
    assert "stream" not in second.body


# -- the sync client checks in the caller's thread -------------------------------------------------


def test_sync_client_rejects_before_starting_its_loop(server: ScriptedServer) -> None:
    with Client(base_url=server.base_url) as client:
        with pytest.raises(UnknownParameterError, match="temperature"):
            client.responses.create(model="m", input="x", temprature=1)  # type: ignore[call-overload]
        with pytest.raises(RequestValidationError, match=r"^model: "):
            client.responses.create(model=None, input="x")  # type: ignore[call-overload]
        with pytest.raises(RequestValidationError, match="top_p"):
            client.responses.stream(model="m", input="x", top_p=math.nan)
        with pytest.raises(RequestValidationError, match=r"^timeout: "):
            client.responses.compact(model="m", input="x", timeout=-1)
        assert client._runner is None  # nothing was scheduled, let alone sent
    assert server.requests == []


# -- fuzzing: any wrong type names its field -----------------------------------------------------

_NOT_A_NUMBER = st.one_of(st.text(), st.binary(), st.booleans(), st.lists(st.integers(), max_size=2))
_NOT_A_BOOL = st.one_of(st.integers(), st.floats(), st.text(), st.binary())
_NOT_AN_INT = st.one_of(st.floats(), st.text(), st.booleans(), st.binary())
_NOT_A_STR = st.one_of(st.integers(), st.floats(), st.binary(), st.lists(st.text(), max_size=2))
_WRONG: dict[str, st.SearchStrategy[Any]] = {
    **dict.fromkeys(FLOAT_PARAMS, _NOT_A_NUMBER | st.sampled_from([math.nan, math.inf, -math.inf])),
    **dict.fromkeys(["parallel_tool_calls", "background", "store"], _NOT_A_BOOL),
    **dict.fromkeys(["max_output_tokens", "max_tool_calls", "top_logprobs"], _NOT_AN_INT),
    **dict.fromkeys(
        ["model", "instructions", "previous_response_id", "safety_identifier", "prompt_cache_key"], _NOT_A_STR
    ),
}


_OFFLINE = AsyncClient(base_url="http://127.0.0.1:9/v1")  # never sends: every call here is rejected


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzz_a_wrong_type_always_names_its_field(data: st.DataObject) -> None:
    client = _OFFLINE
    name = data.draw(st.sampled_from(sorted(_WRONG)))
    value = data.draw(_WRONG[name])
    with pytest.raises(RequestValidationError) as info:
        client.responses.prepare(
            "create",
            {"model": "m", name: value},
            stream=False,
            extra_headers=None,
            extra_body=None,
            timeout=None,
            idempotency_key=None,
        )
    assert info.value.errors and {err["loc"][0] for err in info.value.errors} == {name}


def test_messages_name_the_field_without_pydantics_union_branches() -> None:
    from pydantic import ValidationError

    from openresponses._errors import RequestValidationError, field_path
    from openresponses.types import CreateResponseBody

    body = {
        "input": [
            {"type": "message", "role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "x"}]},
        ]
    }
    with pytest.raises(ValidationError) as info:
        CreateResponseBody.model_validate(body)
    error = RequestValidationError.from_validation_error("CreateResponseBody", info.value)
    assert str(error).splitlines() == [
        "Invalid CreateResponseBody: 1 problem(s)",
        "  input.1.content: Input should be None",
    ]
    assert len(error.errors) == 2  # pydantic's own entries are kept (the string branch's too)
    assert (
        field_path(
            (
                "input",
                "list[tagged-union[A,B]]",
                0,
                "message",
                "content",
                "list[tagged-union[C]]",
                2,
                "input_text",
                "text",
            )
        )
        == "input.0.content.2.text"
    )
    assert field_path(("temperature",)) == "temperature"
    assert field_path(("input", "constrained-str")) == "input"
