"""The sync facade runs the async pipeline on its own loop: context, nesting, errors."""

from __future__ import annotations

import asyncio
import contextvars
import threading

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
