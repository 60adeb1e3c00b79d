"""The offline demo: scripted Open Responses servers on loopback, driven through the client.

Everything runs in this process on 127.0.0.1; nothing leaves the machine (unless ``--otlp``
sends the traces to a collector). The sections:

1. a reasoning model's answer streamed event by event (core install);
2. surviving a bad provider: a rate limit and a dropped connection, retried and failed over, then
   a circuit breaker that skips the broken provider on the next call;
3. a stream cut mid-answer, continued on the next provider into one coherent answer;
4. a semantic cache: a repeated question and a reworded one answered without calling upstream.

Sections 2 and 3 print their OpenTelemetry trace as a waterfall. The trace needs the ``otel``
extra and the breaker the ``resilience`` extra: without them the sections still run, and one line
each says what is missing and how to get it. The middleware's decisions (a retry and its wait, a
failover) are printed as they happen, so a wait is never silent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from .._client import AsyncClient
from .._decisions import Decision
from .._extras import MissingExtraError
from .._pipeline import AttemptObserver, Handler, Middleware, Reply, Request
from .._provider import Provider
from ..middleware.failover import Failover
from ..middleware.retry import Retry, RetryPolicy
from ..testing import ScriptedServer, reset_before_headers, reset_mid_stream, status, text
from ..types import OutputTextDeltaEvent, ReasoningSummaryTextDeltaEvent, is_unknown_event
from ._stream_view import describe_decision

__all__ = ["OTEL_HINT", "RESILIENCE_HINT", "run_demo"]

_REASONING = (
    "The user asks what Open Responses is. Explain it in one or two sentences, then mention streaming."
)
_ANSWER = (
    "Open Responses is an open, provider-neutral specification for LLM APIs, derived from the "
    "OpenAI Responses API: typed items in, typed items out, and semantic streaming events."
)
_FIRST_HALF = "TCP keeps its promises: every byte arrives,"
_SECOND_HALF = " in order, or the sender is told it did not."  # what a model continuing would send

OTEL_HINT = "no trace: it needs the otel extra, pip install 'openresponses-python[otel]'"
RESILIENCE_HINT = (
    "no circuit breaker: it needs the resilience extra, pip install 'openresponses-python[resilience]'"
)

Style = Callable[[str], str]


def _styles(color: bool) -> tuple[Style, Style, Style, Style]:
    def wrap(code: str) -> Style:
        return (lambda s: f"\033[{code}m{s}\033[0m") if color else (lambda s: s)

    return wrap("2;3"), wrap("1"), wrap("36"), wrap("33")


class _Answer:
    """Where the terminal is: in the middle of an ``[answer]`` line or not."""

    def __init__(self, label: Style) -> None:
        self.label = label
        self.open = False

    def start(self) -> None:
        print(self.label("[answer]    "), end="", flush=True)
        self.open = True


class _Narrate:
    """Middleware: print each decision of the call (retry, failover, breaker) as it is made.

    It is the outermost layer and adds itself to the call's observers, which is all a custom
    observer needs (docs/architecture.md).
    """

    def __init__(self, style: Style, answer: _Answer) -> None:
        self._style = style
        self._answer = answer

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        request.context.observers.append(self)
        return await call_next(request)

    def on_record(self, decision: Decision) -> None:
        resume = self._answer.open
        if resume:
            print()  # the note goes on a line of its own, then the answer goes on
        print(self._style("   " + describe_decision(decision)), flush=True)
        if resume:
            self._answer.start()

    def on_attempt(self, request: Request, number: int) -> AttemptObserver | None:
        return None


class _Telemetry:
    """Tracing + Metrics over in-memory providers (and OTLP with ``--otlp``), or nothing."""

    def __init__(self, otlp: str | None) -> None:
        self.middleware: list[Middleware] = []
        self.otlp_url = otlp
        self._spans: Any = None
        self._otlp: Any = None
        try:
            from .. import exporters
            from ..middleware import Metrics, Tracing
        except MissingExtraError:
            return
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        if otlp is None:
            memory = exporters.memory()
            tracer_provider, meter_provider = memory.tracer_provider, memory.meter_provider
            self._spans = memory.span_exporter
        else:
            self._otlp = exporters.setup(
                "openresponses-demo", endpoint=otlp, set_global=False, instrument_httpx=False
            )
            tracer_provider, meter_provider = self._otlp.tracer_provider, self._otlp.meter_provider
            self._spans = InMemorySpanExporter()  # what the waterfall is drawn from
            tracer_provider.add_span_processor(SimpleSpanProcessor(self._spans))
        self.middleware = [
            Tracing(tracer_provider=tracer_provider),
            Metrics(meter_provider=meter_provider),
        ]

    @property
    def enabled(self) -> bool:
        return bool(self.middleware)

    def render_last_trace(self) -> str:
        from ..exporters.tree import render_trace

        spans: Sequence[Any] = self._spans.get_finished_spans()
        ids = {s.context.span_id for s in spans}
        roots = [s for s in spans if s.parent is None or s.parent.span_id not in ids]
        if not roots:
            return ""
        trace_id = roots[-1].context.trace_id
        return render_trace([s for s in spans if s.context.trace_id == trace_id])

    def shutdown(self) -> str | None:
        """Send what is left over OTLP (bounded); a line saying where the traces went."""
        if self._otlp is None:
            return None
        count = len(self._spans.get_finished_spans())
        print(f"sending {count} spans to {self.otlp_url} ...", flush=True)  # up to 3 s with no collector
        if self._otlp.shutdown():
            return f"sent {count} spans over OTLP to {self.otlp_url} (service.name=openresponses-demo)"
        return (
            f"no collector took them at {self.otlp_url}; Jaeger, for one: docker run --rm -p 16686:16686 "
            "-p 4318:4318 jaegertracing/all-in-one, then open http://localhost:16686"
        )


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


def _breaker() -> Middleware | None:
    try:
        from ..middleware import CircuitBreaker

        return CircuitBreaker(fail_max=2, reset_timeout=30)
    except MissingExtraError:
        return None


async def _answer(client: AsyncClient, question: str, line: _Answer, yellow: Style) -> Any:
    async with client.responses.stream(model="demo-model", input=question) as stream:
        line.start()
        async for event in stream:
            if isinstance(event, OutputTextDeltaEvent):
                print(event.delta, end="", flush=True)
            elif is_unknown_event(event):
                print(yellow(f"⟨{event.type}⟩"), end="", flush=True)
        final = await stream.get_final_response()
    print()
    line.open = False
    return final


async def failover_section(color: bool, telemetry: _Telemetry | None = None) -> None:
    """A rate limit, then a dropped connection on the primary; the backup answers. Traced."""
    dim, bold, cyan, yellow = _styles(color)
    telemetry = telemetry or _Telemetry(None)
    print(bold("2. Surviving a bad provider: retry, failover and a circuit breaker, traced"))
    if not telemetry.enabled:
        print(yellow(f"   ({OTEL_HINT})"))
    breaker = _breaker()
    if breaker is None:
        print(yellow(f"   ({RESILIENCE_HINT})"))
    async with (
        ScriptedServer([status(429, retry_after=0.2), reset_before_headers()]) as primary,
        ScriptedServer(
            [text("It will be sunny in Paris tomorrow.", reasoning="Look up the forecast")],
            default=text("Rain in Oslo, as usual."),
        ) as backup,
    ):
        retry = Retry(RetryPolicy(attempts=2, jitter="none"))
        failover = Failover(
            [
                # The breaker sits inside Retry: each attempt counts, and an open breaker stops retries.
                Provider("primary", primary.base_url, middleware=[retry, *([breaker] if breaker else [])]),
                Provider("backup", backup.base_url),
            ]
        )
        line = _Answer(cyan)
        middleware = [*telemetry.middleware, _Narrate(dim, line)]
        async with AsyncClient(middleware=middleware, endpoint=failover) as client:
            print(cyan("   primary: 429 Retry-After 0.2s, then a dropped connection; backup: healthy"))
            final = await _answer(client, "Weather in Paris?", line, yellow)
            print(
                cyan("[final]     ")
                + f"served by {final.provider!r} after {len(primary.requests)} primary attempts"
            )
            if telemetry.enabled:
                print()
                print(telemetry.render_last_trace())
            if breaker is not None:
                print(
                    cyan("   the next call: primary's breaker is open (2 failures), so it is not even tried")
                )
                sent_before = len(primary.requests)
                started = time.perf_counter()
                final = await _answer(client, "And in Oslo?", line, yellow)
                elapsed_ms = (time.perf_counter() - started) * 1000
                skipped = "skipped" if len(primary.requests) == sent_before else "called"
                print(
                    cyan("[final]     ")
                    + f"served by {final.provider!r} in {elapsed_ms:.0f} ms; primary {skipped} (circuit open)"
                )
    print()


async def midstream_section(color: bool, telemetry: _Telemetry | None = None) -> None:
    """The primary's connection drops mid-answer; the backup continues the same message."""
    dim, bold, cyan, yellow = _styles(color)
    telemetry = telemetry or _Telemetry(None)
    print(bold("3. A stream cut mid-answer, continued on the next provider"))
    async with (
        ScriptedServer([reset_mid_stream(after_events=11, text=_FIRST_HALF + _SECOND_HALF)]) as primary,
        ScriptedServer([text(_SECOND_HALF)]) as backup,
    ):
        failover = Failover(
            [Provider("primary", primary.base_url), Provider("backup", backup.base_url)], midstream="continue"
        )
        line = _Answer(cyan)
        middleware = [*telemetry.middleware, _Narrate(dim, line)]
        async with AsyncClient(middleware=middleware, endpoint=failover) as client:
            final = await _answer(client, "Explain TCP in one sentence.", line, yellow)
    sent = backup.requests[0].body["input"] if backup.requests else None
    print(cyan("[final]     ") + repr(final.output_text))
    if isinstance(sent, list) and sent:
        print(
            cyan("[backup]    ") + f"received the original input plus the partial answer ({len(sent)} items)"
        )
    if telemetry.enabled:
        print()
        print(telemetry.render_last_trace())
    print()


