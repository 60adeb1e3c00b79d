"""The conformance checker: passes against the scripted server, fails (naming the check) against
broken ones, and its validators catch each rule on their own."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from openresponses._sse import ServerSentEvent, SSEDecoder, encode_event
from openresponses.testing import (
    ScriptedServer,
    extension_events,
    function_call,
    incomplete,
    malformed,
    mislabelled,
    reset_mid_stream,
    stall,
    text,
    truncated,
)
from openresponses.testing.compliance import (
    CHECKS,
    Check,
    CheckContext,
    CheckResult,
    aassert_passes,
    arun_checks,
    assert_passes,
    run_checks,
    select_checks,
    validate_compaction,
    validate_error_body,
    validate_response,
    validate_stream,
)
from openresponses.transports.raw import get_raw, post_raw
from openresponses.types import CreateResponseBody

Handler = Callable[[str, str, Any, dict[str, str]], tuple[int, dict[str, str], bytes]]

# ScriptedServer remembers the responses it sent and answers an unknown previous_response_id with
# the spec's 404, so every check passes against it.
STATELESS_OK = list(CHECKS)


# -- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scripted_url() -> Iterator[str]:
    with ScriptedServer().run_in_thread() as server:
        yield server.base_url


@contextlib.asynccontextmanager
async def mini_server(handler: Handler) -> AsyncIterator[str]:
    """A deliberately tiny HTTP/1.1 server (stdlib asyncio): one request per connection."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            status, reply_headers, payload = handler(
                method, target, json.loads(raw) if raw else None, headers
            )
            lines = [f"HTTP/1.1 {status} Whatever", *(f"{k}: {v}" for k, v in reply_headers.items())]
            lines += [f"content-length: {len(payload)}", "connection: close"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    finally:
        server.close()
        await server.wait_closed()


JSON = {"content-type": "application/json"}
SSE = {"content-type": "text/event-stream"}


def good_events(text_: str = "Hello brave world") -> list[dict[str, Any]]:
    events = text(text_).events(CreateResponseBody(model="m", stream=True))
    return [event.model_dump(mode="json", exclude_unset=True, by_alias=True) for event in events]


def encode(events: list[dict[str, Any]], *, done: bool = True, names: dict[int, str] | None = None) -> bytes:
    names = names or {}
    frames = [encode_event(json.dumps(e).encode(), names.get(i, e["type"])) for i, e in enumerate(events)]
    return b"".join(frames) + (b"data: [DONE]\n\n" if done else b"")


def decode(payload: bytes) -> list[ServerSentEvent]:
    return SSEDecoder().feed(payload)


def renumber(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for n, event in enumerate(events):
        event["sequence_number"] = n
    return events


def stream_handler(payload: bytes, headers: dict[str, str] = SSE) -> Handler:
    """Streams ``payload`` to streaming requests; a valid JSON response to the others."""

    def handle(method: str, path: str, body: Any, _: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if body.get("stream"):
            return 200, headers, payload
        return 200, JSON, dump(text("Hi").response(CreateResponseBody.model_validate(body)))

    return handle


def dump(model: Any) -> bytes:
    return json.dumps(model.to_dict()).encode()


def drop(mapping: dict[str, Any], key: str) -> None:
    del mapping[key]


def failed(results: list[CheckResult]) -> dict[str, str]:
    return {result.id: result.detail for result in results if not result.passed}


# -- against ScriptedServer ---------------------------------------------------------------------


@pytest.mark.parametrize("check", STATELESS_OK, ids=str)
def test_passes_against_the_scripted_server(check: Check, scripted_url: str) -> None:
    # Exactly the documented user pattern.
    result = assert_passes(check, base_url=scripted_url, model="m")
    assert result.passed and result.id == check.id and result.duration_s >= 0


def test_run_checks_reports_every_check_in_registry_order(scripted_url: str) -> None:
    results = run_checks(scripted_url + "/responses/", model="m")  # the URL is normalised
    assert [r.id for r in results] == [c.id for c in CHECKS]
    assert failed(results) == {}


async def test_tool_call_round_trip_sends_the_output_back() -> None:
    calls = [function_call("get_weather", {"location": "Paris"}, call_id="call_7"), text("18C in Paris.")]
    async with ScriptedServer(calls) as server:
        result = await aassert_passes("tool-calling", base_url=server.base_url, model="m")
        follow_up = server.requests[1].body["input"]
    assert "1 valid function_call(s), round trip completed" in result.detail
    assert [item["type"] for item in follow_up] == ["message", "function_call", "function_call_output"]
    assert follow_up[2]["call_id"] == follow_up[1]["call_id"] == "call_7"


async def test_streamed_tool_call_is_checked() -> None:
    async with ScriptedServer([function_call("get_weather", {"location": "Paris"})]) as server:
        result = await aassert_passes("tool-calling-streaming", base_url=server.base_url, model="m")
    assert "1 function_call(s), shapes valid" in result.detail


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("delete_everything", "{}", "called 'delete_everything', a tool that was not offered"),
        ("get_weather", '{"location": ', "arguments are not valid JSON"),
        ("get_weather", "[1, 2]", "arguments are JSON but not an object"),
    ],
)
async def test_bad_tool_calls_fail(name: str, arguments: str, expected: str) -> None:
    async with ScriptedServer([function_call(name, arguments)]) as server:
        (result,) = await arun_checks(server.base_url, model="m", filter="tool-calling")
    assert not result.passed and expected in result.detail


async def test_stream_faults_on_the_wire_fail_the_streaming_check() -> None:
    cases = {
        "mislabelled": (mislabelled(after_events=2), "does not match its type"),
        "malformed": (malformed(after_events=3), "data is not JSON"),
        "truncated": (truncated(after_events=4), "without a terminal event"),
        "reset": (reset_mid_stream(after_events=4), "the body ended early"),
    }
    for label, (scenario, expected) in cases.items():
        async with ScriptedServer([scenario]) as server:
            (result,) = await arun_checks(server.base_url, model="m", filter="streaming")
        assert not result.passed, label
        assert expected in result.detail, (label, result.detail)


async def test_missing_done_fails_only_the_done_check() -> None:
    async with ScriptedServer(send_done=False) as server:
        results = await arun_checks(server.base_url, model="m", filter="streaming*")
    assert list(failed(results)) == ["streaming-done"]
    assert failed(results)["streaming-done"].startswith("the last data is not [DONE] (R7)")
    assert [r.passed for r in results] == [True, False]
    assert len(server.requests) == 1  # streaming and streaming-done judged the same stream


# -- against deliberately broken servers --------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "mutate", "expected"),
    [
        ("decreasing sequence_number", lambda e: e[5].update(sequence_number=2), "does not increase"),
        (
            "delta after its part is done",
            lambda e: renumber([*e[:6], *e[7:9], e[6], *e[9:]]),
            "part 0 is already done",
        ),
        (
            "missing required keys",
            lambda e: drop(e[-1]["response"], "tools"),
            "'tools' is a required property",
        ),
    ],
)
async def test_broken_streams_fail_naming_the_check(label: str, mutate: Any, expected: str) -> None:
    events = good_events()
    changed = mutate(events)
    async with mini_server(stream_handler(encode(changed if isinstance(changed, list) else events))) as url:
        results = await arun_checks(url, model="m", filter="streaming,streaming-done")
    assert list(failed(results)) == ["streaming"], label
    assert expected in failed(results)["streaming"], failed(results)


