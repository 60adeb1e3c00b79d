"""A fake Anthropic Messages upstream on loopback, speaking Anthropic's exact wire format.

:class:`AnthropicServer` plays scripted assistant turns on a real socket, as Anthropic streams
them (``event:`` + ``data:`` per event, ``ping``, cumulative usage with cache counts, every stop
reason), errors in Anthropic's envelope before the stream (429 with ``retry-after``, 529
``overloaded_error``) and inside it (``event: error`` after HTTP 200), cut and stalled streams.
It checks requests as Anthropic does (``x-api-key``, ``anthropic-version``, ``max_tokens``,
tool results after their calls, thinking signatures echoed unchanged) and records them::

    from openresponses.testing.anthropic import AnthropicServer, anthropic_text, anthropic_tool_calls

    async with AnthropicServer([
        anthropic_text("Paris.", thinking="Recall geography", cache_read_input_tokens=100),
        anthropic_tool_calls([("get_weather", {"city": "Paris"})]),
    ], api_key="sk-ant-test") as upstream:
        ...  # Provider("claude", upstream.base_url, adapter="anthropic", api_key="sk-ant-test")
    assert upstream.requests[0].headers["anthropic-version"] == "2023-06-01"

Scenarios are frozen data (:class:`AnthropicScenario`); the builders check their arguments.
"""

from __future__ import annotations

from ._anthropic_scenario import (
    STOP_REASONS,
    AnthropicFault,
    AnthropicHTTPError,
    AnthropicRaw,
    AnthropicScenario,
    anthropic_context_length_exceeded,
    anthropic_cut,
    anthropic_error_in_stream,
    anthropic_raw,
    anthropic_stall,
    anthropic_status,
    anthropic_text,
    anthropic_tool_calls,
)
from ._anthropic_server import AnthropicServer
from ._anthropic_wire import (
    AnthropicCall,
    AnthropicReply,
    render_events,
    render_message,
    sign_thinking,
    sse_event,
)

__all__ = [
    "STOP_REASONS",
    "AnthropicCall",
    "AnthropicFault",
    "AnthropicHTTPError",
    "AnthropicRaw",
    "AnthropicReply",
    "AnthropicScenario",
    "AnthropicServer",
    "anthropic_context_length_exceeded",
    "anthropic_cut",
    "anthropic_error_in_stream",
    "anthropic_raw",
    "anthropic_stall",
    "anthropic_status",
    "anthropic_text",
    "anthropic_tool_calls",
    "render_events",
    "render_message",
    "sign_thinking",
    "sse_event",
]