_CACHED_ANSWER = "Paris is the capital of France."
_QUESTIONS = (
    ("asked", "What is the capital of France?"),
    ("asked again", "What is the capital of France?"),
    ("reworded", "what is the capital city of France"),
)


async def cache_section(color: bool, telemetry: _Telemetry | None = None) -> None:
    """The same question twice, then reworded: one upstream call, two answers from the cache."""
    dim, bold, cyan, yellow = _styles(color)
    telemetry = telemetry or _Telemetry(None)
    print(bold("4. A semantic cache: repeated and reworded questions, answered locally"))
    try:
        from ..middleware import SemanticCache
    except ImportError as exc:  # pragma: no cover - the cache is part of the core install
        print(yellow(f"   (no cache: {exc})\n"))
        return
    async with ScriptedServer(default=text(_CACHED_ANSWER, event_delay=0.01)) as server:
        line = _Answer(cyan)
        middleware = [*telemetry.middleware, _Narrate(dim, line), SemanticCache()]
        async with AsyncClient(base_url=server.base_url, middleware=middleware) as client:
            for label, question in _QUESTIONS:
                print(cyan(f"   {label}: {question!r}"))
                started = time.perf_counter()
                final = await _answer(client, question, line, yellow)
                elapsed_ms = (time.perf_counter() - started) * 1000
                hit = (final.model_extra or {}).get("openresponses:cache") or {}
                how = (
                    f"cache {hit['layer']} hit, similarity {hit['similarity']:.2f}"
                    if hit
                    else "from upstream"
                )
                print(
                    cyan("[final]     ")
                    + f"{how} in {elapsed_ms:.0f} ms; upstream calls so far: {len(server.requests)}"
                )
    print()


async def run_demo(*, color: bool = False, otlp: str | None = None) -> int:
    """Run every demo section on loopback servers; ``otlp`` also exports the traces there."""
    started = time.perf_counter()
    telemetry = _Telemetry(otlp)
    if otlp is not None and not telemetry.enabled:
        from .. import exporters  # raises the one-line MissingExtraError: --otlp cannot work without it

        del exporters
    try:
        async with ScriptedServer() as server:
            await stream_section(server, color)
        await failover_section(color, telemetry)
        await midstream_section(color, telemetry)
        await cache_section(color, telemetry)
    finally:
        sent = telemetry.shutdown()
    _, bold, _, _ = _styles(color)
    if sent:
        print(sent)
    print(
        bold(f"Done in {time.perf_counter() - started:.1f} s.")
        + " Next: `openresponses create --help` against your own server, docs/getting-started.md."
    )
    return 0
