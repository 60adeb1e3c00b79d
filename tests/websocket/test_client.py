"""WebSocket mode, client side: ``responses.connect()`` against the scripted loopback server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ProtocolError,
    RequestValidationError,
    StreamInterrupted,
)
from openresponses._connection import ConnectionBusyError
from openresponses.middleware import Retry, RetryPolicy, Timeout
from openresponses.testing import extension_events, function_call, malformed, stall, status, text
from openresponses.testing.websocket import (
    ScriptedWebSocketServer,
    compacting,
    drop_after_first_event,
    drop_before_first_event,
    lanes,
    limit_reached,
)
from openresponses.transports.websocket import WebSocketLimitReached, WebSocketTransport
from openresponses.types import is_unknown_event

KEY = "sk-test-websocket-secret-0123456789"


@pytest.fixture
async def server() -> AsyncIterator[ScriptedWebSocketServer]:
    async with ScriptedWebSocketServer() as srv:
        yield srv


def client_for(server: ScriptedWebSocketServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(base_url=server.base_url, api_key=KEY, **kwargs)


async def test_turns_continue_with_only_the_new_items(server: ScriptedWebSocketServer) -> None:
    server.push(function_call("get_weather", {"city": "Paris"}), text("Sunny in Paris"))
    async with client_for(server) as client, client.responses.connect(model="m", store=False) as conn:
        stream = await conn.create(input="Weather in Paris?")
        types = [event.type async for event in stream]
        first = await stream.get_final_response()
        assert types[0] == "response.created" and types[-1] == "response.completed"
        call = first.output[0]
        assert call.type == "function_call"
        assert conn.last_response_id == first.id
        output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
        second = await (await conn.create(input=[output], continue_=True)).get_final_response()
    assert second.output_text == "Sunny in Paris"
    assert server.sockets_opened == 1  # both turns on one socket
    sent = [message.data for message in server.messages]
    assert sent[0] == {"type": "response.create", "model": "m", "input": "Weather in Paris?", "store": False}
    assert sent[1]["previous_response_id"] == first.id
    assert sent[1]["input"] == [output]  # only the new items
    for message in sent:
        assert not {"stream", "stream_options", "background"} & set(message)  # R55
    assert server.requests[0].headers["authorization"] == "Bearer " + KEY


async def test_stream_fields_are_refused_before_anything_is_sent(server: ScriptedWebSocketServer) -> None:
    async with client_for(server) as client:
        with pytest.raises(RequestValidationError, match="background"):
            client.responses.connect(model="m", background=True)
        async with client.responses.connect(model="m") as conn:
            with pytest.raises(RequestValidationError, match="stream_options"):
                await conn.create(input="x", stream_options={"include_obfuscation": False})
            with pytest.raises(RequestValidationError, match="stream"):
                await conn.create(input="x", extra_body={"stream": True})
            with pytest.raises(RequestValidationError, match="nothing to continue"):
                await conn.create(input="x", continue_=True)
            with pytest.raises(TypeError, match="instructons"):
                await conn.create(input="x", instructons="typo")  # type: ignore[call-arg]
    assert server.messages == []


async def test_previous_response_not_found_is_a_typed_error(server: ScriptedWebSocketServer) -> None:
    async with client_for(server) as client, client.responses.connect(model="m", store=False) as conn:
        with pytest.raises(BadRequestError) as caught:
            await conn.create(input="x", previous_response_id="resp_unknown")
        assert caught.value.code == "previous_response_not_found"
        assert caught.value.status_code == 400
        # The socket is still usable for the next turn.
        answer = await (await conn.create(input="again")).get_final_response()
    assert answer.output_text == "Hello"
    assert server.sockets_opened == 1


async def test_limit_reached_with_store_reconnects_and_sends_the_turn_again(
    server: ScriptedWebSocketServer,
) -> None:
    server.push(text("one"), limit_reached(), text("two"))
    async with client_for(server) as client, client.responses.connect(model="m", store=True) as conn:
        first = await (await conn.create(input="a")).get_final_response()
        second = await (await conn.create(input="b", continue_=True)).get_final_response()
        assert conn.reconnects == 1
    assert (first.output_text, second.output_text) == ("one", "two")
    assert server.sockets_opened == 2
    assert [m.connection for m in server.messages] == [1, 1, 2]
    assert server.messages[2].data["previous_response_id"] == first.id  # the chain continued


async def test_limit_reached_without_store_is_never_replayed(server: ScriptedWebSocketServer) -> None:
    server.push(text("one"), limit_reached(), text("fresh"))
    async with client_for(server) as client, client.responses.connect(model="m", store=False) as conn:
        await (await conn.create(input="a")).get_final_response()
        with pytest.raises(WebSocketLimitReached) as caught:
            await conn.create(input="b", continue_=True)
        assert caught.value.code == "websocket_connection_limit_reached"
        assert "full context" in "".join(caught.value.__notes__)
        assert len(server.messages) == 2  # not sent again
        # The next turn opens a new socket; a new chain starts with the full context.
        fresh = await (await conn.create(input="a, then b")).get_final_response()
    assert fresh.output_text == "fresh"
    assert server.sockets_opened == 2


async def test_server_max_age_limit_then_continuation_is_lost_with_store_false() -> None:
    async with ScriptedWebSocketServer(max_age=0.2) as server:  # noqa: SIM117
        async with client_for(server) as client, client.responses.connect(model="m", store=False) as conn:
            await (await conn.create(input="a")).get_final_response()
            await asyncio.sleep(0.3)
            with pytest.raises(WebSocketLimitReached):
                await conn.create(input="b", continue_=True)
            with pytest.raises(BadRequestError) as caught:
                await conn.create(input="b", continue_=True)  # new socket: the chain is gone (R62)
            assert caught.value.code == "previous_response_not_found"
            assert "reopened" in "".join(caught.value.__notes__)


async def test_transport_reopens_an_old_socket_before_a_turn(server: ScriptedWebSocketServer) -> None:
    now = [0.0]
    transport = WebSocketTransport(server.base_url, max_age=60.0, clock=lambda: now[0])
    async with (
        client_for(server) as client,
        client.responses.connect(transport=transport, store=True) as conn,
    ):
        first = await (await conn.create(input="a")).get_final_response()
        now[0] = 61.0
        await (await conn.create(input="b", continue_=True)).get_final_response()
    assert transport.reconnects == 1
    assert server.sockets_opened == 2
    assert server.messages[1].data["previous_response_id"] == first.id


async def test_drop_before_first_content_event_is_retried_on_a_new_socket(
    server: ScriptedWebSocketServer,
) -> None:
    server.push(drop_before_first_event(), text("recovered"))
    retry = Retry(RetryPolicy(attempts=2, base_delay=0.0))
    async with client_for(server, middleware=[retry]) as client, client.responses.connect(model="m") as conn:
        stream = await conn.create(input="x")
        events = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == "recovered"
    assert events.count("response.created") == 1  # the failed attempt was invisible
    assert server.sockets_opened == 2 and conn.reconnects == 1


async def test_drop_before_first_event_without_retry_raises_and_next_turn_reconnects(
    server: ScriptedWebSocketServer,
) -> None:
    server.push(drop_before_first_event(lifecycle=False), text("later"))
    async with client_for(server) as client, client.responses.connect(model="m") as conn:
        with pytest.raises(APIConnectionError, match="WebSocket connection lost"):
            await conn.create(input="x")
        assert len(server.messages) == 1  # never replayed by the connection itself
        answer = await (await conn.create(input="y")).get_final_response()
    assert answer.output_text == "later"


async def test_drop_after_first_event_is_stream_interrupted(server: ScriptedWebSocketServer) -> None:
    server.push(drop_after_first_event(after_events=4), text("next"))
    retry = Retry(RetryPolicy(attempts=3, base_delay=0.0))
    async with client_for(server, middleware=[retry]) as client, client.responses.connect(model="m") as conn:
        stream = await conn.create(input="x")
        with pytest.raises(StreamInterrupted) as caught:
            async for _ in stream:
                pass
        assert caught.value.response is not None  # the partial answer
        assert len(server.messages) == 1  # committed: not retried
        answer = await (await conn.create(input="y")).get_final_response()
    assert answer.output_text == "next"


async def test_unknown_events_and_fields_pass_through(server: ScriptedWebSocketServer) -> None:
    server.push(extension_events(text("ext")), compacting(text("compacted")), lanes(text("lane"), "lane_7"))
    async with client_for(server) as client, client.responses.connect(model="m") as conn:
        seen: list[Any] = []
        for _ in range(3):
            stream = await conn.create(input="x")
            seen += [event async for event in stream]
    unknown = [event.type for event in seen if is_unknown_event(event)]
    assert "acme:trace" in unknown and "response.compaction.compacting" in unknown
    laned = [event for event in seen if (event.model_extra or {}).get("stream_id") == "lane_7"]
    assert laned and laned[-1].type == "response.completed"


async def test_malformed_message_is_a_protocol_error(server: ScriptedWebSocketServer) -> None:
    server.push(malformed(after_events=3), text("after"))
    async with client_for(server) as client, client.responses.connect(model="m") as conn:
        stream = await conn.create(input="x")
        with pytest.raises((ProtocolError, StreamInterrupted)) as caught:
            async for _ in stream:
                pass
        error = caught.value if isinstance(caught.value, ProtocolError) else caught.value.__cause__
        assert isinstance(error, ProtocolError) and "not JSON" in str(error)
        answer = await (await conn.create(input="y")).get_final_response()
    assert answer.output_text == "after"
    assert server.sockets_opened == 2  # a broken turn never leaves its socket in use


async def test_error_envelope_before_events_maps_to_the_error_tree(server: ScriptedWebSocketServer) -> None:
    server.push(status(429, retry_after=1), status(401, code_str="invalid_api_key"))
    async with client_for(server) as client, client.responses.connect(model="m") as conn:
        with pytest.raises(Exception) as first:
            await conn.create(input="x")
        assert type(first.value).__name__ == "RateLimitError" and first.value.retryable  # type: ignore[attr-defined]
        with pytest.raises(AuthenticationError):
            await conn.create(input="x")


async def test_generate_false_warms_up_and_returns_an_id(server: ScriptedWebSocketServer) -> None:
    server.push(text("unused"), text("after warm-up"))
    async with client_for(server) as client, client.responses.connect(model="m", store=False) as conn:
        warm = await (await conn.create(input="context", generate=False)).get_final_response()
        assert warm.id and warm.output == []
        answer = await (await conn.create(input="go", continue_=True)).get_final_response()
    assert answer.output_text == "after warm-up"
    assert server.messages[0].data["generate"] is False
    assert server.messages[1].data["previous_response_id"] == warm.id


async def test_one_turn_at_a_time(server: ScriptedWebSocketServer) -> None:
    server.push(text("first", chunks=5).with_(event_delay=0.01), text("second"))
    async with client_for(server) as client, client.responses.connect(model="m") as conn:
        stream = await conn.create(input="a")
        with pytest.raises(ConnectionBusyError):
            await conn.create(input="b")  # this task holds the unread stream
        other = asyncio.create_task(conn.create(input="b"))  # another task waits its turn
        await asyncio.sleep(0.05)
        assert not other.done()
        assert (await stream.get_final_response()).output_text == "first"
        second = await (await other).get_final_response()
    assert second.output_text == "second"
    assert [m.data["input"] for m in server.messages] == ["a", "b"]


async def test_an_abandoned_turn_is_drained_and_the_socket_kept(server: ScriptedWebSocketServer) -> None:
    server.push(text("long answer " * 20).with_(event_delay=0.002), text("next"))
    async with client_for(server) as client, client.responses.connect(model="m") as conn:
        stream = await conn.create(input="a")
        await stream.__anext__()
        await stream.close()
        answer = await (await conn.create(input="b")).get_final_response()
    assert answer.output_text == "next"
    assert server.sockets_opened == 1


async def test_timeout_applies_per_turn(server: ScriptedWebSocketServer) -> None:
    server.push(stall(after_events=2, seconds=5.0), text("fast"))
    layers = [Timeout(first_event=0.3)]
    async with client_for(server, middleware=layers) as client, client.responses.connect(model="m") as conn:
        with pytest.raises(TimeoutError):
            await conn.create(input="slow")
        answer = await (await conn.create(input="fast")).get_final_response()
    assert answer.output_text == "fast"


async def test_handshake_refused_is_typed_and_secret_free(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with ScriptedWebSocketServer(api_key="sk-the-right-key-0123456789") as server:
        with pytest.raises(AuthenticationError) as caught:
            async with client_for(server) as client, client.responses.connect(model="m"):
                pass
    assert caught.value.status_code == 401
    assert "Bearer [redacted]" in caplog.text  # the library's own handshake log, scrubbed
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert KEY not in caplog.text


async def test_connect_needs_somewhere_to_connect() -> None:
    from openresponses import ConfigError
    from openresponses.testing import ScriptedTransport

    async with AsyncClient(transport=ScriptedTransport([])) as client:
        with pytest.raises(ConfigError, match="base_url"):
            client.responses.connect(model="m")
