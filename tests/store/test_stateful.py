"""Stateful: previous_response_id expanded for stateless upstreams, over scripted transports and servers."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import textwrap
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from openresponses import (
    AsyncClient,
    CallContext,
    Client,
    NotFoundError,
    ProtocolError,
    Request,
    RequestValidationError,
    Response,
    ResponseFailedError,
    StreamInterrupted,
)
from openresponses.middleware import Retry, RetryPolicy, Stateful
from openresponses.store import (
    MemoryStore,
    RedisStore,
    SQLiteStore,
    StoredResponse,
    StoreError,
    output_to_input,
)
from openresponses.testing import (
    ScriptedServer,
    ScriptedTransport,
    assert_valid_stream,
    failed,
    function_call,
    incomplete,
    json_response,
    malformed,
    reset_mid_stream,
    status,
    status_error,
    text,
    truncated,
)
from openresponses.types import CreateResponseBody


def user(content: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": content}


def as_input(response: Response) -> list[dict[str, Any]]:
    items = [output_to_input(item.to_dict()) for item in response.output]
    return [item for item in items if item is not None]


class Observer:
    """A ``CallObserver`` keeping the middleware decisions."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def on_record(self, kind: str, attributes: Mapping[str, Any]) -> None:
        self.records.append((kind, dict(attributes)))

    def on_attempt(self, request: Request, number: int) -> None:
        return None


class FlakyStore(MemoryStore):
    """A MemoryStore whose reads and/or writes fail like an unreachable backend."""

    def __init__(self, *, fail_get: bool = False, fail_put: bool = False) -> None:
        super().__init__()
        self.fail_get = fail_get
        self.fail_put = fail_put
        self.gets = 0

    async def get(self, response_id: str) -> StoredResponse | None:
        self.gets += 1
        if self.fail_get:
            raise StoreError("flaky store failed on get", store="flaky", operation="get")
        return await super().get(response_id)

    async def put(self, record: StoredResponse) -> StoredResponse:
        if self.fail_put:
            raise StoreError("flaky store failed on put", store="flaky", operation="put")
        return await super().put(record)


# -- chains ---------------------------------------------------------------------------------------


async def test_a_three_turn_chain_sends_the_full_history_upstream() -> None:
    transport = ScriptedTransport(
        [text("Hello Ada.", reasoning="Greet"), text("You are Ada."), text("Bye Ada.")]
    )
    store = MemoryStore()
    async with AsyncClient(transport=transport, middleware=[Stateful(store)]) as client:
        first = await client.responses.create(model="m", input="I am Ada.", instructions="Be brief.")
        async with client.responses.stream(model="m", input="Who am I?", previous_response_id=first.id) as s:
            events = [event async for event in s]
            second = await s.get_final_response()
        third = await client.responses.create(model="m", input="Bye.", previous_response_id=second.id)

    bodies = [request.body for request in transport.requests]
    assert bodies[0]["input"] == "I am Ada."  # nothing to expand: the request goes as it came
    assert bodies[1]["input"] == [user("I am Ada."), *as_input(first), user("Who am I?")]
    assert bodies[2]["input"] == [
        user("I am Ada."),
        *as_input(first),
        user("Who am I?"),
        *as_input(second),
        user("Bye."),
    ]
    assert [item["type"] for item in bodies[2]["input"]] == [
        "message", "reasoning", "message", "message", "message", "message"
    ]  # fmt: skip
    for body in bodies:
        assert "previous_response_id" not in body  # the upstream is stateless
    # The previous turn's instructions do not carry over (README §8; OpenAI's semantics).
    assert bodies[0]["instructions"] == "Be brief."
    assert "instructions" not in bodies[1] and "instructions" not in bodies[2]

    assert first.previous_response_id is None
    assert second.previous_response_id == first.id
    assert third.previous_response_id == second.id
    assert first.store is second.store is third.store is True
    assert third.output_text == "Bye Ada."
    lifecycle = [event for event in events if hasattr(event, "response")]
    assert [event.type for event in lifecycle] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert all(event.response.previous_response_id == first.id for event in lifecycle)
    assert_valid_stream(events)  # the patched stream still follows the spec's order and schema
    assert len(store) == 3


