"""The sync facade runs the async pipeline on its own loop: context, nesting, errors."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from openresponses import Client, RateLimitError, Reply, Request
from openresponses._emit import EventBuilder
from openresponses._pipeline import Handler
from openresponses._sse import encode_event

current_user: contextvars.ContextVar[str] = contextvars.ContextVar("current_user", default="nobody")


def sse(text: str) -> bytes:
    b = EventBuilder(model="m")
    b.created()
    i = b.start_message()
    for word in text.split(" "):
        b.text(i, word + " ")
    b.complete()
    return b"".join(encode_event(e.model_dump_json(exclude_unset=True).encode(), e.type) for e in b.drain())


def respond(request: httpx.Request) -> httpx.Response:
    if b'"stream":true' in request.content:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse("one two three")
        )
    return httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "1"})


class SeeContext:
    """Records the caller's context variable and the thread the pipeline runs on."""

    def __init__(self) -> None:
        self.users: list[str] = []
        self.threads: list[str] = []

    async def __call__(self, request: Request, call_next: Handler) -> Reply:
        self.users.append(current_user.get())
        self.threads.append(threading.current_thread().name)
        return await call_next(request)


def make_client(middleware: SeeContext | None = None) -> Client:
    http = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    return Client(base_url="http://x/v1", http_client=http, middleware=[middleware] if middleware else [])


def test_stream_events_and_final_response() -> None:
    with make_client() as client, client.responses.stream(model="m", input="x") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "one two three "


def test_callers_context_variables_reach_the_pipeline() -> None:
    seer = SeeContext()
    with make_client(seer) as client:
        token = current_user.set("alice")
        try:
            client.responses.create(model="m", input="x", stream=True).until_done()
        finally:
            current_user.reset(token)
        client.responses.create(model="m", input="x", stream=True).until_done()
    assert seer.users == ["alice", "nobody"]
    assert seer.threads == ["openresponses-sync", "openresponses-sync"]


def test_typed_errors_cross_the_thread_boundary() -> None:
    with make_client() as client, pytest.raises(RateLimitError) as info:
        client.responses.create(model="m", input="x")
    assert info.value.retry_after == 1.0


def test_usable_inside_a_running_event_loop() -> None:
    # Jupyter-style: sync calls made while an asyncio loop runs in this thread.
    async def inside() -> str:
        with make_client() as client, client.responses.stream(model="m", input="x") as stream:
            return stream.get_final_response().output_text

    assert asyncio.run(inside()) == "one two three "


# -- http_client, max_retries, failures ---------------------------------------------------------


def test_a_sync_httpx_client_is_refused_with_a_clear_message() -> None:
    from openresponses import ConfigError

    with httpx.Client() as sync_http, pytest.raises(ConfigError) as info:
        Client(base_url="http://x/v1", http_client=sync_http)  # type: ignore[arg-type]
    message = str(info.value)
    assert "Client(http_client=...) needs an httpx.AsyncClient, got a sync httpx.Client" in message
    assert "background event loop" in message


def test_max_retries_and_failed_responses_on_the_sync_client() -> None:
    from openresponses import ResponseFailedError
    from openresponses.testing import ScriptedServer, failed, status, text

    scenarios = [status(503, retry_after=0), text("ok"), failed("nope", code="server_error")]
    with ScriptedServer(scenarios).run_in_thread() as server:
        with Client(base_url=server.base_url, max_retries=1) as client:
            assert client.responses.create(model="m", input="x").output_text == "ok"
        with Client(base_url=server.base_url) as client, pytest.raises(ResponseFailedError) as info:
            client.responses.create(model="m", input="x")
    assert info.value.response is not None and info.value.response.status == "failed"
    assert len(server.requests) == 3


# -- close() while other threads are still using the client (#12 defect 5) -----------------------


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def main() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    return thread, errors


def test_close_ends_a_stream_another_thread_is_reading() -> None:
    from openresponses import ClientClosedError
    from openresponses.testing import ScriptedServer, stall

    got_events = threading.Event()
    seen: list[str] = []
    with ScriptedServer(default=stall(after_events=3)).run_in_thread() as server:
        client = Client(base_url=server.base_url)

        def read() -> None:
            with client.responses.stream(model="m", input="x") as stream:
                for event in stream:  # blocks in the stall, after three events
                    seen.append(event.type)
                    got_events.set()

        reader, errors = _in_thread(read)
        assert got_events.wait(5), "the stream never started"
        started = time.monotonic()
        client.close()
        reader.join(5)
        assert not reader.is_alive(), "the reading thread still hangs after close()"
        assert time.monotonic() - started < 5
        server_wait(lambda: server.open_connections == 0)
    assert len(errors) == 1 and isinstance(errors[0], ClientClosedError), errors
    assert "closed" in str(errors[0])
    assert seen and seen[0] == "response.created"


def test_close_ends_a_call_another_thread_is_waiting_on() -> None:
    from openresponses import ClientClosedError
    from openresponses.testing import ScriptedServer, text

    with ScriptedServer(default=text("late").with_(delay=30)).run_in_thread() as server:
        client = Client(base_url=server.base_url)
        waiter, errors = _in_thread(lambda: client.responses.create(model="m", input="x"))
        server_wait(lambda: len(server.requests) == 1)
        client.close()
        waiter.join(5)
        assert not waiter.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ClientClosedError), errors


def test_after_close_calls_raise_and_closing_a_stream_is_harmless() -> None:
    from openresponses import ClientClosedError
    from openresponses.testing import ScriptedServer, text

    with ScriptedServer(default=text("one two three")).run_in_thread() as server:
        client = Client(base_url=server.base_url)
        stream = client.responses.create(model="m", input="x", stream=True)
        next(stream)
        client.close()
        client.close()  # idempotent
        assert client.is_closed
        stream.close()  # the client closed it already: a no-op, not an error
        with pytest.raises(ClientClosedError):
            next(stream)
        with pytest.raises(ClientClosedError):
            client.responses.create(model="m", input="x")
    assert len(server.requests) == 1


def server_wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached within 5 s"
        time.sleep(0.01)


def test_a_client_dropped_without_close_stops_its_loop_and_connections() -> None:
    """Found with LangChain's suites, which build a model (and its Client) per test and never
    close it: each left a loop thread running and its keep-alive connection open."""
    import gc

    from openresponses.testing import ScriptedServer, text

    with ScriptedServer(default=text("Hi")).run_in_thread() as server:
        client = Client(base_url=server.base_url)
        assert client.responses.create(model="m", input="x").output_text == "Hi"
        runner = client._runner
        assert runner is not None and runner.loop.is_running()
        del client
        gc.collect()
        deadline = time.monotonic() + 5
        while runner.loop.is_running() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not runner.loop.is_running()
        assert runner.closed
        assert not [t for t in threading.enumerate() if t is runner._thread]
