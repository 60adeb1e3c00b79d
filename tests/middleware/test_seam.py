"""The closed contract: nested Failovers, scoped call state, typed decisions, one commit helper."""

from __future__ import annotations

from typing import Any

import pytest

from openresponses import AllProvidersFailed, APITimeoutError, AsyncClient, Provider, Request
from openresponses._decisions import FailedOver, Recorded, Retried, TimedOut
from openresponses._pipeline import CallContext, compose
from openresponses._streaming import EventStream, committed
from openresponses.middleware import Failover, Retry, RetryPolicy, Timeout
from openresponses.testing import FakeClock, ScriptedTransport, reset_before_headers, status, text


def provider(name: str, *scenarios: Any) -> Provider:
    return Provider(
        name, transport=ScriptedTransport(list(scenarios), default=text(f"from {name}"), name=name)
    )


async def test_failovers_nest_and_report_the_leaf_that_served(recorder: Any) -> None:
    eu1, eu2, us = provider("eu1", status(503)), provider("eu2", status(502)), provider("us")
    chain = Failover([Failover([eu1, eu2], name="eu"), us])
    client = AsyncClient(endpoint=chain)
    request = client.build_request({"model": "m", "input": "x"}, stream=False)
    request.context.observers.append(recorder)
    response = await client.send(request)
    assert response.output_text == "from us" and response.provider == "us"
    assert request.context.provider == "us"
    failovers = [d for d in recorder.decisions if isinstance(d, FailedOver)]
    assert [(d.source, d.target) for d in failovers] == [("eu1", "eu2"), ("eu2", ""), ("eu", "us")]


async def test_a_nested_stream_serves_from_the_inner_chain() -> None:
    inner = Failover([provider("eu1", reset_before_headers()), provider("eu2")], name="eu")
    client = AsyncClient(endpoint=Failover([inner, provider("us")]))
    async with client.responses.stream(model="m", input="x") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "from eu2" and stream.provider == "eu2"


async def test_a_nested_chain_that_gives_up_lists_every_attempt() -> None:
    inner = Failover([provider("eu1", status(503)), provider("eu2", status(503))], name="eu")
    client = AsyncClient(endpoint=Failover([inner, provider("us", status(500))]))
    with pytest.raises(AllProvidersFailed) as info:
        await client.responses.create(model="m", input="x")
    (nested, last) = info.value.exceptions
    assert isinstance(nested, AllProvidersFailed) and len(nested.exceptions) == 2
    assert last.provider == "us"


def test_failover_members_and_names_are_checked() -> None:
    with pytest.raises(TypeError, match="Provider or Failover"):
        Failover(["not a provider"])  # type: ignore[list-item]
    assert Failover([provider("a"), provider("b")]).name == "a+b"
    with pytest.raises(ValueError, match="unique"):
        Failover([Failover([provider("a")], name="x"), provider("x")])
    with pytest.raises(TypeError, match="is an endpoint, not a middleware"):
        compose([Failover([provider("a")])], provider("b"))  # type: ignore[list-item]


async def test_an_outer_retry_still_retries_after_a_failover_ran_below_it() -> None:
    """The 0.1 bug: Failover set a call-wide flag, so a Retry *above* it stopped retrying a
    first-token timeout once any Failover had run (one upstream call instead of two)."""
    slow = ScriptedTransport([text("late", first_event_delay=5.0), text("in time")], name="only")
    client = AsyncClient(
        middleware=[
            Retry(RetryPolicy(attempts=2, base_delay=0.0), clock=FakeClock()),
            Timeout(first_event=0.05),
        ],
        endpoint=Failover([Provider("only", transport=slow)]),
    )
    async with client.responses.stream(model="m", input="x") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "in time"
    assert slow.calls == 2


