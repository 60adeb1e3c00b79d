"""Embedders: the lexical default, WordLlama (offline), an /embeddings endpoint over loopback
HTTP, and plain functions."""

from __future__ import annotations

import asyncio
import json
import math
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses import APIStatusError
from openresponses.cache import CallableEmbedder, EndpointEmbedder, LexicalEmbedder, WordLlamaEmbedder
from openresponses.cache._base import unit
from openresponses.middleware import SemanticCache
from openresponses.testing import Script, text


def cosine(a: Any, b: Any) -> float:
    a, b = unit(a), unit(b)
    return float(sum(x * y for x, y in zip(a, b, strict=True)))


async def similarity(embedder: Any, left: str, right: str) -> float:
    a, b = await embedder.embed([left, right])
    return cosine(a, b)


async def test_lexical_catches_rewordings_not_swaps() -> None:
    lexical = LexicalEmbedder()
    reworded = await similarity(
        lexical, "What is the capital of France?", "Which city is the capital of France"
    )
    swapped = await similarity(lexical, "What is the capital of France?", "What is the capital of Germany?")
    unrelated = await similarity(lexical, "What is the capital of France?", "Write a haiku about autumn rain")
    assert reworded > 0.8 > swapped and unrelated < 0.3
    vector = lexical.vector("Hello world")
    assert len(vector) == 128 and math.isclose(sum(x * x for x in vector), 1.0, rel_tol=1e-9)
    assert lexical.vector("") == [0.0] * 128  # nothing to match on: matches nothing


def test_lexical_rejects_bad_dimensions() -> None:
    with pytest.raises(ValueError, match="dim"):
        LexicalEmbedder(dim=4)


async def test_wordllama_loads_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("WordLlamaEmbedder tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    embedder = WordLlamaEmbedder()
    paraphrase = await similarity(
        embedder, "How do I reverse a list in Python?", "What is the way to reverse a Python list?"
    )
    unrelated = await similarity(embedder, "How do I reverse a list in Python?", "Tell me a joke about cats")
    assert paraphrase > 0.9 and unrelated < 0.5
    assert embedder.name == "wordllama-l2_supercat-256"


async def test_any_function_is_an_embedder(make_request: Any) -> None:
    calls: list[list[str]] = []

    async def embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return [[1.0, float(len(t) % 3)] for t in texts]

    wrapped = CallableEmbedder(embed, name="toy-2")
    assert wrapped.name == "toy-2" and await wrapped.embed(["abc"]) == [[1.0, 0.0]]
    cache = SemanticCache(embedder=embed)
    await cache(make_request("abc"), Script(text("A")))
    assert calls[-1] == ["abc"]


async def _embeddings_server(replies: list[tuple[int, dict[str, Any]]], seen: list[dict[str, Any]]) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = json.loads(await reader.readexactly(int(headers["content-length"])))
        seen.append({"path": lines[0].split()[1], "headers": headers, "body": body})
        code, payload = replies.pop(0)
        data = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n"
            "connection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]]:
    replies: list[tuple[int, dict[str, Any]]] = []
    seen: list[dict[str, Any]] = []
    server = await _embeddings_server(replies, seen)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/v1", replies, seen


async def test_endpoint_embedder_over_http(endpoint: Any) -> None:
    url, replies, seen = endpoint
    replies.append(
        (200, {"data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]})
    )
    embedder = EndpointEmbedder(
        url, model="nomic-embed-text", api_key="sk-embed-abcdefghijklmnop", dimensions=2
    )
    vectors = await embedder.embed(["first", "second"])
    await embedder.aclose()
    assert vectors == [[1.0, 0.0], [0.0, 1.0]]  # ordered by index
    assert seen[0]["path"] == "/v1/embeddings"
    assert seen[0]["body"] == {"model": "nomic-embed-text", "input": ["first", "second"], "dimensions": 2}
    assert seen[0]["headers"]["authorization"] == "Bearer sk-embed-abcdefghijklmnop"
    assert "sk-embed" not in repr(embedder) and embedder.name == "endpoint-nomic-embed-text-2"


async def test_endpoint_errors_are_typed_and_redacted(endpoint: Any, make_request: Any) -> None:
    url, replies, _ = endpoint
    key = "sk-embed-abcdefghijklmnop"
    replies.append((401, {"error": {"message": f"bad key {key}", "type": "invalid_request_error"}}))
    embedder = EndpointEmbedder(url, model="m", api_key=key)
    with pytest.raises(APIStatusError) as caught:
        await embedder.embed(["x"])
    assert key not in str(caught.value)
    # In the cache an unreachable embedder only disables the semantic layer.
    replies.append((500, {"error": {"message": "down"}}))
    cache = SemanticCache(embedder=embedder)
    assert (await cache(make_request("x"), Script(text("A")))).output_text == "A"  # type: ignore[union-attr]
    await embedder.aclose()