async def test_each_turn_sends_its_own_instructions_only() -> None:
    transport = ScriptedTransport([text("One."), text("Two.")])
    async with AsyncClient(transport=transport, middleware=[Stateful()]) as client:
        first = await client.responses.create(model="m", input="a", instructions="Answer in French.")
        await client.responses.create(
            model="m", input="b", previous_response_id=first.id, instructions="Answer in German."
        )
    body = transport.requests[1].body
    assert body["instructions"] == "Answer in German."
    assert "French" not in json.dumps(body)


async def test_a_function_call_loop_round_trips() -> None:
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    transport = ScriptedTransport(
        [function_call("get_weather", {"city": "Paris"}, call_id="call_1"), text("It is 18C in Paris.")]
    )
    async with AsyncClient(transport=transport, middleware=[Stateful()]) as client:
        first = await client.responses.create(model="m", input="Weather in Paris?", tools=tools)
        call = first.output[0]
        assert call.type == "function_call"
        async with client.responses.stream(
            model="m",
            tools=tools,
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 18}'}],
        ) as stream:
            final = await stream.get_final_response()
    assert final.output_text == "It is 18C in Paris."
    assert transport.requests[1].body["input"] == [
        user("Weather in Paris?"),
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
            "id": call.id,
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 18}'},
    ]


async def test_reasoning_goes_back_with_its_encrypted_content_and_null_content() -> None:
    base = text("Answer.", reasoning="Think first").response({"model": "m"}).to_dict()
    base["output"][0]["encrypted_content"] = "gAAAA-opaque"
    base["output"][0]["content"] = [{"type": "reasoning_text", "text": "raw chain of thought"}]
    transport = ScriptedTransport([json_response(base), text("Next.")])
    async with AsyncClient(transport=transport, middleware=[Stateful()]) as client:
        async with client.responses.stream(model="m", input="Q") as stream:
            first = await stream.get_final_response()
        await client.responses.create(model="m", input="Q2", previous_response_id=first.id)
    reasoning = transport.requests[1].body["input"][1]
    assert reasoning == {
        "type": "reasoning",
        "id": base["output"][0]["id"],
        "summary": [{"type": "summary_text", "text": "Think first"}],
        "content": None,
        "encrypted_content": "gAAAA-opaque",
    }


