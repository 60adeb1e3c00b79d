"""Test helpers for code that uses openresponses: scripted servers, transports and handlers.

Describe what the server does with a scenario (``text``, ``function_call``, ``status``,
``reset_mid_stream``, ...), then play it over real loopback HTTP (:class:`ScriptedServer`),
in-process (:class:`ScriptedTransport`), or straight to a middleware (:class:`Script`)::

    from openresponses import AsyncClient, RateLimitError
    from openresponses.testing import ScriptedServer, status, text

    async def test_answer() -> None:
        async with ScriptedServer([text("Hi", reasoning="Greet")]) as server:
            async with AsyncClient(base_url=server.base_url) as client:
                async with client.responses.stream(model="m", input="Hello") as stream:
                    final = await stream.get_final_response()
        assert final.output_text == "Hi"
        assert server.requests[0].body["input"] == "Hello"

:func:`assert_valid_stream` checks any event list against the spec's ordering rules and JSON
schema (it needs ``jsonschema``); :class:`FakeClock` makes backoff tests instant. The pytest
plugin (:mod:`openresponses.testing.pytest_plugin`, loaded automatically) gives any project a
``scripted_server`` fixture that needs no pytest-asyncio.
"""

from ._chat_server import ChatCompletionsServer
from ._clock import Clock, FakeClock, SystemClock
from ._events import assert_valid_stream, function_call_events, text_events
from ._handler import Outcome, Script, stream_of
from ._script import (
    Fault,
    Frame,
    FunctionCallOutput,
    MessageOutput,
    ReasoningOutput,
    Scenario,
    StatusReply,
    Wire,
    extension_events,
    failed,
    function_call,
    incomplete,
    json_response,
    malformed,
    mislabelled,
    refusal,
    reset_before_headers,
    reset_mid_stream,
    stall,
    status,
    text,
    tool_calls,
    truncated,
)
from ._server import ScriptedServer
from ._transport import RecordedRequest, ScriptedTransport, play, status_error

__all__ = [
    "ChatCompletionsServer",
    "Clock",
    "FakeClock",
    "Fault",
    "Frame",
    "FunctionCallOutput",
    "MessageOutput",
    "Outcome",
    "ReasoningOutput",
    "RecordedRequest",
    "Scenario",
    "Script",
    "ScriptedServer",
    "ScriptedTransport",
    "StatusReply",
    "SystemClock",
    "Wire",
    "assert_valid_stream",
    "extension_events",
    "failed",
    "function_call",
    "function_call_events",
    "incomplete",
    "json_response",
    "malformed",
    "mislabelled",
    "play",
    "refusal",
    "reset_before_headers",
    "reset_mid_stream",
    "stall",
    "status",
    "status_error",
    "stream_of",
    "text",
    "text_events",
    "tool_calls",
    "truncated",
]


def __getattr__(name: str) -> object:
    # ``HTTPStatus`` (renamed ``StatusReply``: it shadowed ``http.HTTPStatus``) still imports, with a warning.
    if name == "HTTPStatus":
        import warnings

        warnings.warn(
            "openresponses.testing.HTTPStatus is deprecated; use StatusReply",
            DeprecationWarning,
            stacklevel=2,
        )
        return StatusReply
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
