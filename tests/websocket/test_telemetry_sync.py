"""WebSocket mode through Tracing and the sync client."""

from __future__ import annotations

import threading

import pytest

from openresponses import AsyncClient, Client
from openresponses._connection import ConnectionBusyError
from openresponses.exporters import memory
from openresponses.middleware import Tracing
from openresponses.testing import function_call, text
from openresponses.testing.websocket import ScriptedWebSocketServer


async def test_a_span_per_turn_tied_by_the_connection_id() -> None:
    telemetry = memory()
    tracing = Tracing(tracer_provider=telemetry.tracer_provider)
    async with ScriptedWebSocketServer([function_call("f", {}), text("done")]) as server:  # noqa: SIM117
        async with AsyncClient(base_url=server.base_url, middleware=[tracing]) as client:
            async with client.responses.connect(model="m", store=False) as conn:
                await (await conn.create(input="a")).get_final_response()
                await (await conn.create(input="b", continue_=True)).get_final_response()
    calls = [span for span in telemetry.spans() if span.name == "chat m"]
    assert len(calls) == 2
    ids = {span.attributes["openresponses.websocket.connection_id"] for span in calls}
    assert ids == {conn.connection_id}
    assert sorted(span.attributes["openresponses.websocket.turn"] for span in calls) == [1, 2]
    for span in calls:
        assert span.attributes["gen_ai.response.id"]
        assert any(event.name == "websocket.turn" for event in span.events)
    attempts = [span for span in telemetry.spans() if span.name.startswith("attempt")]
    assert len(attempts) == 2 and all(span.parent is not None for span in attempts)


def test_sync_connection_runs_turns_in_order() -> None:
    server = ScriptedWebSocketServer([function_call("f", {}), text("two"), text("three")])
    with server.run_in_thread(), Client(base_url=server.base_url) as client:  # noqa: SIM117
        with client.responses.connect(model="m") as conn:
            first = conn.create(input="a").get_final_response()
            stream = conn.create(input="b", continue_=True)
            with pytest.raises(ConnectionBusyError):
                conn.create(input="c")  # this thread holds the unread stream
            events = [event.type for event in stream]
            assert events[-1] == "response.completed"
            assert stream.get_final_response().output_text == "two"
            results: list[str] = []
            worker = threading.Thread(
                target=lambda: results.append(conn.create(input="c").get_final_response().output_text)
            )
            worker.start()
            worker.join(10)
            assert results == ["three"]
            assert conn.turns == 3 and conn.last_response_id is not None
    assert server.messages[1].data["previous_response_id"] == first.id
    assert server.sockets_opened == 1


async def test_metrics_count_turns_and_reconnects_by_reason() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from openresponses.exporters import semconv as sc
    from openresponses.middleware import Metrics
    from openresponses.testing.websocket import limit_reached

    reader = InMemoryMetricReader()
    metrics = Metrics(meter_provider=MeterProvider(metric_readers=[reader]))
    async with ScriptedWebSocketServer([text("one"), limit_reached(), text("two")]) as server:  # noqa: SIM117
        async with AsyncClient(base_url=server.base_url, middleware=[metrics]) as client:
            async with client.responses.connect(model="m", store=True) as conn:
                await (await conn.create(input="a")).get_final_response()
                await (await conn.create(input="b", continue_=True)).get_final_response()
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        metric.name: list(metric.data.data_points)
        for rm in data.resource_metrics
        for scope in rm.scope_metrics
        for metric in scope.metrics
    }
    assert sum(p.value for p in points[sc.METRIC_WEBSOCKET_TURNS]) >= 2
    reconnects = points[sc.METRIC_WEBSOCKET_RECONNECTS]
    assert [(dict(p.attributes), p.value) for p in reconnects] == [
        ({"openresponses.websocket.reason": "websocket_connection_limit_reached"}, 1)
    ]
