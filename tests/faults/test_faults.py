"""Every fault of the table, through the production stack: the outcome a demanding user wants.

One test per row of :data:`~tests.faults.scenarios.SCENARIOS` (see ``runner.check`` for what is
asserted: outcome, a generous time bound, no duplicated or lost events, never a truncated
answer reported as success, every connection closed, no task left, every span ended, nothing
reported to the loop, the API key nowhere). Then the fault server itself, and the committed
report (``docs/reliability.md``) against the table, so it cannot go stale silently.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from openresponses import AsyncClient
from openresponses.testing import Frame

from .runner import run
from .scenarios import PRIMARY, SCENARIOS, FaultScenario
from .server import Answer, FaultServer, answer, raw_sse, refused_port, reply, reset, silent

REPORT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_fault(scenario: FaultScenario) -> None:
    result = await run(scenario)
    if result.problems:
        pytest.fail(f"{scenario.name} ({scenario.fault}):\n  " + "\n  ".join(result.problems), pytrace=False)


def test_scenario_names_are_unique_and_cover_the_issue() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))
    # The faults issue #12 lists, each present under its name.
    for required in (
        "connection_refused",
        "reset_before_headers",
        "429_no_retry_after",
        "429_retry_after_seconds",
        "429_retry_after_date",
        "429_retry_after_garbage",
        "http_500",
        "http_502",
        "http_503",
        "http_504",
        "http_529",
        "never_answers",
        "slow_first_event",
        "cut_stream",
        "stall",
        "slow_drip",
        "malformed_sse",
        "invalid_json",
        "invalid_utf8",
        "no_terminal_event",
        "duplicate_sequence_number",
        "out_of_order_sequence_number",
        "event_10mb",
        "response_failed",
        "response_incomplete",
        "error_event",
        "context_length_exceeded",
        "content_policy",
        "unauthorized",
        "html_502",
        "non_json_200",
    ):
        assert required in names


def test_committed_report_lists_every_scenario() -> None:
    text = REPORT.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE)
    assert sorted(rows) == sorted(s.name for s in SCENARIOS), (
        "docs/reliability.md is stale: regenerate it with `python benchmarks/reliability.py`"
    )
    assert "python benchmarks/reliability.py" in text


# -- the fault server itself ----------------------------------------------------------------------


async def test_server_plays_behaviours_in_order_then_repeats_the_last() -> None:
    async with FaultServer([reply(503), answer(PRIMARY)]) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            codes = [(await http.post("/responses", json={"model": "m"})).status_code for _ in range(3)]
        await server.wait_until(lambda s: s.open_connections == 0, timeout=5)
    assert codes == [503, 200, 200]
    assert server.connections_opened == 1 and server.busy == 0  # keep-alive: one connection


async def test_silent_server_holds_the_reply_until_the_client_leaves() -> None:
    async with FaultServer([silent()]) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=0.2) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post("/responses", json={"model": "m"})
        await server.wait_until(lambda s: s.busy == 0, timeout=5)
    assert len(server.requests) == 1


async def test_reset_and_refused_are_connection_errors() -> None:
    async with FaultServer([reset()]) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        with pytest.raises(httpx.TransportError):
            await http.post("/responses", json={"model": "m"})
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(f"http://127.0.0.1:{refused_port()}/v1/responses", json={})


async def test_raw_sse_sends_exactly_the_built_frames() -> None:
    behaviour = raw_sse(lambda encoded: [Frame(e) for e in encoded[:2]], Answer("Hi there"))
    async with FaultServer([behaviour]) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        body = (await http.post("/responses", json={"model": "m", "stream": True})).content
    assert body.count(b"\n\n") == 2
    assert b"response.created" in body and b"response.in_progress" in body


async def test_healthy_answer_is_a_valid_stream_through_the_client() -> None:
    async with (
        FaultServer([answer(PRIMARY)]) as server,
        AsyncClient(base_url=server.base_url) as client,
        client.responses.stream(model="m", input="x") as stream,
    ):
        final = await stream.get_final_response()
    assert final.output_text == PRIMARY.text
