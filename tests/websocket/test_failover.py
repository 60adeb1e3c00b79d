"""WebSocket mode over ``endpoint=Failover([...])``: a socket per member, the chain across providers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from openresponses import AsyncClient, BadRequestError, Client, ConfigError, Provider
from openresponses.middleware import CircuitBreaker, Failover
from openresponses.testing import ScriptedTransport, function_call, text
from openresponses.testing.websocket import ScriptedWebSocketServer, drop_before_first_event
from openresponses.types import FunctionCall, Response

KEY_A = "sk-primary-secret-0123456789"
KEY_B = "sk-backup-secret-9876543210"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[ScriptedWebSocketServer, ScriptedWebSocketServer]]:
    async with ScriptedWebSocketServer(api_key=KEY_A) as a, ScriptedWebSocketServer(api_key=KEY_B) as b:
        yield a, b


def chain(a: ScriptedWebSocketServer, b: ScriptedWebSocketServer, **kwargs: object) -> Failover:
    return Failover(
        [
            Provider("primary", base_url=a.base_url, api_key=KEY_A, model_map={"m": "m-a"}),
            Provider("backup", base_url=b.base_url, api_key=KEY_B, model="m-b"),
        ],
        **kwargs,  # type: ignore[arg-type]
    )


def call_of(response: Response) -> FunctionCall:
    call = response.output[0]
    assert isinstance(call, FunctionCall)
    return call


def tool_output(call_id: str) -> dict[str, str]:
    return {"type": "function_call_output", "call_id": call_id, "output": "sunny"}


async def test_primary_healthy_continues_with_previous_response_id(
    servers: tuple[ScriptedWebSocketServer, ScriptedWebSocketServer],
) -> None:
    a, b = servers
    a.push(function_call("get_weather", {"city": "Paris"}), text("Sunny"))
    async with (
        AsyncClient(endpoint=chain(a, b)) as client,
        client.responses.connect(model="m", store=False) as conn,
    ):
        first = await (await conn.create(input="Weather?")).get_final_response()
        assert conn.last_provider == "primary"
        second = await (
            await conn.create(input=[tool_output(call_of(first).call_id)], continue_=True)
        ).get_final_response()
    assert second.output_text == "Sunny" and conn.last_provider == "primary"
    sent = [message.data for message in a.messages]
    assert sent[0]["model"] == "m-a"  # the member's model map applies
    assert sent[1]["previous_response_id"] == first.id
    assert sent[1]["input"] == [tool_output(call_of(first).call_id)]  # only the new items
    assert a.sockets_opened == 1 and b.messages == [] and b.sockets_opened == 0
    assert a.requests[0].headers["authorization"] == "Bearer " + KEY_A
    assert len(conn.transports) == 2 and conn.transport is conn.transports[0]
    assert {t.connection_id for t in conn.transports} == {conn.connection_id}


async def test_drop_before_first_event_fails_over_and_the_backup_gets_the_history(
    servers: tuple[ScriptedWebSocketServer, ScriptedWebSocketServer],
) -> None:
    a, b = servers
    a.push(
        function_call("get_weather", {"city": "Paris"}), drop_before_first_event(), drop_before_first_event()
    )
    b.push(text("Sunny in Paris, says the backup"), text("You are welcome"))
    async with (
        AsyncClient(endpoint=chain(a, b)) as client,
        client.responses.connect(model="m", store=False, instructions="Be brief.") as conn,
    ):
        first = await (await conn.create(input="Weather in Paris?")).get_final_response()
        call = call_of(first)
        # The primary drops before any event: the turn is served by the backup, which cannot
        # know the primary's response id, so it gets the whole conversation instead.
        second = await (
            await conn.create(input=[tool_output(call.call_id)], continue_=True)
        ).get_final_response()
        assert second.output_text == "Sunny in Paris, says the backup"
        assert conn.last_provider == "backup"
        # The next turn: the primary (still down) is offered the whole conversation, the
        # backup its own response's id.
        third = await (await conn.create(input="Thanks", continue_=True)).get_final_response()
    assert third.output_text == "You are welcome" and conn.last_provider == "backup"
    dropped = a.messages[1].data
    assert dropped["previous_response_id"] == first.id  # the producer was asked with the id
    to_backup = [message.data for message in b.messages]
    assert "previous_response_id" not in to_backup[0]
    assert to_backup[0]["model"] == "m-b" and to_backup[0]["instructions"] == "Be brief."
    history = to_backup[0]["input"]
    assert history[0] == {"type": "message", "role": "user", "content": "Weather in Paris?"}
    assert history[1]["type"] == "function_call" and history[1]["call_id"] == call.call_id
    assert "id" not in history[1]  # the primary's item ids mean nothing to the backup
    assert history[2] == tool_output(call.call_id)
    assert len(history) == 3
    assert to_backup[1]["previous_response_id"] == second.id  # the backup's own response
    assert to_backup[1]["input"] == "Thanks"  # only the new items, as given
    assert b.requests[0].headers["authorization"] == "Bearer " + KEY_B  # each member's own key
    offered = a.messages[2].data
    assert "previous_response_id" not in offered
    assert [item["type"] for item in offered["input"]] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
        "message",
    ]
    assert offered["input"][3]["role"] == "assistant" and offered["input"][4]["content"] == "Thanks"


async def test_back_on_the_primary_after_the_backup_resends_the_history(
    servers: tuple[ScriptedWebSocketServer, ScriptedWebSocketServer],
) -> None:
    a, b = servers
    a.push(drop_before_first_event(), text("primary again"))
    b.push(text("from the backup"))
    async with (
        AsyncClient(endpoint=chain(a, b)) as client,
        client.responses.connect(model="m", store=False) as conn,
    ):
        first = await (await conn.create(input="one")).get_final_response()
        assert conn.last_provider == "backup"
        second = await (await conn.create(input="two", continue_=True)).get_final_response()
    assert first.output_text == "from the backup" and second.output_text == "primary again"
    assert conn.last_provider == "primary"
    resent = a.messages[-1].data
    assert "previous_response_id" not in resent  # the backup's id is unknown to the primary
    assert [item.get("role") for item in resent["input"]] == ["user", "assistant", "user"]
    assert resent["input"][1]["content"][0]["text"] == "from the backup"


async def test_an_unrelated_id_is_sent_as_given(
    servers: tuple[ScriptedWebSocketServer, ScriptedWebSocketServer],
) -> None:
    a, b = servers
    async with (
        AsyncClient(endpoint=chain(a, b)) as client,
        client.responses.connect(model="m", store=False) as conn,
    ):
        with pytest.raises(BadRequestError) as caught:
            await conn.create(input="x", previous_response_id="resp_unknown")
    assert caught.value.code == "previous_response_not_found"  # a 400: not failed over
    assert a.messages[0].data["previous_response_id"] == "resp_unknown" and b.messages == []


async def test_the_members_breaker_is_shared_with_http(
    servers: tuple[ScriptedWebSocketServer, ScriptedWebSocketServer],
) -> None:
    a, b = servers
    breaker = CircuitBreaker()
    b.push(text("backup"))
    failover = Failover(
        [
            Provider("primary", base_url=a.base_url, api_key=KEY_A, middleware=[breaker]),
            Provider("backup", base_url=b.base_url, api_key=KEY_B),
        ]
    )
    async with AsyncClient(endpoint=failover) as client:
        breaker.open()  # as HTTP calls' failures would
        async with client.responses.connect(model="m") as conn:
            final = await (await conn.create(input="hi")).get_final_response()
    assert final.output_text == "backup" and conn.last_provider == "backup"
    assert a.sockets_opened == 0  # the open breaker kept the turn off the primary


@pytest.mark.parametrize(
    ("member", "match"),
    [
        (
            Provider("ollama", base_url="http://127.0.0.1:1/v1", adapter="chat-completions"),
            "'ollama'.*chat-completions",
        ),
        (
            Failover([Provider("x", base_url="http://127.0.0.1:1/v1")], name="nested"),
            "'nested' is a nested Failover",
        ),
        (Provider("scripted", transport=ScriptedTransport([])), "'scripted' was built with transport="),
    ],
)
async def test_a_member_without_websocket_mode_is_named(member: object, match: str) -> None:
    failover = Failover([Provider("native", base_url="http://127.0.0.1:1/v1"), member])  # type: ignore[list-item]
    async with AsyncClient(endpoint=failover) as client:
        with pytest.raises(ConfigError, match=match):
            client.responses.connect(model="m")


def test_sync_client_fails_over_too() -> None:
    a = ScriptedWebSocketServer([drop_before_first_event()], api_key=KEY_A)
    b = ScriptedWebSocketServer([text("sync backup")], api_key=KEY_B)
    with a.run_in_thread(), b.run_in_thread(), Client(endpoint=chain(a, b)) as client:  # noqa: SIM117
        with client.responses.connect(model="m") as conn:
            assert conn.create(input="hi").get_final_response().output_text == "sync backup"
            assert conn.last_provider == "backup"
