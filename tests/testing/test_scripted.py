"""The scripted server and transport, driven by the real clients: same scenarios, same results."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import openresponses
from openresponses import AsyncClient, Client
from openresponses._sse import encode_event
from openresponses.testing import (
    RecordedRequest,
    Scenario,
    ScriptedServer,
    ScriptedTransport,
    assert_valid_stream,
    extension_events,
    failed,
    function_call,
    incomplete,
    json_response,
    malformed,
    mislabelled,
    refusal,
    reset_before_headers,
    reset_mid_stream,
    stall,
    status,
    text,
    text_events,
    tool_calls,
    truncated,
)
from openresponses.types import Message, StreamEvent, UnknownEvent


@dataclass
class Harness:
    """One way of serving scenarios to a real ``AsyncClient``: loopback HTTP or in-process."""

    kind: str
    client: AsyncClient
    server: ScriptedServer | None
    transport: ScriptedTransport | None

    def push(self, *scenarios: Scenario) -> None:
        if self.server is not None:
            self.server.push(*scenarios)
        else:
            assert self.transport is not None
            self.transport.push(*scenarios)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.server.requests if self.server is not None else self.transport.requests  # type: ignore[union-attr]


@pytest.fixture(params=["http", "inprocess"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "http":
        async with (
            ScriptedServer() as server,
            AsyncClient(base_url=server.base_url, api_key="sk-test") as client,
        ):
            yield Harness("http", client, server, None)
    else:
        transport = ScriptedTransport(name="scripted")
        async with AsyncClient(transport=transport) as client:
            yield Harness("inprocess", client, None, transport)


async def collect(client: AsyncClient, **params: Any) -> tuple[list[StreamEvent], openresponses.Response]:
    async with client.responses.stream(model="test-model", input="Hello there", **params) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    return events, final


# -- happy paths ----------------------------------------------------------------------------------


async def test_text_with_reasoning_streams_in_spec_order(harness: Harness) -> None:
    harness.push(text("Hello world, how are you?", reasoning="The user greets me", reasoning_text="raw"))
    events, final = await collect(harness.client)

    assert_valid_stream(events)
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
    ]
    # README §11 C: the summary part closes before the raw trace opens, the reasoning item
    # closes before the message opens.
    assert types.index("response.reasoning_summary_part.done") < types.index("response.content_part.added")
    assert types[-1] == "response.completed"
    assert final.output_text == "Hello world, how are you?"
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 5
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]  # type: ignore[union-attr]
    assert deltas == ["Hello", " world,", " how", " are", " you?"]


async def test_non_stream_returns_the_same_final_response(harness: Harness) -> None:
    scenario = text("Same answer either way", reasoning="think")
    harness.push(scenario, scenario)
    _, streamed = await collect(harness.client)
    response = await harness.client.responses.create(
        model="test-model", input="Hello there", temperature=0.25
    )

    assert response.output_text == streamed.output_text == "Same answer either way"
    assert response.status == streamed.status == "completed"
    assert response.usage == streamed.usage
    assert response.model == "test-model" and response.temperature == 0.25  # echoed from the request
    assert response.provider is not None
    assert [r.stream for r in harness.requests] == [True, False]


async def test_function_call_assembles_arguments(harness: Harness) -> None:
    harness.push(function_call("get_weather", {"location": "Paris", "unit": "c"}, call_id="call_1", chunks=4))
    events, final = await collect(harness.client)

    assert_valid_stream(events)
    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(deltas) == 4
    (call,) = final.output
    assert call.type == "function_call"
    assert call.name == "get_weather" and call.call_id == "call_1"  # type: ignore[union-attr]
    assert json.loads(call.arguments) == {"location": "Paris", "unit": "c"}  # type: ignore[union-attr]


async def test_parallel_tool_calls(harness: Harness) -> None:
    harness.push(tool_calls([function_call("a", {"x": 1}), function_call("b", "{}")], text="Let me check."))
    events, final = await collect(harness.client)
    assert_valid_stream(events)
    assert [item.type for item in final.output] == ["message", "function_call", "function_call"]
    assert final.output_text == "Let me check."


async def test_refusal_and_incomplete(harness: Harness) -> None:
    harness.push(refusal("No."), incomplete("Cut sho", reason="max_output_tokens"))
    events, final = await collect(harness.client)
    assert_valid_stream(events)
    message = final.output[0]
    assert isinstance(message, Message) and message.content is not None
    assert message.content[0].type == "refusal"

    events, final = await collect(harness.client)
    assert_valid_stream(events)
    assert events[-1].type == "response.incomplete"
    assert final.status == "incomplete" and final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"
    assert final.output[-1].status == "incomplete"
    assert final.output_text == "Cut sho"


async def test_extension_events_are_delivered_and_ignored(harness: Harness) -> None:
    harness.push(extension_events(text("Hi there")))
    events, final = await collect(harness.client)
    assert_valid_stream(events)
    unknown = [e for e in events if isinstance(e, UnknownEvent)]
    assert unknown and all(e.type == "acme:trace" for e in unknown)
    assert final.output_text == "Hi there"


async def test_json_response_replayed_as_a_stream(harness: Harness) -> None:
    fixed = text("Fixed answer").response({"model": "fixed-model"})
    harness.push(json_response(fixed), json_response(fixed))
    events, streamed = await collect(harness.client)
    assert_valid_stream(events)
    plain = await harness.client.responses.create(model="x", input="y")
    assert streamed.id == plain.id == fixed.id
    assert plain.output_text == streamed.output_text == "Fixed answer"


async def test_compact(harness: Harness) -> None:
    result = await harness.client.responses.compact(model="test-model", input="a long conversation here")
    assert result.object == "response.compaction"
    assert result.output[0].type == "compaction"
    assert result.output[0].encrypted_content  # type: ignore[union-attr]
    assert result.usage.input_tokens == 4
    assert harness.requests[-1].path == "/v1/responses/compact"


async def test_requests_are_recorded(harness: Harness) -> None:
    await harness.client.responses.create(
        model="test-model",
        input="Hi",
        extra_headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"},
    )
    (recorded,) = harness.requests
    assert recorded.method == "POST" and recorded.path == "/v1/responses"
    assert recorded.body == {"model": "test-model", "input": "Hi"}
    assert recorded.headers["traceparent"].startswith("00-111")
    assert recorded.received_at <= time.monotonic()
    if harness.kind == "http":
        assert recorded.headers["authorization"] == "Bearer sk-test"


# -- errors -----------------------------------------------------------------------------------------


async def test_rate_limit_with_retry_after(harness: Harness) -> None:
    harness.push(status(429, headers={"Retry-After": "2"}, message="Slow down", code_str="rate_limited"))
    with pytest.raises(openresponses.RateLimitError) as info:
        await harness.client.responses.create(model="m", input="x")
    assert info.value.retry_after == 2
    assert info.value.status_code == 429 and info.value.retryable
    assert info.value.code == "rate_limited"
    assert "Slow down" in str(info.value)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (400, openresponses.BadRequestError),
        (401, openresponses.AuthenticationError),
        (404, openresponses.NotFoundError),
        (503, openresponses.InternalServerError),
    ],
)
async def test_status_errors_map_to_classes(harness: Harness, code: int, error: type[Exception]) -> None:
    harness.push(status(code, retry_after=1))
    with pytest.raises(error):
        await collect(harness.client)


async def test_reset_before_headers(harness: Harness) -> None:
    harness.push(reset_before_headers(), reset_before_headers())
    with pytest.raises(openresponses.APIConnectionError):
        await harness.client.responses.create(model="m", input="x")
    with pytest.raises(openresponses.APIConnectionError):
        await collect(harness.client)


async def test_reset_mid_stream_interrupts_with_partial(harness: Harness) -> None:
    harness.push(reset_mid_stream(after_events=6, text="Hello brave new world"))
    received: list[StreamEvent] = []
    with pytest.raises(openresponses.StreamInterrupted) as info:
        async with harness.client.responses.stream(model="m", input="x") as stream:
            async for event in stream:
                received.append(event)
    assert len(received) == 6
    assert info.value.events_delivered == 6
    assert info.value.response is not None
    assert info.value.response.output_text == "Hello brave"  # created, in_progress, added, part, 2 deltas
    assert isinstance(info.value.__cause__, openresponses.APIConnectionError)


async def test_truncated_stream_is_a_protocol_error(harness: Harness) -> None:
    harness.push(truncated(after_events=5, text="Hello brave new world"))
    with pytest.raises(openresponses.ProtocolError) as info:
        await collect(harness.client)
    assert info.value.response is not None
    assert info.value.response.output_text == "Hello"


async def test_malformed_event_is_a_protocol_error_with_bytes(harness: Harness) -> None:
    harness.push(malformed(after_events=3, payload=b"{not json"))
    with pytest.raises(openresponses.ProtocolError) as info:
        await collect(harness.client)
    assert info.value.data == b"{not json"


async def test_mislabelled_event_is_a_protocol_error(harness: Harness) -> None:
    harness.push(mislabelled(after_events=2))
    with pytest.raises(openresponses.ProtocolError, match="contradicts"):
        await collect(harness.client)


async def test_failed_stream_raises_with_code(harness: Harness) -> None:
    harness.push(failed("model overloaded", code="overloaded", after_text="Partial answer"))
    with pytest.raises(openresponses.ResponseFailedError) as info:
        await collect(harness.client)
    assert info.value.code == "overloaded"
    assert info.value.retryable
    assert info.value.response is not None and info.value.response.output_text == "Partial answer"


async def test_failed_non_stream_raises_with_the_failed_response(harness: Harness) -> None:
    harness.push(failed("boom", code="server_error"))
    with pytest.raises(openresponses.ResponseFailedError) as info:
        await harness.client.responses.create(model="m", input="x")
    assert info.value.code == "server_error"
    response = info.value.response
    assert response is not None and response.status == "failed"
    assert response.error is not None and response.error.code == "server_error"


async def test_stall_trips_the_idle_limit(harness: Harness) -> None:
    harness.push(stall(after_events=3, seconds=None))
    reply = await harness.client.send(harness.client.build_request({"model": "m", "input": "x"}, stream=True))
    assert isinstance(reply, openresponses.EventStream)
    reply.limit(idle=0.2)
    got: list[StreamEvent] = []
    with pytest.raises(openresponses.StreamInterrupted) as info:
        async for event in reply:
            got.append(event)
    assert len(got) == 3
    assert isinstance(info.value.__cause__, openresponses.APITimeoutError)


async def test_first_event_delay_and_event_delay(harness: Harness) -> None:
    harness.push(text("a b", first_event_delay=0.2, event_delay=0.01))
    started = time.monotonic()
    stamps: list[tuple[str, float]] = []
    async with harness.client.responses.stream(model="m", input="x") as stream:
        async for event in stream:
            stamps.append((event.type, time.monotonic() - started))
    lifecycle_done = stamps[1][1]
    first_content = stamps[2][1]
    assert lifecycle_done < 0.15 <= first_content


async def test_queue_then_default(harness: Harness) -> None:
    harness.push(text("one"), text("two"))
    answers = [(await harness.client.responses.create(model="m", input="x")).output_text for _ in range(3)]
    assert answers == ["one", "two", "Hello"]


# -- connection discipline (loopback only) ------------------------------------------------------------


async def test_connection_released_at_terminal_event_before_done(scripted_server: ScriptedServer) -> None:
    # The server holds [DONE] back for 5s after response.completed: the client must not wait.
    n_events = len(text("Hi there").events())
    scripted_server.push(stall(after_events=n_events, seconds=5, text="Hi there"))
    async with AsyncClient(base_url=scripted_server.base_url) as client:
        started = time.monotonic()
        _, final = await collect(client)
        assert time.monotonic() - started < 2
        assert final.output_text == "Hi there"
        await scripted_server.wait_until(
            lambda s: s.open_connections == 0 and s.active_streams == 0, timeout=2
        )
    assert scripted_server.client_disconnects == 1  # the [DONE] frame found the client gone


async def test_early_break_releases_the_connection(scripted_server: ScriptedServer) -> None:
    scripted_server.push(text(" ".join(["word"] * 200), event_delay=0.01))
    async with AsyncClient(base_url=scripted_server.base_url) as client:
        async with client.responses.stream(model="m", input="x") as stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    break
        await scripted_server.wait_until(lambda s: s.open_connections == 0 and s.active_streams == 0)
        assert scripted_server.client_disconnects == 1
        # The client still works afterwards on a fresh connection.
        assert (await client.responses.create(model="m", input="x")).output_text == "Hello"
    assert scripted_server.connections_opened == 2


async def test_keep_alive_reuses_one_connection(scripted_server: ScriptedServer) -> None:
    async with AsyncClient(base_url=scripted_server.base_url) as client:
        for _ in range(3):
            await client.responses.create(model="m", input="x")
    assert scripted_server.connections_opened == 1
    assert len(scripted_server.requests) == 3


async def test_api_key_is_enforced() -> None:
    async with ScriptedServer(api_key="sk-right") as server:
        async with AsyncClient(base_url=server.base_url, api_key="sk-wrong") as client:
            with pytest.raises(openresponses.AuthenticationError) as info:
                await client.responses.create(model="m", input="x")
            assert info.value.code == "invalid_api_key"
        async with AsyncClient(base_url=server.base_url, api_key="sk-right") as client:
            assert (await client.responses.create(model="m", input="x")).output_text == "Hello"


async def test_unknown_route_is_404(scripted_server: ScriptedServer) -> None:
    async with AsyncClient(base_url=scripted_server.url + "/v2") as client:
        with pytest.raises(openresponses.NotFoundError):
            await client.responses.create(model="m", input="x")


async def test_raw_wire_format(scripted_server: ScriptedServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", scripted_server.port)
    body = json.dumps({"model": "m", "input": "x", "stream": True}).encode()
    writer.write(
        b"POST /v1/responses HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    raw = await reader.read()
    writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"content-type: text/event-stream" in head and b"transfer-encoding: chunked" in head
    assert rest.endswith(b"0\r\n\r\n")
    assert b"event: response.created\ndata: {" in rest
    assert b"data: [DONE]\n\n" in rest


def test_sync_client_against_threaded_server() -> None:
    server = ScriptedServer([text("From a thread", reasoning="sync")])
    with server.run_in_thread(), Client(base_url=server.base_url) as client:
        with client.responses.stream(model="m", input="x") as stream:
            events = list(stream)
            final = stream.get_final_response()
        assert_valid_stream(events)
        assert final.output_text == "From a thread"
        server.push(status(429, retry_after=3))
        with pytest.raises(openresponses.RateLimitError) as info:
            client.responses.create(model="m", input="x")
        assert info.value.retry_after == 3
        assert client.responses.create(model="m", input="x").output_text == "Hello"
    assert len(server.requests) == 3


@pytest.mark.parametrize("fault", [reset_mid_stream, truncated])
async def test_non_stream_body_cut_short_is_a_connection_error(harness: Harness, fault: Any) -> None:
    harness.push(fault(after_events=3))
    with pytest.raises(openresponses.APIConnectionError) as info:
        await harness.client.responses.create(model="m", input="x")
    assert info.value.retryable


async def test_good_events_before_a_bad_one_in_the_same_chunk_are_delivered() -> None:
    # Real servers pack several events per network chunk: the valid ones before the bad one
    # must still reach the consumer and the partial response.
    events = text_events("one two three")
    wire = b"".join(
        encode_event(e.model_dump_json(exclude_unset=True).encode(), e.type) for e in events[:6]
    ) + encode_event(b"{not json")

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=wire)

    http = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    received: list[StreamEvent] = []
    async with AsyncClient(base_url="http://x/v1", http_client=http) as client:
        with pytest.raises(openresponses.ProtocolError) as info:
            async with client.responses.stream(model="m", input="x") as stream:
                async for event in stream:
                    received.append(event)
    assert [e.type for e in received] == [e.type for e in events[:6]]
    assert info.value.data == b"{not json"
    expected = "".join(getattr(e, "delta", "") for e in events[:6])
    assert expected and info.value.response is not None and info.value.response.output_text == expected