async def test_an_incomplete_response_is_stored_and_continues() -> None:
    transport = ScriptedTransport([incomplete("The answer was cut"), text("...continued.")])
    async with AsyncClient(transport=transport, middleware=[Stateful()]) as client:
        async with client.responses.stream(model="m", input="Long answer please") as stream:
            first = await stream.get_final_response()
        assert first.status == "incomplete"
        second = await client.responses.create(model="m", input="Go on", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert transport.requests[1].body["input"][1]["content"][0]["text"] == "The answer was cut"


async def test_a_chain_over_loopback_http() -> None:
    async with (
        ScriptedServer([text("Hi."), text("Again.")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Stateful()]) as client,
    ):
        async with client.responses.stream(model="m", input="one") as stream:
            first = await stream.get_final_response()
        async with client.responses.stream(model="m", input="two", previous_response_id=first.id) as s:
            second = await s.get_final_response()
    assert second.previous_response_id == first.id
    assert server.requests[1].body["input"] == [user("one"), *as_input(first), user("two")]
    assert "previous_response_id" not in server.requests[1].body


def test_the_sync_client_runs_the_same_chain() -> None:
    transport = ScriptedTransport([text("Hi."), text("Again.")])
    with Client(transport=transport, middleware=[Stateful()]) as client:
        first = client.responses.create(model="m", input="one")
        second = client.responses.create(model="m", input="two", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert transport.requests[1].body["input"] == [user("one"), *as_input(first), user("two")]


async def test_compact_expands_previous_response_id_and_stores_nothing() -> None:
    transport = ScriptedTransport([text("Hi.")])
    store = MemoryStore()
    async with AsyncClient(transport=transport, middleware=[Stateful(store)]) as client:
        first = await client.responses.create(model="m", input="one")
        await client.responses.compact(model="m", previous_response_id=first.id, input=[user("two")])
    body = transport.requests[1].body
    assert transport.requests[1].operation == "compact"
    assert body["input"] == [user("one"), *as_input(first), user("two")]
    assert "previous_response_id" not in body
    assert len(store) == 1


# -- unknown ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unknown_id_is_a_404_before_anything_is_sent(stream: bool) -> None:
    transport = ScriptedTransport([text("never")])
    async with AsyncClient(transport=transport, middleware=[Stateful()]) as client:
        with pytest.raises(NotFoundError) as caught:
            if stream:
                async with client.responses.stream(model="m", input="x", previous_response_id="resp_gone"):
                    pass
            else:
                await client.responses.create(model="m", input="x", previous_response_id="resp_gone")
    assert transport.calls == 0
    error = caught.value
    assert error.status_code == 404 and not error.retryable
    assert error.provider == "store"
    assert error.error is not None
    assert error.error.code == "previous_response_not_found" == error.code
    assert error.error.param == "previous_response_id"
    assert "resp_gone" in (error.error.message or "") and "resp_gone" in str(error)
    # The same shape an upstream's 404 with this body would have.
    upstream = status_error(404, error.body, provider="store")
    assert type(upstream) is type(error) and upstream.body == error.body and str(upstream) == str(error)


async def test_an_expired_id_is_a_404(clock: Any) -> None:
    transport = ScriptedTransport([text("Hi."), text("never")])
    async with AsyncClient(transport=transport, middleware=[Stateful(MemoryStore(ttl=60, clock=clock))]) as c:
        first = await c.responses.create(model="m", input="one")
        clock.advance(61)
        with pytest.raises(NotFoundError, match="previous_response_not_found"):
            await c.responses.create(model="m", input="two", previous_response_id=first.id)
    assert transport.calls == 1


async def test_an_id_too_long_to_show_is_shortened_in_the_message() -> None:
    with pytest.raises(NotFoundError) as caught:
        await Stateful()(
            Request(body=CreateResponseBody(input="x", previous_response_id="r" * 5000)), ScriptedTransport()
        )
    assert len(str(caught.value)) < 400


# -- what is stored -------------------------------------------------------------------------------


async def test_store_false_stores_nothing_but_still_expands() -> None:
    transport = ScriptedTransport([text("One."), text("Two."), text("never")])
    store = MemoryStore()
    async with AsyncClient(transport=transport, middleware=[Stateful(store)]) as client:
        first = await client.responses.create(model="m", input="a")
        second = await client.responses.create(
            model="m", input="b", previous_response_id=first.id, store=False
        )
        assert await store.get(second.id) is None
        with pytest.raises(NotFoundError):
            await client.responses.create(model="m", input="c", previous_response_id=second.id)
    assert len(store) == 1
    assert second.previous_response_id == first.id
    assert second.store is False
    assert transport.requests[1].body["input"] == [user("a"), *as_input(first), user("b")]
    assert transport.calls == 2


async def test_store_by_default_false_stores_only_on_request() -> None:
    transport = ScriptedTransport([text("One."), text("Two.")])
    store = MemoryStore()
    async with AsyncClient(
        transport=transport, middleware=[Stateful(store, store_by_default=False)]
    ) as client:
        first = await client.responses.create(model="m", input="a")
        second = await client.responses.create(model="m", input="b", store=True)
    assert await store.get(first.id) is None
    assert await store.get(second.id) is not None
    assert transport.requests[0].body == {"model": "m", "input": "a"}  # passed through untouched


@pytest.mark.parametrize(
    ("scenario", "error"),
    [
        (failed(after_text="Half an"), ResponseFailedError),
        (failed(), ResponseFailedError),
        (reset_mid_stream(4), StreamInterrupted),
        (truncated(4), ProtocolError),
        (malformed(3), ProtocolError),
    ],
    ids=["failed-after-text", "failed", "reset", "truncated", "malformed"],
)
async def test_failed_and_cut_streams_are_not_stored(scenario: Any, error: type[Exception]) -> None:
    store = MemoryStore()
    transport = ScriptedTransport([scenario])
    async with AsyncClient(transport=transport, middleware=[Stateful(store)]) as client:
        seen: list[Any] = []
        with pytest.raises(error):  # the upstream's error reaches the caller as it was
            async with client.responses.stream(model="m", input="x") as stream:
                async for event in stream:
                    seen.append(event)
    assert len(store) == 0
    assert seen  # events were delivered before the failure
    assert not any(event.type in ("response.completed", "response.incomplete") for event in seen)


async def test_an_abandoned_stream_is_not_stored() -> None:
    store = MemoryStore()
    transport = ScriptedTransport([text("A long answer in many words", chunks=6)])
    async with (
        AsyncClient(transport=transport, middleware=[Stateful(store)]) as client,
        client.responses.stream(model="m", input="x") as stream,
    ):
        async for event in stream:
            if event.type == "response.output_text.delta":
                break
    assert len(store) == 0


async def test_a_failed_whole_response_is_not_stored() -> None:
    store = MemoryStore()
    transport = ScriptedTransport([failed()])
    async with AsyncClient(transport=transport, middleware=[Stateful(store)]) as client:
        with pytest.raises(ResponseFailedError) as info:
            await client.responses.create(model="m", input="x")
    assert info.value.response is not None and info.value.response.status == "failed"
    assert len(store) == 0


async def test_the_record_is_written_before_the_terminal_event_is_handed_over(tmp_path: Path) -> None:
    # Two stores on one file stand for two proxy processes: when the caller sees the end,
    # the other process can already continue the chain.
    path = tmp_path / "shared.db"
    async with SQLiteStore(path) as mine, SQLiteStore(path) as theirs:
        transport = ScriptedTransport([text("Hi there.")])
        found = []
        async with (
            AsyncClient(transport=transport, middleware=[Stateful(mine)]) as client,
            client.responses.stream(model="m", input="x") as stream,
        ):
            async for event in stream:
                if event.type == "response.completed":
                    found.append(await theirs.get(event.response.id))
        assert found and found[0] is not None
        assert found[0].input == (user("x"),)
        assert found[0].output[0]["content"][0]["text"] == "Hi there."


async def test_only_response_events_are_patched() -> None:
    store = MemoryStore()
    first = await Stateful(store)(Request(body=CreateResponseBody(model="m", input="a")), ScriptedTransport())
    assert isinstance(first, Response)
    inner_events: list[Any] = []

    async def upstream(request: Request) -> Any:
        reply = await ScriptedTransport([text("Two words")])(request)
        return reply.tap(on_event=inner_events.append)

    body = CreateResponseBody(model="m", input="b", previous_response_id=first.id, stream=True)
    reply = await Stateful(store)(Request(body=body, stream=True), upstream)
    outer_events = [event async for event in reply]
    assert len(outer_events) == len(inner_events)
    for outer, inner in zip(outer_events, inner_events, strict=True):
        if hasattr(inner, "response"):
            assert outer is not inner
            assert outer.response.previous_response_id == first.id and outer.response.store is True
            assert inner.response.previous_response_id is None
            assert outer.sequence_number == inner.sequence_number
        else:
            assert outer is inner  # deltas and items pass through untouched


# -- the write after the reply (CallContext.after_reply, the served proxy) --------------------------


async def test_a_memory_store_write_waits_for_after_reply_and_then_continues_the_chain() -> None:
    transport = ScriptedTransport([text("Hello Ada."), text("You are Ada.")])
    store = MemoryStore()
    later: list[Any] = []
    body = CreateResponseBody(model="m", input="I am Ada.")
    first = await Stateful(store)(Request(body=body, context=CallContext(after_reply=later)), transport)
    assert isinstance(first, Response) and first.store is True
    assert len(store) == 0 and len(later) == 1  # handed over, not yet written
    later[0]()
    record = await store.get(first.id)
    assert record is not None
    assert list(record.input) == [user("I am Ada.")]
    assert list(record.output) == [item.to_dict() for item in first.output]
    # Chained from that record, the second write is deferred as well, with the full history.
    again: list[Any] = []
    body = CreateResponseBody(model="m", input="Who am I?", previous_response_id=first.id)
    second = await Stateful(store)(Request(body=body, context=CallContext(after_reply=again)), transport)
    assert transport.requests[1].body["input"] == [user("I am Ada."), *as_input(first), user("Who am I?")]
    again[0]()
    stored = await store.get(second.id)
    assert stored is not None and list(stored.input) == transport.requests[1].body["input"]


async def test_stores_that_may_wait_or_are_shared_are_written_before_the_reply(tmp_path: Path) -> None:
    for store in (FlakyStore(), SQLiteStore(tmp_path / "state.db")):  # put overridden; another process's
        later: list[Any] = []
        body = CreateResponseBody(model="m", input="x")
        request = Request(body=body, context=CallContext(after_reply=later))
        reply = await Stateful(store)(request, ScriptedTransport([text("Stored now.")]))
        assert later == []
        assert await store.get(reply.id) is not None
        await store.aclose()


async def test_streams_and_unstored_replies_hand_nothing_over() -> None:
    later: list[Any] = []
    transport = ScriptedTransport([text("Streamed."), text("Not kept."), failed("boom")])
    store = MemoryStore()
    stream_body = CreateResponseBody(model="m", input="x", stream=True)
    request = Request(body=stream_body, stream=True, context=CallContext(after_reply=later))
    reply = await Stateful(store)(request, transport)
    events = [event async for event in reply]
    assert events[-1].type == "response.completed" and len(store) == 1  # before the terminal, as always
    body = CreateResponseBody(model="m", input="x", store=False)
    await Stateful(store)(Request(body=body, context=CallContext(after_reply=later)), transport)
    request = Request(body=CreateResponseBody(model="m", input="x"), context=CallContext(after_reply=later))
    reply = await Stateful(store)(request, transport)
    assert isinstance(reply, Response) and reply.status == "failed"
    assert later == [] and len(store) == 1


async def test_a_deferred_write_that_fails_logs_like_any_write(caplog: pytest.LogCaptureFixture) -> None:
    class Full(MemoryStore):
        def put_nowait(self, record: StoredResponse) -> StoredResponse:
            raise MemoryError("no room")

    observer = Observer()
    later: list[Any] = []
    body = CreateResponseBody(model="m", input="x")
    request = Request(body=body, context=CallContext(observers=[observer], after_reply=later))
    reply = await Stateful(Full())(request, ScriptedTransport([text("Answered.")]))
    with caplog.at_level(logging.WARNING, logger="openresponses"):
        later[0]()  # never raises: the reply went out already
    assert any(
        "could not store response" in r.getMessage() and reply.id in r.getMessage() for r in caplog.records
    )
    assert ("state.store_failed", {"error.type": "MemoryError"}) in observer.records


# -- failures of the store -------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_a_write_failure_logs_and_never_breaks_the_call(
    stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    observer = Observer()
    transport = ScriptedTransport([text("Still answered.")])
    body = CreateResponseBody(model="m", input="x", stream=True if stream else None)
    request = Request(body=body, stream=stream, context=CallContext(observers=[observer]))
    with caplog.at_level(logging.WARNING, logger="openresponses"):
        reply = await Stateful(FlakyStore(fail_put=True))(request, transport)
        if stream:
            events = [event async for event in reply]
            response = events[-1].response
            assert events[-1].type == "response.completed"
        else:
            response = reply
    assert response.output_text == "Still answered."
    assert any(
        "could not store response" in r.getMessage() and response.id in r.getMessage() for r in caplog.records
    )
    assert ("state.store_failed", {"error.type": "StoreError"}) in observer.records


async def test_a_read_failure_is_a_store_error_that_retry_does_not_repeat() -> None:
    store = FlakyStore(fail_get=True)
    transport = ScriptedTransport([text("never")])
    middleware = [Retry(RetryPolicy(attempts=3, base_delay=0)), Stateful(store)]
    async with AsyncClient(transport=transport, middleware=middleware) as client:
        with pytest.raises(StoreError) as caught:
            await client.responses.create(model="m", input="x", previous_response_id="resp_1")
    assert store.gets == 1
    assert transport.calls == 0
    assert any("previous_response_id='resp_1'" in note for note in caught.value.__notes__)


async def test_a_dead_redis_fails_reads_fast_and_loses_only_the_record(dead_port: int) -> None:
    transport = ScriptedTransport([text("Answered anyway.")])
    store = RedisStore(f"redis://127.0.0.1:{dead_port}/0", timeout=0.2)
    async with AsyncClient(transport=transport, middleware=[Stateful(store)]) as client:
        with pytest.raises(StoreError, match="redis"):
            await client.responses.create(model="m", input="x", previous_response_id="resp_1")
        assert transport.calls == 0
        response = await client.responses.create(model="m", input="x")  # the write fails quietly
    assert response.output_text == "Answered anyway."


async def test_retry_inside_resends_the_full_history() -> None:
    transport = ScriptedTransport([text("One."), status(500), text("Two.")])
    store = MemoryStore()
    middleware = [Stateful(store), Retry(RetryPolicy(attempts=2, base_delay=0))]
    async with AsyncClient(transport=transport, middleware=middleware) as client:
        first = await client.responses.create(model="m", input="a")
        second = await client.responses.create(model="m", input="b", previous_response_id=first.id)
    expected = [user("a"), *as_input(first), user("b")]
    assert transport.requests[1].body["input"] == expected == transport.requests[2].body["input"]
    assert second.previous_response_id == first.id
    assert len(store) == 2


async def test_a_stored_item_the_spec_cannot_take_back_is_a_validation_error() -> None:
    bad = text("x").response({"model": "m"}).to_dict()
    bad["output"] = [
        {"type": "function_call", "id": "fc_1", "call_id": "c" * 80, "name": "f", "arguments": "{}",
         "status": "completed"}
    ]  # fmt: skip
    transport = ScriptedTransport([json_response(bad), text("never")])
    async with AsyncClient(transport=transport, middleware=[Stateful()]) as client:
        first = await client.responses.create(model="m", input="a")
        with pytest.raises(RequestValidationError, match="call_id") as caught:
            await client.responses.create(model="m", input="b", previous_response_id=first.id)
    assert transport.calls == 1
    assert any("previous_response_id" in note for note in caught.value.__notes__)


def test_a_store_must_implement_the_protocol() -> None:
    with pytest.raises(TypeError, match="ResponseStore"):
        Stateful(store=object())  # type: ignore[arg-type]
    assert "MemoryStore" in repr(Stateful())


async def test_closing_the_client_closes_the_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    transport = ScriptedTransport([text("Hi.")])
    async with AsyncClient(transport=transport, middleware=[Stateful(store)]) as client:
        await client.responses.create(model="m", input="x")
        assert store._worker is not None
    assert store._worker is None  # released; a later call would reopen it


# -- two processes, one Redis -------------------------------------------------------------------------

_PEER = textwrap.dedent(
    """
    import asyncio, json, sys
    from openresponses import AsyncClient
    from openresponses.middleware import Stateful
    from openresponses.store import RedisStore
    from openresponses.testing import ScriptedTransport, text

    async def main(url, prefix):
        transport = ScriptedTransport([text("Nice to meet you, Ada."), text("You told me your name.")])
        store = RedisStore(url, prefix=prefix)
        async with AsyncClient(transport=transport, middleware=[Stateful(store)]) as client:
            first = await client.responses.create(model="m", input="I am Ada.")
            print(json.dumps({"id": first.id}), flush=True)
            previous = sys.stdin.readline().strip()
            async with client.responses.stream(
                model="m", input="What did I tell you?", previous_response_id=previous
            ) as stream:
                third = await stream.get_final_response()
            sent = transport.requests[1].body["input"]
            print(json.dumps({"previous": third.previous_response_id, "input": sent}), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_two_stateful_instances_over_one_redis_continue_one_chain(redis_server: str) -> None:
    prefix = f"chain:{uuid.uuid4().hex[:8]}:"
    peer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _PEER,
        redis_server,
        prefix,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert peer.stdin is not None and peer.stdout is not None and peer.stderr is not None
    try:
        line = await asyncio.wait_for(peer.stdout.readline(), 20)
        assert line, (await peer.stderr.read()).decode()
        first_id = json.loads(line)["id"]

        transport = ScriptedTransport([text("Noted.")])
        async with AsyncClient(
            transport=transport, middleware=[Stateful(RedisStore(redis_server, prefix=prefix))]
        ) as c:
            second = await c.responses.create(model="m", input="Remember it.", previous_response_id=first_id)
        assert second.previous_response_id == first_id
        history = transport.requests[0].body["input"]
        assert [item.get("role") for item in history] == ["user", "assistant", "user"]
        assert history[1]["content"][0]["text"] == "Nice to meet you, Ada."

        peer.stdin.write(f"{second.id}\n".encode())
        await peer.stdin.drain()
        line = await asyncio.wait_for(peer.stdout.readline(), 20)
        assert line, (await peer.stderr.read()).decode()
        result = json.loads(line)
    finally:
        if peer.returncode is None:
            peer.stdin.close()
        await asyncio.wait_for(peer.wait(), 20)
    assert result["previous"] == second.id
    assert [item.get("role") for item in result["input"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert [item["content"] if isinstance(item["content"], str) else item["content"][0]["text"]
            for item in result["input"]] == [
        "I am Ada.", "Nice to meet you, Ada.", "Remember it.", "Noted.", "What did I tell you?"
    ]  # fmt: skip
