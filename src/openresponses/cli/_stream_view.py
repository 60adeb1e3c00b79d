"""What ``openresponses create`` writes while a reply arrives: styles, sections, timing, summary.

Kept apart from the command's flags (``create.py``) so ``openresponses --help`` imports none of
the client; everything here runs once a request is under way.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, TextIO

from .._decisions import (
    BreakerChanged,
    BreakerRejected,
    CacheLookup,
    Decision,
    FailedOver,
    Recovered,
    Retried,
    TimedOut,
)
from .._pipeline import AttemptObserver, Request
from .._streaming import AsyncResponseStream
from ..types import (
    FunctionCall,
    OutputItemDoneEvent,
    OutputTextDeltaEvent,
    ReasoningDeltaEvent,
    ReasoningItem,
    ReasoningSummaryTextDeltaEvent,
    RefusalDeltaEvent,
    Response,
    StreamEvent,
    is_unknown_event,
)

__all__ = [
    "Decisions",
    "Timing",
    "View",
    "describe_decision",
    "dump_json",
    "show_response",
    "show_stream",
    "summary",
]


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Style:
    """ANSI styling for one stream, only when it is a terminal and colour is not turned off."""

    def __init__(self, stream: TextIO, no_color: bool) -> None:
        # https://no-color.org: NO_COLOR set to anything but the empty string turns colour off.
        self.on = _isatty(stream) and not no_color and not os.environ.get("NO_COLOR")

    def __call__(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on and text else text


class Decisions:
    """A call observer: keeps the middleware's decisions, and shows them on stderr as they happen."""

    def __init__(self, show: Any) -> None:
        self.seen: list[Decision] = []
        self._show = show

    def on_record(self, decision: Decision) -> None:
        self.seen.append(decision)
        if self._show is not None:
            self._show(describe_decision(decision))

    def on_attempt(self, request: Request, number: int) -> AttemptObserver | None:
        return None


def describe_decision(decision: Decision) -> str:
    """One line for a middleware decision: ``[retry] attempt 2 in 0.20 s (RateLimitError, retry-after)``."""
    if isinstance(decision, Retried):
        return (
            f"[retry] attempt {decision.attempt} in {decision.wait_s:.2f} s "
            f"({decision.error_type}, {decision.reason})"
        )
    if isinstance(decision, FailedOver):
        return f"[failover] {decision.source} -> {decision.target or '(none left)'} ({decision.reason})"
    if isinstance(decision, Recovered):
        return f"[{decision.mode}] the stream broke on {decision.source}; going on with {decision.target}"
    if isinstance(decision, BreakerChanged):
        return f"[breaker] {decision.provider}: {decision.previous} -> {decision.state}"
    if isinstance(decision, BreakerRejected):
        return (
            f"[breaker] {decision.provider} is open: not called (half-opens in {decision.reopens_in_s:.0f} s)"
        )
    if isinstance(decision, TimedOut):
        return f"[timeout] {decision.which} after {decision.limit_s:g} s"
    if isinstance(decision, CacheLookup):
        similarity = f" similarity {decision.similarity:.3f}" if decision.similarity is not None else ""
        return f"[cache] {decision.status or ('HIT' if decision.hit else 'MISS')}{similarity}"
    attributes = " ".join(f"{k}={v}" for k, v in decision.attributes().items())
    return f"[{decision.kind}] {attributes}".rstrip()


