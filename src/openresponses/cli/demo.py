"""The offline demo: scripted Open Responses servers on loopback, driven through the client.

Everything runs in this process on 127.0.0.1; nothing leaves the machine. Three sections:

1. a reasoning model's answer streamed event by event (core install);
2. surviving a bad provider: a rate limit and a dropped connection, retried and failed over,
   with the OpenTelemetry trace printed as a tree (the trace needs the ``otel`` extra; without it
   the section still runs and one line says how to get it);
3. a stream cut mid-answer, continued on the next provider into one coherent answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._client import AsyncClient
from .._extras import MissingExtraError
from .._provider import Provider
from ..middleware.failover import Failover
from ..middleware.retry import Retry, RetryPolicy
from ..testing import ScriptedServer, reset_before_headers, reset_mid_stream, status, text
from ..types import OutputTextDeltaEvent, ReasoningSummaryTextDeltaEvent, is_unknown_event

if TYPE_CHECKING:
    from ..exporters import MemoryTelemetry

_REASONING = (
    "The user asks what Open Responses is. Explain it in one or two sentences, then mention streaming."
)
_ANSWER = (
    "Open Responses is an open, provider-neutral specification for LLM APIs, derived from the "
    "OpenAI Responses API: typed items in, typed items out, and semantic streaming events."
)
_FIRST_HALF = "TCP keeps its promises: every byte arrives,"
_SECOND_HALF = " in order, or the sender is told it did not."  # what a model continuing would send

Style = Callable[[str], str]


def _styles(color: bool) -> tuple[Style, Style, Style, Style]:
    def wrap(code: str) -> Style:
        return (lambda s: f"\033[{code}m{s}\033[0m") if color else (lambda s: s)

    return wrap("2;3"), wrap("1"), wrap("36"), wrap("33")


async def stream_section(server: ScriptedServer, color: bool) -> None:
    """Stream a reasoning + message answer: reasoning deltas and text deltas printed distinctly."""
    dim, bold, cyan, _ = _styles(color)
    server.push(text(_ANSWER, reasoning=_REASONING, event_delay=0.004))
    async with AsyncClient(base_url=server.base_url, api_key="demo-key") as client:
        print(bold("1. Streaming a reasoning model's answer") + f"  ({server.base_url})")
        async with client.responses.stream(
            model="demo-reasoner",
            input="What is Open Responses?",
            reasoning={"effort": "low", "summary": "auto"},
        ) as stream:
            section = None
            async for event in stream:
                if isinstance(event, ReasoningSummaryTextDeltaEvent):
                    if section != "reasoning":
                        section = "reasoning"
                        print(cyan("\n[reasoning] "), end="")
                    print(dim(event.delta), end="", flush=True)
                elif isinstance(event, OutputTextDeltaEvent):
                    if section != "answer":
                        section = "answer"
                        print(cyan("\n[answer]    "), end="")
                    print(event.delta, end="", flush=True)
            final = await stream.get_final_response()
    usage = final.usage
    print()
    if usage is not None:
        print(
            cyan("[usage]     ")
            + f"{usage.input_tokens} input, {usage.output_tokens} output "
            + f"({usage.output_tokens_details.reasoning_tokens} reasoning), {usage.total_tokens} total tokens"
        )
    print(cyan("[final]     ") + f"status={final.status} id={final.id} served by {final.provider!r}\n")


OTEL_HINT = "no trace: it needs the otel extra, pip install 'openresponses-python[otel]'"


def _memory_telemetry() -> MemoryTelemetry | None:
    """In-memory OpenTelemetry providers, or ``None`` on an install without the ``otel`` extra."""
    try:
        from .. import exporters
        from ..middleware import Metrics, Tracing  # noqa: F401 - the section needs them too

        return exporters.memory()
    except MissingExtraError:
        return None


async def failover_section(color: bool) -> None:
    """A rate limit, then a dropped connection on the primary; the backup answers. Traced."""
    _, bold, cyan, yellow = _styles(color)
    print(bold("2. Surviving a bad provider: retry, then failover, traced with OpenTelemetry"))
    telemetry: list[Any] = []
    memory = _memory_telemetry()
    if memory is not None:
        from ..middleware import Metrics, Tracing

        telemetry = [
            Tracing(tracer_provider=memory.tracer_provider),
            Metrics(meter_provider=memory.meter_provider),
        ]
    else:
        print(yellow(f"   ({OTEL_HINT})"))
    async with (
        ScriptedServer([status(429, retry_after=0.2), reset_before_headers()]) as primary,
        ScriptedServer(
            [text("It will be sunny in Paris tomorrow.", reasoning="Look up the forecast")]
        ) as backup,
    ):
        failover = Failover(
            [
                Provider(
                    "primary", primary.base_url, middleware=[Retry(RetryPolicy(attempts=2, jitter="none"))]
                ),
                Provider("backup", backup.base_url),
            ]
        )
        async with AsyncClient(middleware=telemetry, endpoint=failover) as client:
            print(cyan("   primary: 429 Retry-After 0.2s, then a dropped connection; backup: healthy"))
            async with client.responses.stream(model="demo-model", input="Weather in Paris?") as stream:
                print(cyan("[answer]    "), end="")
                async for event in stream:
                    if isinstance(event, OutputTextDeltaEvent):
                        print(event.delta, end="", flush=True)
                final = await stream.get_final_response()
    print(
        "\n"
        + cyan("[final]     ")
        + f"served by {final.provider!r} after {len(primary.requests)} primary attempts"
    )
    if memory is not None:
        print()
        print(memory.render_last_trace())
    print()


async def midstream_section(color: bool) -> None:
    """The primary's connection drops mid-answer; the backup continues the same message."""
    _, bold, cyan, yellow = _styles(color)
    print(bold("3. A stream cut mid-answer, continued on the next provider"))
    async with (
        ScriptedServer([reset_mid_stream(after_events=11, text=_FIRST_HALF + _SECOND_HALF)]) as primary,
        ScriptedServer([text(_SECOND_HALF)]) as backup,
    ):
        failover = Failover(
            [Provider("primary", primary.base_url), Provider("backup", backup.base_url)], midstream="continue"
        )
        async with AsyncClient(endpoint=failover) as client:
            print(cyan("[answer]    "), end="")
            async with client.responses.stream(
                model="demo-model", input="Explain TCP in one sentence."
            ) as stream:
                async for event in stream:
                    if isinstance(event, OutputTextDeltaEvent):
                        print(event.delta, end="", flush=True)
                    elif is_unknown_event(event):
                        print(yellow(f"⟨{event.type}⟩"), end="", flush=True)
                final = await stream.get_final_response()
    sent = backup.requests[0].body["input"] if backup.requests else None
    print()
    print(cyan("[final]     ") + repr(final.output_text))
    if isinstance(sent, list) and sent:
        print(
            cyan("[backup]    ") + f"received the original input plus the partial answer ({len(sent)} items)"
        )
    print()


async def run_demo(*, color: bool = False) -> int:
    """Run every demo section on loopback servers."""
    async with ScriptedServer() as server:
        await stream_section(server, color)
    await failover_section(color)
    await midstream_section(color)
    return 0
