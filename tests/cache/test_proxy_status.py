"""The served proxy says what the cache did: ``X-Cache-Status`` (HIT / SEMANTIC-HIT / MISS /
BYPASS / REFRESH), streamed or not, and passes the caller's bypass / refresh on."""

from __future__ import annotations

import json
from typing import Any

import httpx

from openresponses import AsyncClient
from openresponses.middleware import SemanticCache
from openresponses.proxies import Upstream, create_app
from openresponses.proxies._errors import Redactor
from openresponses.testing import ScriptedServer, assert_valid_stream, text


def events_of(body: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]


async def test_cache_status_header(scripted_server: ScriptedServer) -> None:
    scripted_server.push(text("Paris.", chunks=2), text("fresh"), text("refreshed"))
    client = AsyncClient(base_url=scripted_server.base_url, middleware=[SemanticCache()])
    app = create_app(Upstream(client=client, models=None, redactor=Redactor([]), label="test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as http:

        async def ask(prompt: str, *, stream: bool = False, control: str | None = None) -> httpx.Response:
            headers = {"x-openresponses-cache": control} if control else {}
            body = {"model": "m", "input": prompt, "stream": stream}
            return await http.post("/v1/responses", json=body, headers=headers)

        miss = await ask("What is the capital of France?", stream=True)
        hit = await ask("What is the capital of France?")
        semantic = await ask("Which city is the capital of France?", stream=True)
        bypass = await ask("What is the capital of France?", control="bypass")
        refresh = await ask("What is the capital of France?", control="refresh")
        after = await ask("What is the capital of France?")
    statuses = [r.headers.get("x-cache-status") for r in (miss, hit, semantic, bypass, refresh, after)]
    assert statuses == ["MISS", "HIT", "SEMANTIC-HIT", "BYPASS", "REFRESH", "HIT"]
    assert hit.json()["openresponses:cache"]["layer"] == "exact"
    replayed = events_of(semantic.text)
    assert_valid_stream(replayed)
    assert replayed[-1]["response"]["openresponses:cache"]["layer"] == "semantic"
    assert (
        bypass.json()["output"][0]["content"][0]["text"],
        after.json()["output"][0]["content"][0]["text"],
    ) == (
        "fresh",
        "refreshed",
    )
    assert len(scripted_server.requests) == 3
    assert all("x-openresponses-cache" not in r.headers for r in scripted_server.requests)


async def test_no_header_without_a_cache(scripted_server: ScriptedServer) -> None:
    client = AsyncClient(base_url=scripted_server.base_url)
    app = create_app(Upstream(client=client, models=None, redactor=Redactor([]), label="test"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy") as http:
        reply = await http.post("/v1/responses", json={"model": "m", "input": "x"})
    assert reply.status_code == 200 and "x-cache-status" not in reply.headers