async def test_below_a_failover_a_first_token_timeout_fails_over_at_once() -> None:
    a = ScriptedTransport([text("late", first_event_delay=5.0)], name="a")
    b = ScriptedTransport(default=text("from b"), name="b")
    retry = Retry(RetryPolicy(attempts=3, base_delay=0.0), clock=FakeClock())
    client = AsyncClient(
        endpoint=Failover(
            [
                Provider("a", transport=a, middleware=[retry, Timeout(first_event=0.05)]),
                Provider("b", transport=b),
            ]
        )
    )
    async with client.responses.stream(model="m", input="x") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "from b" and a.calls == 1


def test_within_failover_is_scoped_to_the_requests_failover_hands_down() -> None:
    request = Request(
        body=AsyncClient(base_url="http://x/v1").build_request({"model": "m"}, stream=False).body
    )
    assert request.within_failover is False
    assert request.replace(within_failover=True).within_failover is True
    assert request.within_failover is False  # frozen: the caller's request is unchanged


def test_decisions_are_typed_and_the_old_spelling_still_arrives_typed() -> None:
    seen: list[Any] = []

    class New:
        def on_record(self, decision: Any) -> None:
            seen.append(decision)

        def on_attempt(self, request: Request, number: int) -> None:
            return None

    class Old:  # an observer written for 0.1
        def on_record(self, kind: str, attributes: Any) -> None:
            seen.append((kind, dict(attributes)))

        def on_attempt(self, request: Request, number: int) -> None:
            return None

    context = CallContext(observers=[New(), Old()])
    context.record(FailedOver("a", "b", "status_503"))
    context.record("retry", {"attempt": 2, "wait_s": 0.5, "reason": "backoff", "error.type": "X"})
    context.record("acme.thing", {"n": 1})
    assert seen[0] == FailedOver("a", "b", "status_503")
    assert seen[1] == ("failover", {"from": "a", "to": "b", "reason": "status_503"})
    assert seen[2] == Retried(2, 0.5, "backoff", "X")
    assert seen[4] == Recorded("acme.thing", {"n": 1})
    assert TimedOut("idle", 30.0).attributes() == {"which": "idle", "limit_s": 30.0}


async def test_committed_closes_a_stream_whose_priming_fails() -> None:
    closed: list[bool] = []

    async def source() -> Any:
        try:
            raise APITimeoutError("first_event", 1.0)
            yield []
        finally:
            closed.append(True)

    stream = EventStream(source())
    with pytest.raises(APITimeoutError):
        await committed(stream)
    assert stream.ended and closed == [True]
    assert await committed("not a stream") == "not a stream"


def test_request_replace_is_dataclasses_replace() -> None:
    """``Request.replace`` copies by hand (it runs two or three times per call): the same copy
    as ``dataclasses.replace``, for every field, and the same refusal of an unknown one."""
    import dataclasses

    from openresponses._pipeline import CallOptions, Target
    from openresponses.types import CreateResponseBody

    base = Request(body=CreateResponseBody(model="m"), stream=True, headers={"x-a": "1"})
    changes: dict[str, Any] = {
        "body": CreateResponseBody(model="n"),
        "operation": "compact",
        "stream": False,
        "headers": {"x-b": "2"},
        "options": CallOptions(timeout=3.0),
        "context": CallContext(),
        "target": Target(provider="p"),
        "within_failover": True,
    }
    assert set(changes) == {field.name for field in dataclasses.fields(Request)}
    for name, value in changes.items():
        ours, theirs = base.replace(**{name: value}), dataclasses.replace(base, **{name: value})
        assert ours == theirs and type(ours) is Request
        assert all(getattr(ours, f) is getattr(theirs, f) for f in changes)  # no copies made
    assert base.replace(**changes) == dataclasses.replace(base, **changes)
    with pytest.raises(TypeError, match="nope"):
        base.replace(nope=1)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Mine(Request):
        extra: int = 0

    mine = Mine(body=base.body, extra=5).replace(stream=True)
    assert type(mine) is Mine and mine.extra == 5 and mine.stream
