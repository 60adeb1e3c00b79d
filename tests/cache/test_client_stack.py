"""The cache in real stacks: a client over loopback HTTP (credential namespaces), the sync
client, and a failover chain (a hit calls no provider; a miss records the winner's stream)."""

from __future__ import annotations

from typing import Any

import pytest

from openresponses import AsyncClient, Client, Provider
from openresponses._credential import credential_fingerprint, credential_of, header_credential
from openresponses.cache import CACHE_FIELD, MemoryStore
from openresponses.middleware import Failover, SemanticCache
from openresponses.testing import ScriptedServer, ScriptedTransport, assert_valid_stream, status, text


async def test_clients_with_different_keys_never_share(scripted_server: ScriptedServer) -> None:
    store = MemoryStore()
    scripted_server.push(text("for alice"), text("for bob"))
    url = scripted_server.base_url
    async with (
        AsyncClient(
            base_url=url, api_key="sk-alice-1234567890abcdef", middleware=[SemanticCache(store)]
        ) as alice,
        AsyncClient(
            base_url=url, api_key="sk-bob-1234567890abcdefgh", middleware=[SemanticCache(store)]
        ) as bob,
        AsyncClient(
            base_url=url, api_key="sk-alice-1234567890abcdef", middleware=[SemanticCache(store)]
        ) as alice2,
    ):
        first = await alice.responses.create(model="m", input="What is the capital of France?")
        other = await bob.responses.create(model="m", input="What is the capital of France?")
        again = await alice2.responses.create(model="m", input="What is the capital of France?")
    assert (first.output_text, other.output_text, again.output_text) == ("for alice", "for bob", "for alice")
    assert len(scripted_server.requests) == 2
    assert (again.model_extra or {})[CACHE_FIELD]["layer"] == "exact"
    namespaces = {ns for ns, _ in store._entries}
    assert namespaces == {
        credential_fingerprint("sk-alice-1234567890abcdef"),
        credential_fingerprint("sk-bob-1234567890abcdefgh"),
    }
    assert not any("sk-" in ns for ns in namespaces)


async def test_streamed_through_the_client_over_http(scripted_server: ScriptedServer) -> None:
    scripted_server.push(text("Paris is the capital of France.", chunks=5))
    async with AsyncClient(base_url=scripted_server.base_url, middleware=[SemanticCache()]) as client:
        async with client.responses.stream(model="m", input="Capital of France?") as live:
            original = [event async for event in live]
        async with client.responses.stream(model="m", input="capital of france") as cached:
            replayed = [event async for event in cached]
            final = await cached.get_final_response()
    assert len(scripted_server.requests) == 1
    assert_valid_stream(replayed)
    assert [e.type for e in replayed] == [e.type for e in original]
    assert final.output_text == "Paris is the capital of France."
    assert (final.model_extra or {})[CACHE_FIELD]["layer"] == "semantic"


def test_sync_client_shares_the_middleware() -> None:
    cache = SemanticCache()
    with (
        ScriptedServer([text("Paris.")]).run_in_thread() as server,
        Client(base_url=server.base_url, middleware=[cache]) as client,
    ):
        client.responses.create(model="m", input="Capital of France?")
        hit = client.responses.create(model="m", input="Capital of France?")
    assert len(server.requests) == 1
    assert (hit.model_extra or {})[CACHE_FIELD]["layer"] == "exact"


def failover_stack(cache: SemanticCache) -> tuple[AsyncClient, ScriptedTransport, ScriptedTransport]:
    primary = ScriptedTransport([status(503)], name="primary")
    backup = ScriptedTransport([text("from backup", chunks=3)], name="backup")
    client = AsyncClient(
        middleware=[cache],
        endpoint=Failover([Provider("primary", transport=primary), Provider("backup", transport=backup)]),
    )
    return client, primary, backup


@pytest.mark.parametrize("stream", [False, True])
async def test_cache_in_front_of_failover(stream: bool) -> None:
    cache = SemanticCache()
    client, primary, backup = failover_stack(cache)
    async with client:
        if stream:
            async with client.responses.stream(model="m", input="Capital of France?") as live:
                first = await live.get_final_response()
            async with client.responses.stream(model="m", input="Capital of France?") as cached:
                events = [event async for event in cached]
                hit = await cached.get_final_response()
            assert_valid_stream(events)
        else:
            first = await client.responses.create(model="m", input="Capital of France?")
            hit = await client.responses.create(model="m", input="Capital of France?")
    assert first.output_text == hit.output_text == "from backup"  # the winner's answer was recorded
    assert (primary.calls, backup.calls) == (1, 1)  # the hit called no provider
    assert (hit.model_extra or {})[CACHE_FIELD]["layer"] == "exact"


def test_credential_of_follows_the_stack() -> None:
    keyed = Provider("a", base_url="http://127.0.0.1:9/v1", api_key="sk-aaaaaaaaaaaaaaaaaaaa")
    other = Provider("b", base_url="http://127.0.0.1:9/v1", api_key="sk-bbbbbbbbbbbbbbbbbbbb")
    assert credential_of(keyed) == credential_fingerprint("sk-aaaaaaaaaaaaaaaaaaaa")
    both = credential_of(Failover([keyed, other]))
    assert both is not None and both not in (credential_of(keyed), credential_of(other))
    assert credential_of(Failover([other, keyed])) == both  # the set, not the order
    client = AsyncClient(base_url="http://127.0.0.1:9/v1", api_key="sk-cccccccccccccccccccc")
    assert credential_of(client.handler) == credential_fingerprint("sk-cccccccccccccccccccc")
    assert credential_of(AsyncClient(base_url="http://127.0.0.1:9/v1").handler) is None


def test_fingerprints() -> None:
    key = "sk-live-0123456789abcdef0123"
    fingerprint = credential_fingerprint(key)
    assert fingerprint.startswith("cred_") and len(fingerprint) == 37 and key not in fingerprint
    assert credential_fingerprint(f"Bearer {key}") == fingerprint
    assert header_credential({"Authorization": f"Bearer {key}"}) == fingerprint
    assert header_credential({"x-api-key": key}) == fingerprint
    assert header_credential({"x-other": key}) is None
    assert credential_fingerprint("sk-live-0123456789abcdef0124") != fingerprint


def test_no_key_in_any_repr(make_request: Any) -> None:
    key = "sk-secret-abcdefghijklmnop"
    request = make_request(headers={"authorization": f"Bearer {key}"})
    cache = SemanticCache()
    assert key not in repr(request) and key not in repr(cache)
    assert request.credential == credential_fingerprint(key)