class View:
    """Writes one call's output: reasoning and notes to ``err``, the answer (or events) to ``out``.

    The answer alone goes to ``out``, so ``openresponses create ... > answer.txt`` keeps just
    it. Whatever is written, each kind starts on a line of its own: reasoning ends with a newline
    before the answer starts, and a note (a retry, a tool call, the summary) is a whole line.
    """

    def __init__(self, out: TextIO, err: TextIO, *, no_color: bool) -> None:
        self.out, self.err = out, err
        self.out_style, self.err_style = _Style(out, no_color), _Style(err, no_color)
        self._in_reasoning = False  # stderr is in the middle of a reasoning line
        self._answer_open = False  # stdout's last answer line has no newline yet
        # On one terminal, a stderr line in the middle of the answer needs the answer's line ended;
        # piped, stdout is left exactly as the model wrote it.
        self._same_terminal = _isatty(out) and _isatty(err)

    def reasoning(self, text: str) -> None:
        """A reasoning delta: on stderr, ``[reasoning]``-prefixed, dimmed on a terminal."""
        if not self._in_reasoning:
            self.end_line()
            self.err.write(self.err_style("2;36", "[reasoning] "))
            self._in_reasoning = True
        self.err.write(self.err_style("2;3", text))
        self.err.flush()

    def answer(self, text: str) -> None:
        """An answer delta (text or refusal): on stdout, as it is."""
        if self._in_reasoning:
            self.end_line()
        if text:
            self.out.write(text)
            self.out.flush()
            self._answer_open = not text.endswith("\n")

    def raw(self, line: str) -> None:
        """One whole line on stdout (``--raw``)."""
        self.out.write(line + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """A line of its own on stderr (a retry, a tool call, the summary)."""
        self.end_line()
        self.err.write(self.err_style("2", text) + "\n")
        self.err.flush()

    def end_line(self) -> None:
        """End the reasoning line (and, on one terminal, the answer's) before another kind starts."""
        if self._in_reasoning:
            self.err.write("\n")
            self.err.flush()
            self._in_reasoning = False
        if self._answer_open and self._same_terminal:
            self._close_answer()

    def finish(self) -> None:
        """The reply is complete: the answer ends its line, piped or not."""
        self.end_line()
        if self._answer_open:
            self._close_answer()

    def _close_answer(self) -> None:
        self.out.write("\n")
        self.out.flush()
        self._answer_open = False


class Timing:
    """When the call started, its first event and first content delta arrived, and it ended."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first_event: float | None = None
        self.first_token: float | None = None
        self.end: float | None = None

    def now_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0

    def event(self, content: bool) -> None:
        now = time.perf_counter()
        if self.first_event is None:
            self.first_event = now
        if content and self.first_token is None:
            self.first_token = now

    def stop(self) -> None:
        if self.end is None:
            self.end = time.perf_counter()

    def as_dict(self) -> dict[str, float | None]:
        def ms(at: float | None) -> float | None:
            return None if at is None else round((at - self.start) * 1000.0, 1)

        return {
            "first_event_ms": ms(self.first_event),
            "first_token_ms": ms(self.first_token),
            "total_ms": ms(self.end),
        }


_CONTENT = (OutputTextDeltaEvent, ReasoningDeltaEvent, ReasoningSummaryTextDeltaEvent, RefusalDeltaEvent)


async def show_stream(
    stream: AsyncResponseStream, view: View | None, timing: Timing, *, raw: bool
) -> Response:
    """Iterate ``stream``, showing each event (``raw``: as JSON) unless ``view`` is ``None``."""
    async for event in stream:
        timing.event(content=isinstance(event, _CONTENT))
        if view is None:
            continue
        if raw:
            _show_raw(event, view, timing)
        else:
            _show_event(event, view)
    return await stream.get_final_response()


def _show_raw(event: StreamEvent, view: View, timing: Timing) -> None:
    data = event.model_dump_json(by_alias=True, exclude_unset=True)
    stamp = view.out_style("2", f"+{timing.now_ms():9.1f} ms")
    view.raw(f"{stamp}  {view.out_style('36', event.type)}  {data}")


def _show_event(event: StreamEvent, view: View) -> None:
    if isinstance(event, ReasoningSummaryTextDeltaEvent | ReasoningDeltaEvent):
        view.reasoning(event.delta)
    elif isinstance(event, OutputTextDeltaEvent | RefusalDeltaEvent):
        view.answer(event.delta)
    elif isinstance(event, OutputItemDoneEvent) and isinstance(event.item, FunctionCall):
        view.note(f"[function_call] {event.item.name}({event.item.arguments}) call_id={event.item.call_id}")
    elif is_unknown_event(event):
        view.note(f"[{event.type}]")


def show_response(response: Response, view: View) -> None:
    for item in response.output:
        if isinstance(item, ReasoningItem):
            for part in [*item.summary, *(item.content or ())]:
                text = getattr(part, "text", None)
                if text:
                    view.reasoning(text)
        elif isinstance(item, FunctionCall):
            view.note(f"[function_call] {item.name}({item.arguments}) call_id={item.call_id}")
    if response.output_text:
        view.answer(response.output_text)


def summary(final: Response | None, request: Request, timing: Timing) -> str:
    parts: list[str] = []
    if final is not None and final.status != "completed":
        reason = final.incomplete_details.reason if final.incomplete_details else None
        parts.append(f"status {final.status}" + (f" ({reason})" if reason else ""))
    usage = final.usage if final is not None else None
    if usage is not None:
        reasoning = usage.output_tokens_details.reasoning_tokens
        extra = f" ({reasoning} reasoning)" if reasoning else ""
        parts.append(f"{usage.input_tokens} in / {usage.output_tokens} out{extra} tokens")
    else:
        parts.append("no usage reported")
    provider = (final.provider if final is not None else None) or request.context.provider
    if provider:
        parts.append(f"served by {provider}")
    attempts = request.context.attempts
    parts.append(f"{attempts} attempt{'s' if attempts != 1 else ''}")
    times = timing.as_dict()
    if request.stream and times["first_token_ms"] is not None:
        parts.append(f"first token {times['first_token_ms']:.0f} ms")
    parts.append(f"{times['total_ms'] or 0:.0f} ms in all")
    return "[" + " · ".join(parts) + "]"


def dump_json(
    out: TextIO, result: dict[str, Any], request: Request, decisions: Decisions, timing: Timing
) -> None:
    result.update(
        provider=request.context.provider,
        attempts=request.context.attempts,
        timing=timing.as_dict(),
        decisions=[{"kind": d.kind, **d.attributes()} for d in decisions.seen],
    )
    out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
