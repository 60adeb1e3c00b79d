"""The chat dialect end to end: AsyncClient -> HTTPTransport -> a real chat server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openresponses import (
    AsyncClient,
    BadRequestError,
    ProtocolError,
    RequestValidationError,
    ResponseFailedError,
    StreamError,
)
from openresponses.testing import assert_valid_stream
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.transports.http import HTTPTransport

FIXTURES = Path(__file__).parent / "fixtures" / "chat"
API_KEY = "sk-test-0123456789abcdef"


@dataclass
class Reply:
    """What the fake chat server answers: a status, a content type and body pieces."""

    status: int = 200
    content_type: str = "text/event-stream"
    pieces: Sequence[bytes] = ()


@dataclass
class ChatServer:
    """A minimal HTTP/1.1 server (close-delimited bodies) that records each request."""

    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append({"line": lines[0], "headers": headers, "body": json.loads(body)})
        reply = self.replies.pop(0)
        status = (
            f"HTTP/1.1 {reply.status} X\r\ncontent-type: {reply.content_type}\r\nconnection: close\r\n\r\n"
        )
        writer.write(status.encode())
        for piece in reply.pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0)
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    chat = ChatServer(replies=[])
    srv = await asyncio.start_server(chat.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    chat.base_url = f"http://127.0.0.1:{port}/v1"
    async with srv:
        yield chat


def client(server: ChatServer, **options: Any) -> AsyncClient:
    transport = HTTPTransport(
        server.base_url, api_key=API_KEY, provider="local", dialect=ChatCompletionsDialect(**options)
    )
    return AsyncClient(transport=transport)


def pieces(name: str, size: int = 97) -> list[bytes]:
    data = (FIXTURES / name).read_bytes()
    return [data[i : i + size] for i in range(0, len(data), size)]


async def test_a_stream_through_the_client(server: ChatServer) -> None:
    server.replies.append(Reply(pieces=pieces("ollama_think_tools.sse")))
    async with client(server) as c:
        stream = await c.responses.create(model="qwen3:8b", input="Weather in Paris?", stream=True)
        events = [event async for event in stream]
    assert_valid_stream(events)
    final = events[-1].response  # type: ignore[union-attr]
    assert [item.type for item in final.output] == ["reasoning", "function_call"]
    assert final.provider in (None, "local")
    sent = server.requests[0]
    assert sent["line"] == "POST /v1/chat/completions HTTP/1.1"
    assert sent["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert sent["body"] == {
        "model": "qwen3:8b",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_a_whole_body_through_the_client(server: ChatServer) -> None:
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4},
    }
    server.replies.append(Reply(content_type="application/json", pieces=[b"\n\n", json.dumps(body).encode()]))
    async with client(server) as c:
        response = await c.responses.create(model="m", input="Hello")
    assert response.output_text == "Hi!" and response.provider == "local"
    assert "stream" not in server.requests[0]["body"]


async def test_a_socket_closed_without_a_finish_reason_never_completes(server: ChatServer) -> None:
    server.replies.append(Reply(pieces=pieces("ollama_cut_midstream.sse")))
    async with client(server) as c:
        stream = await c.responses.create(model="llama3.2", input="q", stream=True)
        with pytest.raises((ProtocolError, StreamError)) as info:
            async for _ in stream:
                pass
    exc = info.value
    cause = exc if isinstance(exc, ProtocolError) else exc.__cause__
    assert isinstance(cause, ProtocolError) and "finish_reason" in str(cause)


async def test_a_midstream_error_raises_response_failed(server: ChatServer) -> None:
    server.replies.append(Reply(pieces=pieces("vllm_error_then_done.sse")))
    async with client(server) as c:
        stream = await c.responses.create(model="m", input="q", stream=True)
        with pytest.raises(ResponseFailedError) as info:
            async for _ in stream:
                pass
    assert info.value.code == "server_error" and info.value.retryable


async def test_an_error_status_becomes_the_typed_error_without_the_key(server: ChatServer) -> None:
    error = {
        "error": {
            "message": f"context length exceeded; key {API_KEY}",
            "type": "BadRequestError",
            "code": 400,
        }
    }
    server.replies.append(
        Reply(status=400, content_type="application/json", pieces=[json.dumps(error).encode()])
    )
    async with client(server) as c:
        with pytest.raises(BadRequestError) as info:
            await c.responses.create(model="m", input="q")
    assert info.value.code == "context_length_exceeded"
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value.body)


async def test_an_unsupported_field_is_rejected_before_anything_is_sent(server: ChatServer) -> None:
    async with client(server) as c:
        with pytest.raises(RequestValidationError, match="field 'max_tool_calls' is not supported"):
            await c.responses.create(model="m", input="q", max_tool_calls=2)
    assert server.requests == []


async def test_stop_and_seed_travel_as_extension_fields(server: ChatServer) -> None:
    message = {"role": "assistant", "content": "ok"}
    body = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    server.replies.append(Reply(content_type="application/json", pieces=[json.dumps(body).encode()]))
    async with client(server) as c:
        await c.responses.create(model="m", input="q", extra_body={"stop": ["END"], "seed": 7})
    sent = server.requests[0]["body"]
    assert sent["stop"] == ["END"] and sent["seed"] == 7
