"""Every OpenTelemetry name we emit, written once: GenAI semantic conventions plus our own.

Two profiles, chosen once per ``Tracing``/``Metrics`` instance from ``OTEL_SEMCONV_STABILITY_OPT_IN``
(a comma-separated list, the conventions' own transition switch):

- default: the names released in semantic-conventions **v1.41.0**, the last release that carried the
  GenAI conventions before they moved to ``open-telemetry/semantic-conventions-genai``;
- ``gen_ai_latest_experimental``: the newest development names from that repository's
  ``docs/gen-ai/client-inference.md`` (``gen_ai.client.inference.*`` metrics, token usage as
  counters, ``gen_ai.usage.cache_write.input_tokens``, ``gen_ai.request.reasoning.level``,
  ``gen_ai.request.previous_response.id``). Per the conventions, the old names are then *not* emitted.

Names that are the same in both profiles are module constants; those that differ live on
:class:`Conventions`. Names under ``openresponses.*`` are ours (attempts, resilience decisions,
stream bookkeeping); they are low-cardinality and never carry content or credentials.

This module imports nothing from OpenTelemetry, so the names can be used without the ``otel`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "DURATION_BUCKETS",
    "LATEST_EXPERIMENTAL",
    "OPT_IN_ENV",
    "TOKEN_BUCKETS",
    "V1_41",
    "Conventions",
    "capture_content_from_env",
    "conventions",
]

# -- switches ------------------------------------------------------------------------------------

OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""Comma-separated opt-ins; ``gen_ai_latest_experimental`` selects the newest GenAI names."""
OPT_IN_LATEST = "gen_ai_latest_experimental"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""``true`` (or ``span_only`` / ``span_and_event``) turns content capture on; anything else is off."""

# -- GenAI attributes, identical in both profiles ------------------------------------------------

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
# Opt-in content attributes (recorded only when content capture is on, after redaction).
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"

SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

OPERATION_CHAT = "chat"
TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"

# Finish reasons (the conventions' vocabulary, derived from the Responses status).
FINISH_STOP = "stop"
FINISH_LENGTH = "length"
FINISH_TOOL_CALLS = "tool_calls"
FINISH_CONTENT_FILTER = "content_filter"
FINISH_ERROR = "error"

# -- histogram buckets (the conventions' ExplicitBucketBoundaries) -------------------------------

DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""Operation duration, time to first chunk and time per output chunk (seconds)."""
TOKEN_BUCKETS: tuple[int, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""``gen_ai.client.token.usage`` ({token})."""

# -- ours: openresponses.* -----------------------------------------------------------------------

OR_PROVIDER = "openresponses.provider"
OR_REQUEST_ID = "openresponses.upstream.request_id"
"""The provider (our name for it) that served the call or the attempt."""
OR_ATTEMPTS = "openresponses.attempts"
OR_ATTEMPT_NUMBER = "openresponses.attempt.number"
OR_ATTEMPT_OUTCOME = "openresponses.attempt.outcome"
"""``ok``, ``error`` or ``abandoned`` (the consumer closed or dropped the stream)."""
OR_ATTEMPT_REASON = "openresponses.attempt.reason"
"""Why this attempt started: ``first``, ``retry``, ``failover``, ``hedge``, ``restart``, ``continue``."""
OR_ATTEMPT_WAIT = "openresponses.attempt.wait_s"
OR_ATTEMPT_WAIT_REASON = "openresponses.attempt.wait_reason"
"""``retry-after`` or ``backoff``."""
OR_ATTEMPT_FROM = "openresponses.attempt.failover_from"
OR_BREAKER_STATE = "openresponses.breaker.state"
OR_RETRIES = "openresponses.retries"
OR_FAILOVERS = "openresponses.failovers"
OR_CACHE_HIT = "openresponses.cache.hit"
OR_CACHE_SIMILARITY = "openresponses.cache.similarity"
OR_STREAM_EVENTS = "openresponses.stream.events"
OR_STREAM_DELTAS = "openresponses.stream.deltas"
OR_STREAM_ABANDONED = "openresponses.stream.abandoned"
OR_STREAM_ITEMS = "openresponses.stream.items"
OR_STREAM_LAST_EVENT = "openresponses.stream.last_event"
OR_RESPONSE_STATUS = "openresponses.response.status"
OR_INCOMPLETE_REASON = "openresponses.response.incomplete_reason"
OR_ITEM_TYPE = "openresponses.item.type"
OR_ITEM_ID = "openresponses.item.id"
OR_ITEM_STATUS = "openresponses.item.status"
OR_ITEM_OUTPUT_INDEX = "openresponses.item.output_index"
OR_ITEM_DELTAS = "openresponses.item.deltas"
OR_ITEM_DELTA_BYTES = "openresponses.item.delta_bytes"
OR_ITEM_CONTENT = "openresponses.item.content"
OR_ITEM_ENDED_BY = "openresponses.item.ended_by"
"""Set when an item span ends without its ``output_item.done``: ``abandoned`` or ``error``."""
OR_DELTAS_SAMPLED = "openresponses.deltas.sampled"
OR_DELTAS_RECORDED = "openresponses.deltas.recorded"
OR_DELTA_INDEX = "openresponses.delta.index"
OR_DELTA_BYTES = "openresponses.delta.bytes"
OR_DELTA_REPRESENTS = "openresponses.delta.represents"
"""How many deltas one recorded delta event stands for (1 until sampling starts)."""
OR_DELTA_TEXT = "openresponses.delta.text"
OR_SEQUENCE_NUMBER = "openresponses.event.sequence_number"
OR_ERROR_CODE = "openresponses.error.code"

# Span event names.
EVENT_FIRST_CHUNK = "gen_ai.first_chunk"
EVENT_DELTA = "delta"

# Metric instruments of ours (counters).
METRIC_RETRIES = "openresponses.client.retries"
METRIC_FAILOVERS = "openresponses.client.failovers"
METRIC_BREAKER_TRANSITIONS = "openresponses.client.breaker.transitions"
METRIC_BREAKER_REJECTIONS = "openresponses.client.breaker.rejections"
METRIC_CACHE_HITS = "openresponses.client.cache.hits"
METRIC_CACHE_MISSES = "openresponses.client.cache.misses"
METRIC_ATTEMPTS = "openresponses.client.attempts"
METRIC_WEBSOCKET_TURNS = "openresponses.client.websocket.turns"
METRIC_WEBSOCKET_RECONNECTS = "openresponses.client.websocket.reconnects"


@dataclass(frozen=True, slots=True)
class Conventions:
    """The names that differ between the released and the latest experimental GenAI conventions."""

    name: str
    """``v1.41.0`` or ``latest_experimental``: recorded nowhere, for humans and tests."""
    metric_duration: str
    metric_time_to_first_chunk: str
    metric_time_per_output_chunk: str
    metric_token_usage: str | None
    """The ``gen_ai.client.token.usage`` histogram (v1.41), or ``None`` when tokens are counters."""
    metric_input_tokens: str | None
    """Counters of the latest conventions (``None`` in v1.41)."""
    metric_output_tokens: str | None
    metric_cache_read_tokens: str | None
    metric_reasoning_tokens: str | None
    request_reasoning_level: str | None
    request_previous_response_id: str | None


V1_41 = Conventions(
    name="v1.41.0",
    metric_duration="gen_ai.client.operation.duration",
    metric_time_to_first_chunk="gen_ai.client.operation.time_to_first_chunk",
    metric_time_per_output_chunk="gen_ai.client.operation.time_per_output_chunk",
    metric_token_usage="gen_ai.client.token.usage",
    metric_input_tokens=None,
    metric_output_tokens=None,
    metric_cache_read_tokens=None,
    metric_reasoning_tokens=None,
    request_reasoning_level=None,
    request_previous_response_id=None,
)

LATEST_EXPERIMENTAL = Conventions(
    name="latest_experimental",
    metric_duration="gen_ai.client.inference.duration",
    metric_time_to_first_chunk="gen_ai.client.inference.time_to_first_chunk",
    metric_time_per_output_chunk="gen_ai.client.inference.time_per_output_chunk",
    metric_token_usage=None,
    metric_input_tokens="gen_ai.client.inference.usage.input_tokens",
    metric_output_tokens="gen_ai.client.inference.usage.output_tokens",
    metric_cache_read_tokens="gen_ai.client.inference.usage.cache_read.input_tokens",
    metric_reasoning_tokens="gen_ai.client.inference.usage.reasoning.output_tokens",
    request_reasoning_level="gen_ai.request.reasoning.level",
    request_previous_response_id="gen_ai.request.previous_response.id",
)


def conventions(environ: Mapping[str, str] | None = None) -> Conventions:
    """The profile selected by ``OTEL_SEMCONV_STABILITY_OPT_IN`` (v1.41 unless opted in)."""
    env = os.environ if environ is None else environ
    values = {part.strip().lower() for part in env.get(OPT_IN_ENV, "").split(",")}
    return LATEST_EXPERIMENTAL if OPT_IN_LATEST in values else V1_41


def capture_content_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for content capture."""
    env = os.environ if environ is None else environ
    value = env.get(CAPTURE_CONTENT_ENV, "").strip().lower()
    return value in {"true", "1", "yes", "on", "span_only", "span_and_event"}
