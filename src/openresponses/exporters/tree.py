"""A terminal view of a finished trace: an indented span tree with timing bars and the facts that matter.

::

    chat demo-model                    CLIENT  412.3 ms  OK     |██████████████████████████|
    │  provider=b attempts=2 finish=tool_calls ttft=88.1 ms tokens in=12 out=30 (reasoning 8)
    │  · +0.1 ms failover from=a to=b reason=APIConnectionError
    ├─ attempt 1 a                             3.2 ms  ERROR  |▏                         |
    │    error=APIConnectionError
    └─ attempt 2 b                           401.7 ms  OK     | ████████████████████████▉|
         wait=0.00 s (failover) ttft=85.0 ms
       ├─ reasoning                          120.4 ms  OK     |      ███████▋             |
       ...

Works on any objects shaped like the SDK's ``ReadableSpan`` (``exporters.memory().spans()``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

__all__ = ["print_last_trace", "render_trace"]

_BLOCKS = " ▏▎▍▌▋▊▉█"
_SKIP_EVENTS = frozenset(
    {
        "delta",
        "response.content_part.added",
        "response.content_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.created",
        "response.in_progress",
        "response.queued",
    }
)


def _ms(ns: float) -> str:
    ms = ns / 1e6
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def _bar(start: int, end: int, t0: int, total: int, width: int) -> str:
    """A bar of ``width`` cells with eighth-cell resolution for [start, end] within [t0, t0+total]."""
    if total <= 0:
        return "█" * width
    a = (start - t0) / total * width
    b = max(a + 1 / 8, (end - t0) / total * width)  # every span gets at least a sliver
    cells = []
    for i in range(width):
        cover = max(0.0, min(b, i + 1) - max(a, i))
        if cover <= 0:
            cells.append(" ")
        elif cover >= 1:
            cells.append("█")
        else:
            cells.append(_BLOCKS[max(1, round(cover * 8))])
    return "".join(cells)


def _get(attrs: Mapping[str, Any], key: str) -> Any:
    return attrs.get(key) if attrs else None


def _facts(span: Any) -> str:
    """The attributes worth a glance, in a fixed order."""
    a: Mapping[str, Any] = span.attributes or {}
    out: list[str] = []
    provider = _get(a, "openresponses.provider") or _get(a, "gen_ai.provider.name")
    if provider and _get(a, "openresponses.attempt.number") is None:
        out.append(f"provider={provider}")
    if _get(a, "openresponses.attempts") is not None:
        out.append(f"attempts={a['openresponses.attempts']}")
    reason = _get(a, "openresponses.attempt.reason")
    if reason and reason != "first":
        wait = _get(a, "openresponses.attempt.wait_s")
        why = _get(a, "openresponses.attempt.wait_reason")
        text = f"{reason}"
        if wait is not None:
            text += f" after {float(wait):.2f} s" + (f" ({why})" if why else "")
        source = _get(a, "openresponses.attempt.failover_from")
        if source:
            text += f" from {source}"
        out.append(text)
    if _get(a, "openresponses.breaker.state"):
        out.append(f"breaker={a['openresponses.breaker.state']}")
    reasons = _get(a, "gen_ai.response.finish_reasons")
    if reasons:
        out.append("finish=" + ",".join(reasons))
    ttft = _get(a, "gen_ai.response.time_to_first_chunk")
    if ttft is not None:
        out.append(f"ttft={float(ttft) * 1000:.1f} ms")
    tin, tout = _get(a, "gen_ai.usage.input_tokens"), _get(a, "gen_ai.usage.output_tokens")
    if tin is not None or tout is not None:
        extra = []
        if _get(a, "gen_ai.usage.reasoning.output_tokens"):
            extra.append(f"reasoning {a['gen_ai.usage.reasoning.output_tokens']}")
        if _get(a, "gen_ai.usage.cache_read.input_tokens"):
            extra.append(f"cached {a['gen_ai.usage.cache_read.input_tokens']}")
        out.append(f"tokens in={tin} out={tout}" + (f" ({', '.join(extra)})" if extra else ""))
    if _get(a, "openresponses.item.deltas") is not None:
        out.append(
            f"deltas={a['openresponses.item.deltas']} bytes={a.get('openresponses.item.delta_bytes', 0)}"
        )
    if _get(a, "openresponses.deltas.sampled"):
        out.append(f"delta events sampled ({a.get('openresponses.deltas.recorded')} kept)")
    if _get(a, "openresponses.cache.hit") is not None:
        sim = _get(a, "openresponses.cache.similarity")
        out.append(
            f"cache {'hit' if a['openresponses.cache.hit'] else 'miss'}" + (f" {sim:.3f}" if sim else "")
        )
    if _get(a, "openresponses.stream.abandoned"):
        out.append(f"ABANDONED after {a.get('openresponses.stream.events', '?')} events")
    if _get(a, "openresponses.item.ended_by"):
        out.append(f"ended by {a['openresponses.item.ended_by']}")
    if _get(a, "error.type"):
        out.append(f"error={a['error.type']}")
    if _get(a, "server.address"):
        port = _get(a, "server.port")
        out.append(f"server={a['server.address']}" + (f":{port}" if port else ""))
    return " ".join(out)


def _events(span: Any, t0: int) -> list[str]:
    lines = []
    for event in span.events or ():
        if event.name in _SKIP_EVENTS:
            continue
        attrs = event.attributes or {}
        if event.name == "exception":
            detail = str(attrs.get("exception.type", "")).rsplit(".", 1)[-1]
        else:
            detail = " ".join(
                f"{key.rsplit('.', 1)[-1]}={_fmt(value)}"
                for key, value in attrs.items()
                if key not in ("openresponses.event.sequence_number",)
            )
        lines.append(f"· +{_ms(event.timestamp - span.start_time)} {event.name} {detail}".rstrip())
    return lines


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def _status(span: Any) -> str:
    code = getattr(getattr(span, "status", None), "status_code", None)
    name = getattr(code, "name", "UNSET")
    return {"ERROR": "ERROR", "OK": "OK"}.get(name, "ok")


def render_trace(spans: Iterable[Any], *, bar_width: int = 28, events: bool = True) -> str:
    """Render finished spans (one or more traces) as indented trees with timing bars."""
    finished = [s for s in spans if s.end_time is not None and s.context is not None]
    if not finished:
        return "(no spans)"
    by_trace: dict[int, list[Any]] = {}
    for span in finished:
        by_trace.setdefault(span.context.trace_id, []).append(span)
    blocks = [_render_one(group, bar_width, events) for group in by_trace.values()]
    return "\n\n".join(blocks)


def _render_one(spans: Sequence[Any], bar_width: int, show_events: bool) -> str:
    ids = {s.context.span_id for s in spans}
    children: dict[int | None, list[Any]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None and span.parent.span_id in ids else None
        children.setdefault(parent, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: s.start_time)
    t0 = min(s.start_time for s in spans)
    total = max(s.end_time for s in spans) - t0
    rows: list[tuple[str, Any, str]] = []  # (tree prefix + name, span, continuation prefix)

    def walk(span: Any, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        cont = prefix + ("" if root else ("   " if last else "│  "))
        rows.append((prefix + branch + span.name, span, cont))
        kids = children.get(span.context.span_id, [])
        for i, kid in enumerate(kids):
            walk(kid, cont, i == len(kids) - 1, False)

    for root in children.get(None, []):
        walk(root, "", True, True)
    name_width = min(60, max(len(label) for label, _, _ in rows) + 2)
    lines = []
    for label, span, cont in rows:
        kind = getattr(getattr(span, "kind", None), "name", "")
        kind = kind if kind in ("CLIENT", "SERVER") else ""
        duration = _ms(span.end_time - span.start_time)
        bar = _bar(span.start_time, span.end_time, t0, total, bar_width)
        lines.append(
            f"{label[:name_width].ljust(name_width)}{kind:>7} {duration:>10}  {_status(span):<5} |{bar}|"
        )
        has_kids = bool(children.get(span.context.span_id))
        detail_prefix = cont + ("│  " if has_kids else "   ")
        facts = _facts(span)
        if facts:
            lines.append(detail_prefix + facts)
        if show_events:
            lines.extend(detail_prefix + line for line in _events(span, t0))
    return "\n".join(line.rstrip() for line in lines)


def print_last_trace(telemetry: Any, *, file: TextIO | None = None, **options: Any) -> None:
    """Print the last trace of an in-memory exporter (``exporters.memory()``) as a tree."""
    print(render_trace(telemetry.last_trace(), **options), file=file or sys.stdout)
