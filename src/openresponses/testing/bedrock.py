"""A fake AWS Bedrock Runtime upstream on loopback, speaking Converse's exact wire format.

:class:`BedrockServer` answers ``POST /model/{modelId}/converse-stream`` with
``application/vnd.amazon.eventstream`` frames (prelude and message CRCs as botocore checks them)
and ``/converse`` with the whole ``ConverseResponse``, verifies each request's SigV4 signature
by recomputing it with botocore (or a Bedrock API key as a bearer token), checks bodies as
Bedrock does and records every request with its exact bytes::

    from openresponses.testing.bedrock import TEST_CREDENTIALS, BedrockServer, bedrock_text

    async with BedrockServer([bedrock_text("Hi", reasoning="Greet")]) as upstream:
        dialect = BedrockConverseDialect(credentials=TEST_CREDENTIALS)
        ...  # Provider("bedrock", upstream.base_url, dialect=dialect, model="anthropic.claude-x")
    assert upstream.bedrock_requests[0].auth == "sigv4"

Scenarios are frozen data (:class:`BedrockScenario`): text, reasoning with signatures or
redacted content, tool calls streamed in fragments, usage with cache fields, every stop reason,
HTTP errors, in-stream exceptions, a cut, a reset, a stall, a corrupted frame. Needs botocore
(the ``bedrock`` extra) to check signatures.
"""

from __future__ import annotations

from ._bedrock_builders import (
    STOP_REASONS,
    bedrock_cut,
    bedrock_events,
    bedrock_exception,
    bedrock_stall,
    bedrock_status,
    bedrock_text,
    bedrock_tool_calls,
)
from ._bedrock_frames import corrupt, encode_message, error_frame, event_frame, exception_frame
from ._bedrock_scenario import (
    BedrockEvent,
    BedrockFault,
    BedrockHTTPError,
    BedrockScenario,
    BedrockUsage,
    converse_body,
    event,
)
from ._bedrock_server import BedrockRequest, BedrockServer, validation_problem
from ._bedrock_sigv4 import TEST_CREDENTIALS, SigV4Problem, StaticCredentials, check_sigv4

__all__ = [
    "STOP_REASONS",
    "TEST_CREDENTIALS",
    "BedrockEvent",
    "BedrockFault",
    "BedrockHTTPError",
    "BedrockRequest",
    "BedrockScenario",
    "BedrockServer",
    "BedrockUsage",
    "SigV4Problem",
    "StaticCredentials",
    "bedrock_cut",
    "bedrock_events",
    "bedrock_exception",
    "bedrock_stall",
    "bedrock_status",
    "bedrock_text",
    "bedrock_tool_calls",
    "check_sigv4",
    "converse_body",
    "corrupt",
    "encode_message",
    "error_frame",
    "event",
    "event_frame",
    "exception_frame",
    "validation_problem",
]
