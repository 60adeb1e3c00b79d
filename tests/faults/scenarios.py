"""The fault table: what the primary does wrong, and what a demanding caller should see.

Each :class:`FaultScenario` is played with the primary doing the fault (on every request unless
the row says "once") and a healthy fallback behind it, through the stack of
:mod:`tests.faults.runner`. ``Expect`` is the behaviour wanted, not the behaviour observed: a row
fails until the library does it. Used by ``test_faults.py`` and ``benchmarks/reliability.py``.

Event positions in :data:`PRIMARY`'s stream: 0 ``response.created``, 1 ``in_progress``,
2 ``output_item.added``, 3 ``content_part.added``, 4-8 the five deltas, 9-11 the ``done``
events, 12 ``response.completed``, 13 ``[DONE]``. "Mid-stream" faults come after two deltas
and a short pause, so those events have reached the caller when the fault happens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from openresponses.testing import Frame

from .server import (
    Answer,
    Behaviour,
    answer,
    error_body,
    frames_of,
    http_date,
    raw_sse,
    reply,
    reset,
    silent,
)

__all__ = [
    "FALLBACK",
    "IDLE",
    "PRIMARY",
    "PRIMARY_KEY",
    "SCENARIOS",
    "Expect",
    "FaultScenario",
    "by_name",
]

#: The healthy answers (their full text is what a successful call must return).
PRIMARY = Answer("The primary answers in full.")
FALLBACK = Answer("The fallback answers in full, every word.")
BIG = Answer("x" * 10_000_000, chunks=1)  # one 10 MB delta (and the done events repeating it)
#: The per-provider idle limit of the stack (seconds): every silence longer than this is a fault.
IDLE = 0.5
#: The primary's API key; the 401 row echoes it back, and it must never surface anywhere.
PRIMARY_KEY = "sk-fault-primary-0123456789abcdefABCDEF"
#: Pause before a mid-stream fault, so the events before it reach the caller first.
_MID = 0.05


@dataclass(frozen=True, slots=True)
class Expect:
    """What the caller should see: one of ``outcomes``, within ``within`` seconds (generous).

    Outcome labels: ``fallback``, ``fallback (restart)`` (a mid-stream recovery), ``primary``,
    ``primary (incomplete)``, or the name of the typed error raised. ``primary_requests`` /
    ``fallback_requests`` pin how often each server was called; ``wait_reason`` the reason
    recorded for the retry wait (``retry-after`` or ``backoff``).
    """

    outcomes: tuple[str, ...]
    within: float = 5.0
    primary_requests: int | None = None
    fallback_requests: int | None = None
    wait_reason: str | None = None


@dataclass(frozen=True, slots=True)
class FaultScenario:
    """One row: a name, the fault in words, the primary's behaviours, and the expectation."""

    name: str
    fault: str
    primary: tuple[Behaviour, ...] | None  # None: nothing listens (connection refused)
    expect: Expect
    #: What the primary serves when it does serve (its full text is the only success).
    primary_answer: Answer = PRIMARY
    #: A streaming call (``responses.stream``) or a plain ``responses.create``.
    stream: bool = True
    #: The per-provider idle limit for this row (seconds).
    idle: float = IDLE


def _mid(encoded: list[bytes], fault: Iterable[bytes | tuple[bytes, float]]) -> list[Frame]:
    """The first two deltas (events 0-5), a pause, then ``fault``'s frames."""
    frames = frames_of(encoded[:6])
    rest = frames_of(fault)
    if rest:
        rest[0] = Frame(rest[0].data, _MID + (rest[0].pause or 0.0))
    return frames + rest


def _with_seq(frame: bytes, seq: int) -> bytes:
    head, _, data = frame.partition(b"data: ")
    payload = json.loads(data)
    payload["sequence_number"] = seq
    return head + b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _invalid_utf8(frame: bytes) -> bytes:
    head, _, data = frame.partition(b"data: ")
    payload = json.loads(data)
    payload["delta"] = "@@"
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return head + b"data: " + raw.replace(b"@@", b" \xff\xfe\xfdanswers") + b"\n\n"


def _raw_json_lines(encoded: list[bytes]) -> list[Frame]:
    # The JSON of every event, one per line, without "data:" fields: nothing an SSE parser dispatches.
    return [Frame(e.partition(b"data: ")[2]) for e in encoded[:-1]]


