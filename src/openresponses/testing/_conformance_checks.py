"""The conformance checker's machinery: :class:`Check`, :class:`CheckContext` and their helpers.

A check is an ``async`` function of a :class:`CheckContext` that returns a one-line summary when
the server conforms and raises :class:`CheckFailure` (with every problem found) when it does not.
The context fetches raw replies (``transports.raw``), so checks see status lines, headers, SSE
framing and ``[DONE]`` exactly as the server sent them, and judge them with
``_conformance_rules``. The scenarios themselves live in ``_conformance_scenarios``.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import ProtocolError
from .._sse import ServerSentEvent, SSEDecoder
from ..transports.raw import RawReply, RawSession, post_raw
from ._conformance_rules import DONE, validate_response, validate_stream

__all__ = [
    "IMAGE_DATA_URL",
    "TOOL",
    "Check",
    "CheckContext",
    "CheckFailure",
    "StreamCapture",
    "as_input",
    "describe_status",
    "expect_completed",
    "expect_json",
    "judge_tool_output",
    "summarise",
]

_EXCERPT = 300
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "City name"}},
        "required": ["location"],
    },
}


class CheckFailure(Exception):
    """Raised by a check: the server does not conform. ``str()`` is the report's detail."""

    def __init__(self, summary: str, problems: list[str] | None = None) -> None:
        self.summary = summary
        self.problems = list(problems or [])
        lines = [summary, *(f"- {problem}" for problem in self.problems)]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class StreamCapture:
    """One SSE reply: the raw reply, its decoded events, and bytes left after the last event."""

    reply: RawReply
    events: tuple[ServerSentEvent, ...]
    pending: bytes = b""

    def problems(self, *, require_done: bool = False) -> list[str]:
        """Ordering, schema and framing problems, plus a body that ended early or mid-event."""
        found = validate_stream(self.events, require_done=require_done)
        if self.reply.error:
            found.append(f"the body ended early: {self.reply.error}")
        if self.pending.strip():
            found.append(f"{len(self.pending)} byte(s) after the last complete event (no blank line)")
        return found

    @property
    def terminal(self) -> dict[str, Any] | None:
        """The data of the last ``response.completed`` / ``failed`` / ``incomplete`` event."""
        for event in reversed(self.events):
            if event.data.strip() == DONE:
                continue
            try:
                data = json.loads(event.data)
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("type") in _TERMINALS:
                return data
        return None


_TERMINALS = ("response.completed", "response.failed", "response.incomplete")


