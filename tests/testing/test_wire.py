"""The scenario/wire split: StatusReply (and its deprecated HTTPStatus alias), and wire bytes."""

from __future__ import annotations

import http
import json

import pytest

import openresponses.testing as testing
from openresponses._sse import DONE, encode_event
from openresponses.testing import Fault, StatusReply, Wire, mislabelled, status, text
from openresponses.testing._script import Scenario, ScenarioQueue
from openresponses.testing._wire import json_wire, sse_wire, status_wire
from openresponses.types import CreateResponseBody


def test_http_status_is_a_deprecated_alias_of_status_reply() -> None:
    with pytest.warns(DeprecationWarning, match="StatusReply"):
        alias = testing.HTTPStatus
    assert alias is StatusReply and alias is not http.HTTPStatus
    with pytest.warns(DeprecationWarning):
        from openresponses.testing._script import HTTPStatus
    assert HTTPStatus is StatusReply
    with pytest.raises(AttributeError):
        testing.NoSuchThing  # noqa: B018
    assert "StatusReply" in testing.__all__ and "HTTPStatus" not in testing.__all__


def test_status_scenario_carries_a_status_reply() -> None:
    scenario = status(429, retry_after=2)
    assert isinstance(scenario.http_status, StatusReply)
    wire = scenario.wire(CreateResponseBody(model="m", stream=True))
    assert wire.status == 429 and ("retry-after", "2") in wire.headers
    assert json.loads(wire.body)["error"]["type"] == "too_many_requests"
    assert wire == status_wire(scenario.http_status)


def test_sse_wire_frames_are_encode_event_bytes_then_done() -> None:
    body = CreateResponseBody(model="m", stream=True)
    scenario = text("Hi there", event_delay=0.01)
    wire = scenario.wire(body)
    assert isinstance(wire, Wire) and wire.sse
    assert [f.data for f in wire.frames] == [encode_event(e) for e in wire.events] + [DONE]
    assert wire.frames[0].pause == 0.0 and wire.frames[1].pause == 0.01
    assert sse_wire(wire.events, send_done=False).frames[-1].data == encode_event(wire.events[-1])


def test_mislabel_fault_changes_only_the_event_name() -> None:
    wire = mislabelled(2).wire(CreateResponseBody(model="m", stream=True))
    event = wire.events[2]
    payload = event.model_dump_json(by_alias=True, exclude_unset=True).encode()
    assert wire.frames[2].data == b"event: response.completed\ndata: " + payload + b"\n\n"


def test_json_wire_faults() -> None:
    data = b'{"a": 1, "b": 2}'
    cut = json_wire(data, fault=Fault("truncate"))
    assert cut.content_length == len(data) and cut.body == data[: len(data) // 2] and cut.end == "close"
    assert json_wire(data, fault=Fault("reset")).end == "reset"
    assert json_wire(data, fault=Fault("malformed", payload=b"{x")).body == b"{x"


def test_scenario_queue_still_imports_from_script() -> None:
    queue = ScenarioQueue([text("a")], default=None)
    assert isinstance(queue.next(), Scenario) and isinstance(queue.next(), Scenario)
    with pytest.raises(TypeError, match="Scenario"):
        queue.push("nope")  # type: ignore[arg-type]