async def test_an_unterminated_last_event_fails() -> None:
    payload = encode(good_events(), done=False) + b"data: [DONE]"  # no blank line: never dispatched
    async with mini_server(stream_handler(payload)) as url:
        results = await arun_checks(url, model="m", filter="streaming*")
    assert "12 byte(s) after the last complete event" in failed(results)["streaming"]
    assert "the last data is not [DONE]" in failed(results)["streaming-done"]


async def test_wrong_stream_content_type_fails() -> None:
    async with mini_server(stream_handler(encode(good_events()), JSON)) as url:
        (result,) = await arun_checks(url, model="m", filter="streaming")
    assert "Content-Type is 'application/json', expected text/event-stream (R6)" in result.detail


async def test_response_missing_required_keys_fails_basic() -> None:
    def handle(method: str, path: str, body: Any, _: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        data = text("Hi").response().to_dict()
        del data["usage"], data["store"]
        return 200, JSON, json.dumps(data).encode()

    async with mini_server(handle) as url:
        (result,) = await arun_checks(url, model="m", filter="basic")
    assert not result.passed
    assert result.detail.splitlines()[0] == "POST /responses: the response violates the schema"
    assert "- (root): 'usage' is a required property" in result.detail
    assert "- (root): 'store' is a required property" in result.detail


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"detail": "bad input"}, "error: missing or not an object"),
        (422, {"error": {"message": "bad"}}, "error/type: missing"),
        (400, {"error": {"message": 1, "type": "invalid_request", "param": None, "code": 3}}, "not a string"),
        (200, {"ok": True}, "input: 42 got HTTP 200, expected a 4xx"),
        (500, {"error": "boom"}, "input: 42 got HTTP 500"),
    ],
)
async def test_error_bodies_out_of_spec_fail(status: int, body: Any, expected: str) -> None:
    async with mini_server(lambda *_: (status, JSON, json.dumps(body).encode())) as url:
        (result,) = await arun_checks(url, model="m", filter="error-shape")
    assert not result.passed and expected in result.detail, result.detail