class CheckContext:
    """What a check runs with: the server, the model, and helpers that fetch and judge replies.

    One context serves a whole run, so checks can share an expensive reply (``shared``) and,
    given a ``session``, its connections. The request headers (``Authorization``) stay private:
    not in the repr, never in a detail.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        session: RawSession | None = None,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self._headers = dict(headers or {})
        self._session = session
        self._shared: dict[str, tuple[bool, Any]] = {}

    def __repr__(self) -> str:
        return f"CheckContext(base_url={self.base_url!r}, model={self.model!r}, timeout={self.timeout!r})"

    async def post(self, path: str, body: Any, *, stream: bool = False) -> RawReply:
        """``POST base_url + path`` with the run's headers; the raw reply, whatever its status."""
        headers = {**self._headers, "accept": "text/event-stream" if stream else "application/json"}
        if self._session is not None:
            return await self._session.post(self.base_url + path, body, headers, self.timeout)
        return await post_raw(self.base_url + path, body, headers, self.timeout)

    async def create(self, body: Mapping[str, Any], *, what: str = "POST /responses") -> dict[str, Any]:
        """A non-streaming create that must succeed: 200, JSON (R5), a valid response (R18)."""
        reply = await self.post("/responses", {"model": self.model, **body})
        data = expect_json(reply, what)
        problems = validate_response(data)
        if problems:
            raise CheckFailure(f"{what}: the response violates the schema", problems)
        return dict(data)

    async def stream(
        self, body: Mapping[str, Any], *, what: str = "POST /responses (stream)"
    ) -> StreamCapture:
        """A streaming create that must answer 200 with ``text/event-stream`` (R6), decoded."""
        reply = await self.post("/responses", {"model": self.model, **body, "stream": True}, stream=True)
        if reply.status != 200:
            raise CheckFailure(f"{what}: {describe_status(reply)}")
        if reply.content_type != "text/event-stream":
            raise CheckFailure(
                f"{what}: Content-Type is {reply.content_type!r}, expected text/event-stream (R6)"
            )
        decoder = SSEDecoder()
        events: list[ServerSentEvent] = []
        try:
            for chunk in reply.chunks:  # as they arrived: framing split across chunks is fair game
                events.extend(decoder.feed(chunk))
        except ProtocolError as exc:  # an event past the decoder's size limit
            raise CheckFailure(f"{what}: {exc}") from None
        return StreamCapture(reply, tuple(events), decoder.pending)

    async def shared(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        """``await fetch()`` once per run for ``key``; later calls get the same result (or error)."""
        if key not in self._shared:
            try:
                self._shared[key] = (True, await fetch())
            except CheckFailure as exc:
                self._shared[key] = (False, exc)
        ok, value = self._shared[key]
        if not ok:
            raise value
        return value


CheckFunction = Callable[[CheckContext], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Check:
    """One conformance scenario: ``id`` (stable, for ``--filter``), ``title``, and ``run``.

    ``str(check)`` is its id, so ``@pytest.mark.parametrize("check", CHECKS, ids=str)`` names the
    tests after the checks. ``rules`` lists the spec rules it exercises (RULES.md numbers).
    """

    id: str
    title: str
    run: CheckFunction = field(repr=False)
    rules: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.id


# -- helpers shared by the scenarios ------------------------------------------------------------


def describe_status(reply: RawReply) -> str:
    """``HTTP 400: <the error message>`` (or a body excerpt) for an unexpected status."""
    message = ""
    try:
        data = reply.json()
        error = data.get("error") if isinstance(data, dict) else None
        message = str(error.get("message")) if isinstance(error, dict) else ""
    except ValueError:
        pass
    if not message:
        message = reply.body[:_EXCERPT].decode("utf-8", "replace").strip()
    return f"HTTP {reply.status}" + (f": {message[:_EXCERPT]}" if message else "")


def expect_json(reply: RawReply, what: str) -> Any:
    """The body of a 200 ``application/json`` reply, or a :class:`CheckFailure` saying why not."""
    if reply.status != 200:
        raise CheckFailure(f"{what}: {describe_status(reply)}")
    if reply.content_type != "application/json":
        raise CheckFailure(f"{what}: Content-Type is {reply.content_type!r}, expected application/json (R5)")
    if reply.error:
        raise CheckFailure(f"{what}: the body ended early: {reply.error}")
    try:
        return reply.json()
    except ValueError as exc:
        raise CheckFailure(f"{what}: the body is not JSON ({exc})") from None


def expect_completed(data: Mapping[str, Any], what: str) -> list[Any]:
    """The ``output`` of a ``completed`` response with at least one item (the acceptance bar)."""
    if data.get("status") != "completed":
        error = data.get("error")
        raise CheckFailure(
            f"{what}: status is {data.get('status')!r}, expected 'completed' (error: {error!r})"
        )
    output = data.get("output")
    if not isinstance(output, list) or not output:
        raise CheckFailure(f"{what}: a completed response with an empty output")
    return output


def summarise(output: list[Any]) -> str:
    """``1 message, 1 function_call``."""
    counts: dict[str, int] = {}
    for item in output:
        kind = str(item.get("type")) if isinstance(item, Mapping) else type(item).__name__
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


def as_input(item: Mapping[str, Any]) -> dict[str, Any]:
    """An output item rewritten as the input item that sends it back (README §3 vs §4)."""
    kind = item.get("type")
    if kind == "compaction":
        out = {"type": "compaction", "encrypted_content": item.get("encrypted_content")}
    elif kind == "reasoning":
        # On input, reasoning ``content`` may only be null (R17); the summary goes back as is.
        out = {"type": "reasoning", "summary": item.get("summary", [])}
        if isinstance(item.get("encrypted_content"), str):
            out["encrypted_content"] = item["encrypted_content"]
    elif kind == "message":
        out = {key: item[key] for key in ("type", "role", "content", "status", "phase") if key in item}
    elif kind == "function_call":
        out = {key: item[key] for key in ("type", "call_id", "name", "arguments", "status") if key in item}
    else:
        return dict(item)
    if "id" in item:
        out["id"] = item["id"]
    return out


def judge_tool_output(output: list[Any]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The function calls in ``output`` and the problems with them (R81: name, call_id, JSON args)."""
    calls: list[Mapping[str, Any]] = []
    problems: list[str] = []
    kinds = {item.get("type") for item in output if isinstance(item, Mapping)}
    for index, item in enumerate(output):
        if not isinstance(item, Mapping) or item.get("type") != "function_call":
            continue
        calls.append(item)
        if item.get("name") != TOOL["name"]:
            problems.append(f"output/{index}: called {item.get('name')!r}, a tool that was not offered")
        if not isinstance(item.get("call_id"), str) or not item["call_id"]:
            problems.append(f"output/{index}: call_id is empty")
        try:
            arguments = json.loads(item.get("arguments") or "")
        except (TypeError, ValueError):
            problems.append(f"output/{index}: arguments are not valid JSON: {item.get('arguments')!r:.120}")
        else:
            if not isinstance(arguments, dict):
                problems.append(f"output/{index}: arguments are JSON but not an object: {arguments!r:.120}")
    if not calls and "message" not in kinds:
        problems.append(f"output holds neither a function_call nor a message ({sorted(map(str, kinds))})")
    return calls, problems


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, built here so the check carries no binary fixture."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = (b"\x00" + bytes(rgb) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


IMAGE_DATA_URL = "data:image/png;base64," + base64.b64encode(_png(32, 32, (220, 30, 30))).decode()
