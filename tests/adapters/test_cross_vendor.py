"""A failover chain across vendors: Claude first, Gemini next, a local Chat-Completions model last.

Each fault is injected in the failing vendor's own wire format (Anthropic's error envelope and
SSE, Google's error body and SSE increments), and the outcome must be the one a native chain
gives for the same fault: a transient fault moves on and the next vendor serves the whole
answer; a content-policy refusal is final. One typed event stream whatever served, with the
vendor named in ``gen_ai.provider.name`` on each attempt span.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from openresponses import AsyncClient, BadRequestError, Provider
from openresponses.exporters import memory
from openresponses.exporters import semconv as sc
from openresponses.middleware import Failover, Retry, RetryPolicy, Timeout, Tracing
from openresponses.testing import assert_valid_stream
from openresponses.testing.anthropic import (
    AnthropicServer,
    anthropic_context_length_exceeded,
    anthropic_cut,
    anthropic_error_in_stream,
    anthropic_stall,
    anthropic_status,
    anthropic_text,
)
from openresponses.testing.chat import ChatCompletionsServer, chat_text
from openresponses.testing.gemini import (
    GeminiServer,
    gemini_blocked,
    gemini_context_length_exceeded,
    gemini_cut,
    gemini_status,
    gemini_text,
)

ANTHROPIC_KEY = "sk-ant-cross-vendor-0123456789"
GEMINI_KEY = "AIza-cross-vendor-0123456789abc"


@dataclass
class Chain:
    claude: AnthropicServer
    gemini: GeminiServer
    local: ChatCompletionsServer

    def client(self, tracing: Tracing | None = None) -> AsyncClient:
        def layers() -> list[Any]:
            return [Retry(RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)), Timeout(idle=1.0)]

        members = [
            Provider(
                "claude",
                self.claude.base_url,
                adapter="anthropic",
                api_key=ANTHROPIC_KEY,
                model="claude-fake",
                middleware=layers(),
            ),
            Provider(
                "gemini",
                self.gemini.base_url,
                adapter="gemini",
                api_key=GEMINI_KEY,
                model="gemini-2.5-flash",
                middleware=layers(),
            ),
            Provider("local", self.local.base_url, adapter="chat-completions", model="qwen3:8b"),
        ]
        return AsyncClient(
            middleware=[tracing] if tracing else [],
            endpoint=Failover(members, midstream="restart", first_token_timeout=2.0),
        )


@pytest.fixture
async def chain() -> AsyncIterator[Chain]:
    async with (
        AnthropicServer(api_key=ANTHROPIC_KEY) as claude,
        GeminiServer(api_key=GEMINI_KEY) as gemini,
        ChatCompletionsServer() as local,
    ):
        yield Chain(claude, gemini, local)


async def stream_all(client: AsyncClient) -> tuple[str, str | None, list[Any]]:
    async with client, client.responses.stream(model="any", input="Say hello") as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    return final.output_text, stream.provider, events


# (what fails, Claude's script, Gemini's script, who serves)
TRANSIENT = [
    (
        "429 with retry-after, then served",
        [anthropic_status(429, retry_after=0.01), anthropic_text("Claude")],
        [],
        "claude",
    ),
    (
        "529 overloaded twice",
        [anthropic_status(529), anthropic_status(529)],
        [gemini_text("Gemini")],
        "gemini",
    ),
    ("5xx on both", [anthropic_status(500)] * 2, [gemini_status(503)] * 2, "local"),
    (
        "overloaded inside the 200 stream",
        [anthropic_error_in_stream(1)] * 2,
        [gemini_text("Gemini")],
        "gemini",
    ),
    ("reset mid-stream, restarted", [anthropic_cut(6, style="reset")], [gemini_text("Gemini")], "gemini"),
    ("stall before content", [anthropic_stall(1)] * 2, [gemini_text("Gemini")], "gemini"),
    ("cut on both", [anthropic_cut(6)], [gemini_cut(after_chunks=1, style="reset")], "local"),
    (
        "context length on both",
        [anthropic_context_length_exceeded()],
        [gemini_context_length_exceeded()],
        "local",
    ),
]

ANSWERS = {"claude": "Claude", "gemini": "Gemini", "local": "Local"}


@pytest.mark.parametrize(("fault", "claude", "gemini", "served"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
async def test_a_transient_fault_moves_down_the_chain(
    chain: Chain, fault: str, claude: list[Any], gemini: list[Any], served: str
) -> None:
    chain.claude.push(*claude)
    chain.gemini.push(*gemini)
    chain.local.push(chat_text("Local"))
    text, provider, events = await stream_all(chain.client())
    assert provider == served
    assert text == ANSWERS[served]  # the whole answer of the one that served, nothing spliced
    # After a restart marker the caller discards what it showed: the rest is one whole stream
    # (sequence numbers keep increasing across the marker).
    restarts = [i for i, event in enumerate(events) if event.type == "openresponses:stream.restarted"]
    assert bool(restarts) == ("restarted" in fault or fault == "cut on both")
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers))
    assert_valid_stream(events[restarts[-1] + 1 :] if restarts else events)


async def test_a_content_filter_is_final_and_no_other_vendor_is_asked(chain: Chain) -> None:
    blocked = "Output blocked by content filtering policy"
    chain.claude.push(anthropic_status(400, error_type="invalid_request_error", message=blocked))
    with pytest.raises(BadRequestError):  # not AllProvidersFailed: nobody else was asked
        await stream_all(chain.client())
    assert len(chain.claude.requests) == 1  # not retried either
    assert len(chain.gemini.requests) == 0 and len(chain.local.requests) == 0


async def test_a_blocked_prompt_on_gemini_is_a_refusal_not_a_failover(chain: Chain) -> None:
    chain.claude.push(anthropic_status(529), anthropic_status(529))
    chain.gemini.push(gemini_blocked("SAFETY"))
    _, provider, events = await stream_all(chain.client())
    assert provider == "gemini" and len(chain.local.requests) == 0
    refusals = [e for e in events if e.type == "response.refusal.done"]
    assert refusals, [e.type for e in events]  # the spec's refusal content, served, not failed over


async def test_one_trace_names_each_vendor(chain: Chain) -> None:
    chain.claude.push(anthropic_status(529), anthropic_status(529))
    chain.gemini.push(gemini_status(503), gemini_status(503))
    chain.local.push(chat_text("Local"))
    telemetry = memory()
    text, provider, _ = await stream_all(chain.client(Tracing(tracer_provider=telemetry.tracer_provider)))
    assert (text, provider) == ("Local", "local")
    attempts = [span for span in telemetry.spans() if span.name.startswith("attempt")]
    vendors = [(span.attributes or {}).get(sc.GEN_AI_PROVIDER_NAME) for span in attempts]
    assert vendors[:2] == ["anthropic", "anthropic"] and vendors[2:4] == ["gcp.gemini", "gcp.gemini"]
    assert vendors[-1] == "local"  # a Chat-Completions server has no vendor name: the provider's label
    text_of_spans = repr([dict(span.attributes or {}) for span in telemetry.spans()])
    assert ANTHROPIC_KEY not in text_of_spans and GEMINI_KEY not in text_of_spans


async def test_the_vendors_request_id_is_on_the_attempt_span_and_the_response(chain: Chain) -> None:
    chain.claude.push(anthropic_text("Claude"), anthropic_text("Claude again"))
    telemetry = memory()
    client = chain.client(Tracing(tracer_provider=telemetry.tracer_provider))
    async with client:
        whole = await client.responses.create(model="any", input="hi")
        async with client.responses.stream(model="any", input="hi") as stream:
            async for _ in stream:
                pass
    assert whole.request_id and whole.request_id.startswith("req_")
    attempts = [span for span in telemetry.spans() if span.name.startswith("attempt")]
    ids = [(span.attributes or {}).get(sc.OR_REQUEST_ID) for span in attempts]
    assert len(ids) == 2 and all(ids) and ids[0] == whole.request_id and ids[0] != ids[1]
