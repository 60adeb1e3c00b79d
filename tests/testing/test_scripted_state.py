"""ScriptedServer and ScriptedTransport remember the responses they sent: an unknown
``previous_response_id`` is the spec's 404 ``previous_response_not_found``, a known one continues."""

from __future__ import annotations

import httpx
import pytest

from openresponses import AsyncClient, NotFoundError, RateLimitError
from openresponses.testing import ScriptedServer, ScriptedTransport, status, text
from openresponses.testing._script import ResponseLedger, Scenario


async def test_unknown_id_is_a_spec_404_and_known_ids_continue() -> None:
    async with (
        ScriptedServer([text("one"), text("two"), text("three")]) as server,
        httpx.AsyncClient(base_url=server.base_url) as http,
    ):
        unknown = await http.post(
            "/responses", json={"model": "m", "input": "x", "previous_response_id": "resp_nope"}
        )
        first = (await http.post("/responses", json={"model": "m", "input": "a"})).json()
        streamed = await http.post(
            "/responses",
            json={"model": "m", "input": "b", "previous_response_id": first["id"], "stream": True},
        )
        second_id = (
            next(line for line in streamed.text.splitlines() if line.startswith("data: {"))
            .split('"id":"', 1)[1]
            .split('"', 1)[0]
        )
        third = await http.post(
            "/responses", json={"model": "m", "input": "c", "previous_response_id": second_id}
        )
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {
            "message": "Previous response with id 'resp_nope' not found.",
            "type": "not_found",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }
    assert streamed.status_code == 200 and "response.completed" in streamed.text
    assert third.status_code == 200, third.text  # a streamed response can be continued too


async def test_store_false_responses_cannot_be_continued() -> None:
    async with ScriptedServer() as server, AsyncClient(base_url=server.base_url) as client:
        first = await client.responses.create(model="m", input="x", store=False)
        with pytest.raises(NotFoundError) as info:
            await client.responses.create(model="m", input="y", previous_response_id=first.id)
    assert info.value.code == "previous_response_not_found"


async def test_the_in_process_transport_behaves_the_same() -> None:
    transport = ScriptedTransport()
    async with AsyncClient(transport=transport) as client:
        first = await client.responses.create(model="m", input="x")
        second = await client.responses.create(model="m", input="y", previous_response_id=first.id)
        with pytest.raises(NotFoundError):
            await client.responses.create(model="m", input="z", previous_response_id="resp_other")
    assert second.output_text == "Hello"


async def test_a_scripted_error_wins_over_the_lookup() -> None:
    async with ScriptedServer([status(429)]) as server, AsyncClient(base_url=server.base_url) as client:
        with pytest.raises(RateLimitError):
            await client.responses.create(model="m", input="x", previous_response_id="resp_nope")


def test_a_scenario_played_directly_does_no_lookup_and_the_ledger_is_bounded() -> None:
    wire = text("free").wire({"model": "m", "input": "x", "previous_response_id": "resp_any"})
    assert wire.status == 200
    ledger = ResponseLedger(limit=2)
    for response_id in ("resp_1", "resp_2", "resp_3"):
        ledger.add(response_id)
    assert "resp_1" not in ledger and "resp_3" in ledger and len(ledger) == 2
    assert text("a").with_(ledger=ledger) == text("a")  # the ledger is not part of the scenario
    assert isinstance(text("a").with_(ledger=ledger), Scenario)
    with pytest.raises(ValueError, match="limit"):
        ResponseLedger(limit=0)
