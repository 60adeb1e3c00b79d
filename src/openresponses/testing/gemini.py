"""A fake Gemini API / Vertex AI upstream on loopback, speaking Google's exact wire format.

The ``gemini`` and ``vertex`` adapters (docs/gemini.md) translate to ``streamGenerateContent``:
SSE ``data:`` lines each holding a whole ``GenerateContentResponse``, no event names, no
``[DONE]``, errors as ``google.rpc.Status`` JSON. :class:`GeminiServer` plays that, scripted per
request, on a real socket::

    from openresponses.testing.gemini import GeminiServer, gemini_text, gemini_tool_calls

    async with GeminiServer([
        gemini_text("Paris.", thoughts="Recall geography", thought_signature="c2ln"),
        gemini_tool_calls([("get_weather", {"city": "Paris"})], signature="c2lnMg=="),
    ], api_key="AIza-test") as upstream:
        ...  # Provider("g", base_url=upstream.base_url, adapter="gemini", api_key="AIza-test")

Builders check their arguments, so a bad scenario fails in the test that builds it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from ._gemini_server import GeminiServer
from ._gemini_wire import (
    GeminiCall,
    GeminiFault,
    GeminiHTTPError,
    GeminiRaw,
    GeminiReply,
    GeminiScenario,
    google_error_body,
)

__all__ = [
    "GeminiCall",
    "GeminiFault",
    "GeminiHTTPError",
    "GeminiRaw",
    "GeminiReply",
    "GeminiScenario",
    "GeminiServer",
    "gemini_blocked",
    "gemini_context_length_exceeded",
    "gemini_cut",
    "gemini_error_in_stream",
    "gemini_raw",
    "gemini_stall",
    "gemini_status",
    "gemini_text",
    "gemini_tool_calls",
    "google_error_body",
]

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    429: "You exceeded your current quota, please check your plan and billing details.",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}

CallSpec = GeminiCall | tuple[str, Mapping[str, Any]]


def gemini_text(
    text: str = "Hello world",
    *,
    thoughts: str | None = None,
    thought_signature: str | None = None,
    text_signature: str | None = None,
    chunks: int = 3,
    finish_reason: str | None = "STOP",
    finish_message: str | None = None,
    prompt_tokens: int = 12,
    cached_tokens: int = 0,
    model_version: str = "gemini-2.5-flash",
    event_delay: float = 0.0,
) -> GeminiScenario:
    """A text turn: thought summaries first (``thoughts``), then ``text`` in ``chunks`` pieces,
    ``finishReason`` on the last chunk (``None``: never sent, as a cut stream)."""
    if chunks < 1:
        raise ValueError("chunks must be at least 1")
    if prompt_tokens < 0 or cached_tokens < 0 or cached_tokens > prompt_tokens:
        raise ValueError("token counts must be non-negative, cached_tokens at most prompt_tokens")
    reply = GeminiReply(
        text=text,
        thoughts=thoughts,
        thought_signature=thought_signature,
        text_signature=text_signature,
        chunks=chunks,
        finish_reason=finish_reason,
        finish_message=finish_message,
        prompt_tokens=prompt_tokens,
        cached_tokens=cached_tokens,
        model_version=model_version,
    )
    return GeminiScenario(reply, event_delay=event_delay)


def gemini_tool_calls(
    calls: Sequence[CallSpec],
    *,
    text: str = "",
    thoughts: str | None = None,
    thought_signature: str | None = None,
    signature: str | None = None,
    ids: bool = False,
    partial: bool = False,
    finish_reason: str = "STOP",
    model_version: str = "gemini-2.5-flash",
) -> GeminiScenario:
    """Function calls (``(name, args)`` pairs or :class:`GeminiCall`), after optional text and
    thoughts. ``signature`` goes on the first call (Gemini signs the first call of a step);
    ``ids`` gives each call a ``functionCall.id``; ``partial`` streams the arguments as Vertex
    ``partialArgs`` fragments."""
    built: list[GeminiCall] = []
    for index, call in enumerate(calls):
        if isinstance(call, GeminiCall):
            built.append(call)
            continue
        name, args = call
        if not name or not isinstance(args, Mapping):
            raise ValueError(f"call {index}: expected (name, args mapping), got {call!r}")
        json.dumps(args)  # arguments must be JSON
        built.append(
            GeminiCall(
                name,
                dict(args),
                id=f"fc-{index}" if ids else None,
                signature=signature if index == 0 else None,
                partial=partial,
            )
        )
    if not built:
        raise ValueError("gemini_tool_calls needs at least one call")
    reply = GeminiReply(
        text=text,
        thoughts=thoughts,
        thought_signature=thought_signature,
        calls=tuple(built),
        finish_reason=finish_reason,
        model_version=model_version,
    )
    return GeminiScenario(reply)


def gemini_blocked(reason: str = "SAFETY") -> GeminiScenario:
    """The prompt is refused: one chunk with ``promptFeedback.blockReason`` and no candidate."""
    return GeminiScenario(GeminiReply(text="", block_reason=reason))


def gemini_status(
    code: int,
    *,
    status: str | None = None,
    message: str | None = None,
    reason: str | None = None,
    retry_delay: str | None = None,
    retry_after: float | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> GeminiScenario:
    """An HTTP error with a ``google.rpc.Status`` body (``RESOURCE_EXHAUSTED`` for 429, ...);
    ``retry_delay`` adds a ``RetryInfo`` detail (``"7s"``), ``retry_after`` the header."""
    if not 400 <= code <= 599:
        raise ValueError(f"an error status is 4xx or 5xx, got {code}")
    rpc = status or _STATUSES.get(code, "UNKNOWN")
    text = message or _MESSAGES.get(code, f"{rpc.replace('_', ' ').capitalize()}.")
    body = json.dumps(google_error_body(code, rpc, text, reason=reason, retry_delay=retry_delay), indent=2)
    extra = [("content-type", "application/json; charset=UTF-8"), *headers]
    if retry_after is not None:
        extra.append(("retry-after", f"{retry_after:g}"))
    return GeminiScenario(GeminiHTTPError(code, body.encode(), tuple(extra)))


def gemini_context_length_exceeded(tokens: int = 1_200_000, limit: int = 1_048_576) -> GeminiScenario:
    """Gemini's 400 for a prompt over the model's window."""
    message = f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({limit})."
    return gemini_status(400, message=message)


def gemini_error_in_stream(
    *, after_chunks: int = 1, code: int = 500, status: str | None = None, message: str | None = None
) -> GeminiScenario:
    """A ``{"error": {...}}`` chunk after ``after_chunks`` chunks of a text turn, then EOF."""
    rpc = status or _STATUSES.get(code, "INTERNAL")
    fault = GeminiFault(
        "error", after_chunks, code=code, status=rpc, message=message or _MESSAGES.get(code, rpc)
    )
    return GeminiScenario(GeminiReply(text="Hello world, this is partial", chunks=4), fault=fault)


def gemini_cut(*, after_chunks: int = 2, style: Literal["close", "reset"] = "close") -> GeminiScenario:
    """The body ends (or the connection resets) after ``after_chunks`` chunks, no ``finishReason``."""
    fault = GeminiFault("cut", after_chunks, style=style)
    return GeminiScenario(GeminiReply(text="Hello world, this is partial", chunks=4), fault=fault)


def gemini_stall(*, after_chunks: int = 1, seconds: float | None = None) -> GeminiScenario:
    """Silence after ``after_chunks`` chunks for ``seconds`` (``None``: until the client leaves)."""
    fault = GeminiFault("stall", after_chunks, seconds=seconds)
    return GeminiScenario(GeminiReply(text="Hello world, this is partial", chunks=4), fault=fault)


def gemini_raw(*frames: bytes, status: int = 200, content_type: str = "text/event-stream") -> GeminiScenario:
    """Exact bytes, each frame one write (for malformed-stream tests)."""
    return GeminiScenario(GeminiRaw(tuple(frames), status=status, headers=(("content-type", content_type),)))