def _echo_key(request: object) -> dict[str, object]:
    auth = getattr(request, "headers", {}).get("authorization", "")
    key = auth.removeprefix("Bearer ")
    return error_body(
        401, f"Incorrect API key provided: {key}. You can find your API key at ...", code="invalid_api_key"
    )


_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    b"</center><hr><center>nginx</center></body></html>\n"
)
_PORTAL = b"<!doctype html><html><body>Please log in to the network to continue.</body></html>"
_FAILOVER = Expect(("fallback",))
_RESTART = Expect(("fallback (restart)",))
_healthy = answer(PRIMARY)

SCENARIOS: tuple[FaultScenario, ...] = (
    FaultScenario(
        "connection_refused",
        "nothing listens on the primary's port",
        None,
        _FAILOVER,
    ),
    FaultScenario(
        "reset_before_headers",
        "reads the request, then a TCP reset before any header",
        (reset(),),
        _FAILOVER,
    ),
    FaultScenario(
        "429_no_retry_after",
        "429 once, without Retry-After",
        (reply(429), _healthy),
        Expect(("primary",), primary_requests=2, fallback_requests=0, wait_reason="backoff"),
    ),
    FaultScenario(
        "429_retry_after_seconds",
        "429 once, Retry-After: 1",
        (reply(429, headers=[("retry-after", "1")]), _healthy),
        Expect(("primary",), primary_requests=2, fallback_requests=0, wait_reason="retry-after"),
    ),
    FaultScenario(
        "429_retry_after_date",
        "429 once, Retry-After as an HTTP-date 1.5 s ahead",
        (reply(429, headers=lambda: [("retry-after", http_date(1.5))]), _healthy),
        Expect(("primary",), primary_requests=2, fallback_requests=0, wait_reason="retry-after"),
    ),
    FaultScenario(
        "429_retry_after_garbage",
        "429 once, Retry-After: soon (unparseable)",
        (reply(429, headers=[("retry-after", "soon")]), _healthy),
        Expect(("primary",), primary_requests=2, fallback_requests=0, wait_reason="backoff"),
    ),
    FaultScenario(
        "429_retry_after_long",
        "429 on every request, Retry-After: 120 (past the call's deadline)",
        (reply(429, headers=[("retry-after", "120")]),),
        # Retry does not start a wait the deadline cannot cover: the fallback serves at once.
        Expect(("fallback",), within=3.0, primary_requests=1, fallback_requests=1),
    ),
    *(
        FaultScenario(f"http_{code}", f"HTTP {code} on every request", (reply(code),), _FAILOVER)
        for code in (500, 502, 503, 504, 529)
    ),
    FaultScenario(
        "never_answers",
        "accepts and reads the request, never sends headers",
        (silent(),),
        Expect(("fallback",), within=4.0),
    ),
    FaultScenario(
        "slow_first_event",
        "lifecycle events at once, then 3 s of silence before the first delta (idle limit 0.5 s)",
        (raw_sse(lambda e: frames_of([*e[:2], (e[2], 3.0), *e[3:]]), PRIMARY),),
        Expect(("fallback",), within=4.0),
    ),
    FaultScenario(
        "cut_stream",
        "TCP reset after two deltas reached the caller",
        (raw_sse(lambda e: _mid(e, []), PRIMARY, end="reset"),),
        _RESTART,
    ),
    FaultScenario(
        "stall",
        "silent forever after two deltas reached the caller",
        (raw_sse(lambda e: [*frames_of(e[:6]), Frame(b"", None)], PRIMARY),),
        Expect(("fallback (restart)",), within=4.0),
    ),
    FaultScenario(
        "slow_drip",
        "three silences of 0.35 s (each under the 0.5 s idle limit, 1.05 s in all)",
        (
            raw_sse(
                lambda e: frames_of(
                    [*e[:2], (e[2], 0.35), *e[3:6], (e[6], 0.35), *e[7:12], (e[12], 0.35), e[13]]
                ),
                PRIMARY,
            ),
        ),
        Expect(("primary",), primary_requests=1, fallback_requests=0),
    ),
    FaultScenario(
        "malformed_sse",
        "text/event-stream whose body is raw JSON lines without data: fields",
        (raw_sse(_raw_json_lines, PRIMARY),),
        _FAILOVER,
    ),
    FaultScenario(
        "invalid_json",
        "data: {not json, before the first content event",
        (raw_sse(lambda e: frames_of([*e[:2], b"data: {not json\n\n", *e[2:]]), PRIMARY),),
        _FAILOVER,
    ),
    FaultScenario(
        "invalid_utf8",
        "a delta whose JSON string holds invalid UTF-8 bytes, mid-stream",
        (raw_sse(lambda e: _mid(e, [_invalid_utf8(e[6]), *e[7:]]), PRIMARY),),
        _RESTART,
    ),
    FaultScenario(
        "no_terminal_event",
        "the body ends cleanly ([DONE]) after two deltas, without a terminal event",
        (raw_sse(lambda e: _mid(e, [e[-1]]), PRIMARY),),
        _RESTART,
    ),
    FaultScenario(
        "duplicate_sequence_number",
        "the second delta is sent twice with the same sequence_number, mid-stream",
        (raw_sse(lambda e: _mid(e, [e[5], *e[6:]]), PRIMARY),),
        # A ProtocolError recovered on the fallback, or (a lenient mode) the duplicate dropped.
        Expect(("fallback (restart)", "primary")),
    ),
    FaultScenario(
        "out_of_order_sequence_number",
        "two deltas swapped, mid-stream: sequence numbers go 6, 8, 7",
        (raw_sse(lambda e: _mid(e, [e[7], e[6], *e[8:]]), PRIMARY),),
        _RESTART,
    ),
    FaultScenario(
        "sequence_number_decreases",
        "a delta whose sequence_number is 2 after 5, mid-stream",
        (raw_sse(lambda e: _mid(e, [_with_seq(e[6], 2), *e[7:]]), PRIMARY),),
        _RESTART,
    ),
    FaultScenario(
        "event_10mb",
        "one 10 MB output_text.delta (the done events repeat the 10 MB text; idle limit 5 s here)",
        (answer(BIG),),
        Expect(("primary",), within=8.0, primary_requests=1, fallback_requests=0),
        primary_answer=BIG,
        # Reading 50 MB takes about a second, longer on a busy machine: not what this row is about.
        idle=5.0,
    ),
    FaultScenario(
        "response_failed",
        "response.failed (server_error) before any content",
        (answer(Answer(PRIMARY.text, ending="failed")),),
        _FAILOVER,
    ),
    FaultScenario(
        "response_incomplete",
        "response.incomplete (max_output_tokens) after the text",
        (answer(Answer(PRIMARY.text, ending="incomplete")),),
        Expect(("primary (incomplete)",), primary_requests=1, fallback_requests=0),
        primary_answer=Answer(PRIMARY.text, ending="incomplete"),
    ),
    FaultScenario(
        "error_event",
        "an error event (server_error) and response.failed after two deltas",
        (raw_sse(lambda e: _mid(e, e[6:]), Answer(PRIMARY.text, ending="failed", fail_after=2)),),
        _RESTART,
    ),
    FaultScenario(
        "context_length_exceeded",
        "400 context_length_exceeded",
        (
            reply(
                400,
                error_body(
                    400, "This model's maximum context length is 8192 tokens.", code="context_length_exceeded"
                ),
            ),
        ),
        Expect(("fallback",), primary_requests=1, fallback_requests=1),
    ),
    FaultScenario(
        "content_policy",
        "400 content_policy_violation",
        (
            reply(
                400,
                error_body(
                    400, "Your request was rejected by the safety system.", code="content_policy_violation"
                ),
            ),
        ),
        Expect(("BadRequestError",), primary_requests=1, fallback_requests=0),
    ),
    FaultScenario(
        "unauthorized",
        "401 whose message echoes the API key the client sent",
        (reply(401, _echo_key),),
        Expect(("AuthenticationError",), primary_requests=1, fallback_requests=0),
    ),
    FaultScenario(
        "html_502",
        "502 with an nginx HTML body",
        (reply(502, _HTML, content_type="text/html"),),
        _FAILOVER,
    ),
    FaultScenario(
        "html_200_stream",
        "200 text/html (a captive portal) to a streaming request",
        (reply(200, _PORTAL, content_type="text/html"),),
        _FAILOVER,
    ),
    FaultScenario(
        "non_json_200",
        "200 application/json whose body is not JSON, to a non-streaming request",
        (reply(200, b"OK"),),
        _FAILOVER,
        stream=False,
    ),
)


def by_name(name: str) -> FaultScenario:
    """The scenario called ``name``."""
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)