def stateful(*, unknown: tuple[int, str | None] = (404, "previous_response_not_found")) -> Handler:
    """Stores every response; an unknown ``previous_response_id`` gets ``unknown`` (status, code)."""
    stored: set[str] = set()

    def handle(method: str, path: str, body: Any, _: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        previous = body.get("previous_response_id")
        if previous is not None and previous not in stored:
            error = {"message": f"{previous} not found", "type": "invalid_request", "param": None}
            return unknown[0], JSON, json.dumps({"error": {**error, "code": unknown[1]}}).encode()
        response = text("Hi").response(CreateResponseBody.model_validate(body))
        stored.add(response.id)
        return 200, JSON, dump(response)

    return handle


async def test_previous_response_id_passes_against_a_stateful_server() -> None:
    async with mini_server(stateful()) as url:
        result = await aassert_passes("previous-response-id", base_url=url, model="m")
    assert "an unknown id got HTTP 404 (previous_response_not_found)" in result.detail


async def test_previous_response_id_needs_the_spec_code_or_a_404() -> None:
    async with mini_server(stateful(unknown=(400, "bad_id"))) as url:
        (result,) = await arun_checks(url, model="m", filter="previous-response-id")
    assert "expected code previous_response_not_found or HTTP 404" in result.detail


async def test_invalid_compaction_body_fails() -> None:
    def handle(method: str, path: str, body: Any, _: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return (
            200,
            JSON,
            json.dumps({"id": "c1", "object": "response", "output": [], "created_at": 1}).encode(),
        )

    async with mini_server(handle) as url:
        (result,) = await arun_checks(url, model="m", filter="compaction")
    assert "not a valid CompactResource (R70)" in result.detail
    assert (
        "usage' is a required property" in result.detail
        and "object: 'response' is not one of" in result.detail
    )


async def test_unreachable_and_slow_servers_become_failed_results() -> None:
    (refused,) = await arun_checks("http://127.0.0.1:9/v1", model="m", filter="basic")
    assert not refused.passed and refused.detail.startswith("could not reach http://127.0.0.1:9/v1")
    async with ScriptedServer([stall(after_events=2, seconds=None)]) as server:
        (stalled,) = await arun_checks(server.base_url, model="m", filter="streaming", timeout=0.3)
    assert not stalled.passed and "0.3s" in stalled.detail, stalled.detail


async def test_credentials_never_appear_in_details() -> None:
    def echo(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        message = f"bad key {headers.get('authorization')} / {headers.get('x-api-key')}"
        return 401, JSON, json.dumps({"error": {"message": message, "type": "auth"}}).encode()

    async with mini_server(echo) as url:
        results = await arun_checks(
            url, model="m", api_key="sk-very-secret", headers={"X-Api-Key": "other-secret"}, filter="basic"
        )
    detail = results[0].detail
    assert "sk-very-secret" not in detail and "other-secret" not in detail
    assert "bad key Bearer [redacted] / [redacted]" in detail
    context = CheckContext("http://x/v1", model="m", headers={"authorization": "Bearer sk-very-secret"})
    assert "sk-very" not in repr(context)


async def test_api_key_is_sent_as_a_bearer_token() -> None:
    async with ScriptedServer(api_key="sk-test") as server:
        (without,) = await arun_checks(server.base_url, model="m", filter="basic")
        (with_key,) = await arun_checks(server.base_url, model="m", filter="basic", api_key="sk-test")
    assert not without.passed and "HTTP 401" in without.detail
    assert with_key.passed


async def test_sync_helpers_work_inside_a_running_loop(scripted_url: str) -> None:
    results = run_checks(scripted_url, model="m", filter="basic")
    assert results[0].passed
    assert assert_passes("previous-response-id", base_url=scripted_url, model="m").passed


def test_select_checks() -> None:
    assert [c.id for c in select_checks("basic, streaming*")] == ["basic", "streaming", "streaming-done"]
    assert [c.id for c in select_checks(["error-shape", "basic"])] == ["basic", "error-shape"]
    assert select_checks(None) == CHECKS
    with pytest.raises(ValueError, match="no check matches 'nope'; known checks: basic, streaming"):
        select_checks("basic,nope")
    assert all(str(check) == check.id for check in CHECKS)
    assert len({check.id for check in CHECKS}) == len(CHECKS)


# -- the validators on their own ----------------------------------------------------------------


def insert(index: int, event: dict[str, Any]) -> Callable[[list[dict[str, Any]]], Any]:
    return lambda e: renumber([*e[:index], event, *e[index:]])


def set_path(value: Any, index: int, *path: str | int) -> Callable[[list[dict[str, Any]]], Any]:
    def apply(events: list[dict[str, Any]]) -> None:
        target: Any = events[index]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


ERROR_EVENT = {
    "type": "error",
    "error": {"type": "server_error", "code": None, "message": "x", "param": None},
}

# good_events(): 0 created, 1 in_progress, 2 item.added, 3 part.added, 4-6 deltas, 7 text.done,
# 8 part.done, 9 item.done, 10 completed.
STREAM_VIOLATIONS: list[tuple[str, Callable[[list[dict[str, Any]]], Any], str]] = [
    ("seq repeats", set_path(4, 5, "sequence_number"), "sequence_number does not increase (previous 4)"),
    ("seq missing", lambda e: drop(e[3], "sequence_number"), "sequence_number is not an integer"),
    ("created missing", lambda e: renumber(e[1:]), "before response.created (R41)"),
    ("in_progress missing", lambda e: renumber([e[0], *e[2:]]), "content before response.in_progress"),
    ("queued late", insert(2, {"type": "response.queued"}), "response.queued after response.in_progress"),
    ("item never done", lambda e: renumber([*e[:9], e[10]]), "output items [0] were never done"),
    (
        "part never done",
        lambda e: renumber([*e[:8], *e[9:]]),
        "a content or summary part of this item is still open",
    ),
    (
        "delta after text done",
        lambda e: renumber([*e[:6], e[7], e[6], *e[8:]]),
        "after the part's text was done",
    ),
    (
        "delta outside a part",
        lambda e: renumber([*e[:3], e[4], e[3], *e[5:]]),
        "content_index 0 was never added",
    ),
    ("wrong item_id", set_path("msg_other", 4, "item_id"), "item_id 'msg_other' is not that item's id"),
    ("output_index skipped", set_path(1, 2, "output_index"), "output_index 1, expected 0"),
    ("content_index skipped", set_path(1, 3, "content_index"), "content_index 1, expected 0"),
    ("text differs from deltas", set_path("nope", 7, "text"), "text differs from the concatenated deltas"),
    ("part differs", set_path("nope", 8, "part", "text"), "the done part's text differs from its deltas"),
    ("item text differs", set_path("nope", 9, "item", "content", 0, "text"), "content[0] text differs"),
    ("new item not in_progress", set_path("completed", 2, "item", "status"), "not in_progress (R38)"),
    (
        "done item in_progress",
        set_path("in_progress", 9, "item", "status"),
        "a done item has status in_progress",
    ),
    (
        "terminal output differs",
        set_path("Hello world", 10, "response", "output", 0, "content", 0, "text"),
        "response.output[0] differs from that item's output_item.done",
    ),
    ("terminal output short", set_path([], 10, "response", "output"), "response.output has 0 item(s)"),
    (
        "terminal status",
        set_path("failed", 10, "response", "status"),
        "status is 'failed', expected 'completed'",
    ),
    ("response id changes", set_path("resp_other", 1, "response", "id"), "differs from"),
    ("two terminals", lambda e: renumber([*e, copy.deepcopy(e[10])]), "after the terminal event #10"),
    ("no terminal", lambda e: e[:-1], "ended without a terminal event"),
    ("error not then failed", insert(10, ERROR_EVENT), "not followed by response.failed (R44"),
    ("unknown event", insert(4, {"type": "response.mystery"}), "unknown event type"),
    ("schema", lambda e: drop(e[4], "delta"), "'delta' is a required property"),
    (
        "bad item type",
        set_path("mystery", 2, "item", "type"),
        "type 'mystery' is not one of the types allowed",
    ),
    (
        "incomplete item then completed",
        set_path("incomplete", 9, "item", "status"),
        "so must the response (R26)",
    ),
]


@pytest.mark.parametrize(
    ("label", "mutate", "expected"), STREAM_VIOLATIONS, ids=[v[0] for v in STREAM_VIOLATIONS]
)
def test_validate_stream_names_each_violation(label: str, mutate: Any, expected: str) -> None:
    events = good_events()
    assert validate_stream(decode(encode(events)), require_done=True) == []
    changed = mutate(events)
    problems = validate_stream(decode(encode(changed if isinstance(changed, list) else events)))
    assert any(expected in problem for problem in problems), problems


def test_validate_stream_accepts_extensions_and_every_scenario_kind() -> None:
    events = good_events()
    assert validate_stream(renumber([*events[:3], {"type": "acme:trace", "anything": 1}, *events[3:]])) == []
    for scenario in (
        text("Hi", reasoning="Think", reasoning_text="raw"),
        function_call("get_weather", {"location": "Paris"}),
        incomplete("cut short"),
        extension_events(),
    ):
        typed = scenario.events(CreateResponseBody(model="m"))
        assert validate_stream(typed) == []  # typed events work as well as dicts and raw SSE
    failing = text("x").with_(ending="failed").events(CreateResponseBody(model="m"))
    assert validate_stream(failing) == []


def test_validate_stream_framing_rules() -> None:
    events = good_events()
    assert any(
        "does not match its type 'response.in_progress' (R8)" in p
        for p in validate_stream(decode(encode(events, names={1: "response.completed"})))
    )
    unnamed = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    assert "no event: line (R8 requires one)" in validate_stream(decode(unnamed))[0]
    early_done = encode(events[:5], done=True) + encode(events[5:], done=True)
    assert any("sent after data: [DONE]" in p for p in validate_stream(decode(early_done)))
    assert validate_stream(decode(encode(events, done=False)), require_done=True) == [
        "no data: [DONE] at the end of the stream (R7)"
    ]
    assert validate_stream([]) == ["the stream has no events"]


def test_validate_response_compaction_and_error_body() -> None:
    response = text("Hi").response().to_dict()
    assert validate_response(response) == []
    response["output"][0]["content"][0].pop("annotations")
    assert validate_response(response) == ["output/0/content/0: 'annotations' is a required property"]
    assert validate_response([]) == ["(root): expected a JSON object, got list"]
    compact = text().compact_response().to_dict()
    assert validate_compaction(compact) == []
    assert validate_compaction({**compact, "created_at": "now"}) == [
        "created_at: 'now' is not of type 'integer'"
    ]
    good = {"error": {"message": "m", "type": "invalid_request", "param": None, "code": None}}
    assert validate_error_body(good) == []
    assert validate_error_body({"error": {"message": "m", "type": "t"}}) == [
        "error/param: missing",
        "error/code: missing",
    ]


async def test_raw_transport_keeps_bytes_and_reports_a_cut_body() -> None:
    async with ScriptedServer([text("Hi there"), reset_mid_stream(after_events=3)]) as server:
        reply = await post_raw(server.base_url + "/responses", {"model": "m", "input": "x", "stream": True})
        assert reply.status == 200 and reply.content_type == "text/event-stream" and reply.error is None
        assert reply.body.endswith(b"data: [DONE]\n\n") and reply.first_byte_s is not None
        cut = await post_raw(server.base_url + "/responses", {"model": "m", "input": "x", "stream": True})
        assert cut.error is not None and "connection lost" in cut.error and len(decode(cut.body)) == 3
        missing = await get_raw(server.base_url + "/nowhere")
        assert missing.status == 404 and missing.json()["error"]["type"] == "not_found"


async def test_missing_jsonschema_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # as if it were not installed
    with pytest.raises(
        ImportError, match=r"^spec validation needs jsonschema: pip install 'openresponses-python\[check\]'$"
    ):
        await arun_checks("http://127.0.0.1:9/v1", model="m")
