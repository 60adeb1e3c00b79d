"""Presets of the served proxy: one per upstream family, with its port, URL, key and wire quirks.

A preset is data, not code: where the upstream listens, which environment variable holds its
key, which API the proxy speaks to it (``responses``: native passthrough; ``chat-completions``:
translated by :class:`~openresponses.transports.chat_completions.ChatCompletionsDialect`) and the
dialect options that upstream needs. The values come from docs/PROVIDERS.md (each one is a wire
quirk with a source there); the table in docs/proxy.md is checked against ``PRESETS`` by a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .._errors import ConfigError
from .._provider import Adapter

__all__ = ["PRESETS", "Api", "Preset", "get_preset"]

Api = Literal["responses", "chat-completions", "anthropic", "gemini", "vertex", "bedrock-converse"]
"""The API the proxy speaks to the upstream (``responses``: passthrough; the others: translated)."""

API_ADAPTERS: Mapping[str, Adapter] = MappingProxyType(
    {
        "responses": "open-responses",
        "chat-completions": "chat-completions",
        "anthropic": "anthropic",
        "gemini": "gemini",
        "vertex": "vertex",
        "bedrock-converse": "bedrock-converse",
    }
)
"""``Api`` -> the ``Provider(adapter=...)`` that speaks it."""


@dataclass(frozen=True, slots=True)
class Preset:
    """One upstream family the proxy knows how to serve.

    ``port`` is where the proxy listens by default; ``base_url`` the upstream (including
    ``/v1``); ``api_key_env`` the variable holding the upstream key, read from the proxy's own
    environment (``key_required``: refuse to start without it); ``api`` the default API and
    ``native_responses`` the upstream versions whose ``/v1/responses`` is good enough for
    ``--api responses`` (``None``: none). ``model`` is forced on every request (TGI ignores it,
    but requires one). ``dialect_options`` configure the Chat-Completions translation;
    ``stateful`` says the native Responses endpoint keeps ``previous_response_id`` itself, so the
    proxy's own store is not needed there.
    """

    name: str
    port: int
    base_url: str
    api: Api
    api_key_env: str | None = None
    key_required: bool = False
    model: str | None = None
    native_responses: str | None = None
    stateful: bool = False
    dialect_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    description: str = ""

    def __post_init__(self) -> None:
        # Frozen all the way down: a preset is shared by every app built from it.
        object.__setattr__(self, "dialect_options", MappingProxyType(dict(self.dialect_options)))

    def adapter(self, api: Api | None = None) -> Adapter:
        """The ``Provider(adapter=...)`` for ``api`` (default: the preset's own)."""
        return API_ADAPTERS[api or self.api]


# Token-limit names differ and must never be sent twice (PROVIDERS.md trap 16): OpenAI reasoning
# models reject ``max_tokens``, Ollama silently ignores ``max_completion_tokens``.
PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        p.name: p
        for p in (
            Preset(
                "openrouter",
                8001,
                "https://openrouter.ai/api/v1",
                "responses",
                api_key_env="OPENROUTER_API_KEY",
                key_required=True,
                native_responses="yes (OpenResponses format)",
                dialect_options={
                    "require_done": True,  # a stream ends with data: [DONE]; without it, it was cut (trap 10)
                    "reasoning_field": "auto",  # reasoning and reasoning_details: one is read, not both
                    # Claude and Gemini models behind it need their reasoning_details (signatures)
                    # sent back unchanged across tool turns (trap 4).
                    "send_reasoning": "reasoning_details",
                    "think_tags": False,
                    "max_tokens_field": "max_tokens",
                    "stream_usage": False,  # usage is always on the last chunk; the option is a no-op
                },
                description="OpenRouter (native Responses API)",
            ),
            Preset(
                "openai",
                8002,
                "https://api.openai.com/v1",
                "responses",
                api_key_env="OPENAI_API_KEY",
                key_required=True,
                native_responses="yes (the reference)",
                stateful=True,
                dialect_options={
                    "require_done": True,
                    "think_tags": False,
                    "max_tokens_field": "max_completion_tokens",  # reasoning models reject max_tokens
                    "stream_usage": True,
                },
                description="OpenAI (native Responses API)",
            ),
            Preset(
                "ollama",
                8003,
                "http://localhost:11434/v1",
                "chat-completions",
                native_responses="Ollama >= 0.13.3 (stateless)",
                dialect_options={
                    "require_done": True,
                    "reasoning_field": "reasoning",
                    "send_reasoning": "reasoning",  # assistant input messages accept `reasoning`
                    "max_tokens_field": "max_tokens",  # max_completion_tokens is silently ignored
                    "stream_usage": True,
                    # Ollama ignores both (trap 17): tool_choice is sent only where it can be
                    # honoured without it; parallel_tool_calls is listed as dropped.
                    "tool_choice_ignored": True,
                    "drop_unsupported": frozenset({"parallel_tool_calls"}),
                },
                description="Ollama's OpenAI-compatible /v1",
            ),
            Preset(
                "lmstudio",
                8004,
                "http://localhost:1234/v1",
                "chat-completions",
                native_responses="LM Studio >= 0.3.29 (stateful)",
                stateful=True,
                dialect_options={
                    # gpt-oss sends `reasoning`, R1-style models `reasoning_content` or <think> tags.
                    "reasoning_field": "auto",
                    "think_tags": True,
                    "max_tokens_field": "max_tokens",
                    "stream_usage": True,  # since 0.3.18
                },
                description="LM Studio",
            ),
            Preset(
                "huggingface",
                8005,
                "http://localhost:8080/v1",
                "chat-completions",
                api_key_env="HF_TOKEN",
                model="tgi",
                dialect_options={
                    "require_done": True,
                    "think_tags": True,  # no reasoning parser: <think> stays in content
                    "max_tokens_field": "max_tokens",
                    "stream_usage": True,
                    # TGI ignores reasoning_effort: listed as dropped rather than sent for nothing.
                    "reasoning_effort": False,
                    "drop_unsupported": frozenset({"reasoning.effort", "parallel_tool_calls"}),  # ignored
                    "json_schema_style": "tgi",  # response_format.value: OpenAI's json_schema key is rejected
                    "tools_or_format": True,  # TGI refuses tools and response_format together (trap 18)
                },
                description="Hugging Face Text Generation Inference (TGI) Messages API",
            ),
            Preset(
                "vllm",
                8006,
                "http://localhost:8000/v1",
                "chat-completions",
                native_responses="vLLM (own event names, re-sequenced)",
                dialect_options={
                    "require_done": True,
                    "reasoning_field": "auto",  # `reasoning` now, `reasoning_content` before Jan 2026
                    "send_reasoning": "reasoning",
                    "max_tokens_field": "max_tokens",
                    "stream_usage": True,
                },
                description="vLLM's OpenAI-compatible server",
            ),
            Preset(
                "llamacpp",
                8007,
                "http://localhost:8080/v1",
                "chat-completions",
                native_responses="llama.cpp (thin wrapper: no previous_response_id, re-sequenced)",
                dialect_options={
                    "require_done": True,
                    "reasoning_field": "auto",  # reasoning_content with --reasoning-format auto/deepseek
                    "think_tags": True,  # --reasoning-format none leaves <think> in content
                    "max_tokens_field": "max_tokens",
                    "stream_usage": True,
                },
                description="llama.cpp llama-server",
            ),
            Preset(
                "anthropic",
                8008,
                "https://api.anthropic.com/v1",
                "anthropic",
                api_key_env="ANTHROPIC_API_KEY",
                key_required=True,
                # Anthropic requires max_tokens: this is sent when a request has no max_output_tokens.
                dialect_options={"max_tokens": 8192},
                description="Anthropic Messages API (x-api-key, anthropic-version; docs/anthropic.md)",
            ),
            Preset(
                "gemini",
                8009,
                "https://generativelanguage.googleapis.com/v1beta",
                "gemini",
                api_key_env="GEMINI_API_KEY",
                key_required=True,
                description="Google Gemini API (AI Studio key, x-goog-api-key; docs/gemini.md)",
            ),
            Preset(
                "vertex",
                8010,
                # The global endpoint; a regional GOOGLE_CLOUD_LOCATION needs --base-url
                # https://{location}-aiplatform.googleapis.com/v1 (docs/gemini.md).
                "https://aiplatform.googleapis.com/v1",
                "vertex",
                description="Gemini on Vertex AI (OAuth: Application Default Credentials; "
                "GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION; docs/gemini.md)",
            ),
            Preset(
                "bedrock",
                8011,
                # Bedrock's own Responses API (passthrough); another region needs --base-url
                # https://bedrock-runtime.{region}.amazonaws.com/openai/v1 (docs/bedrock.md).
                "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1",
                "responses",
                api_key_env="AWS_BEARER_TOKEN_BEDROCK",
                key_required=True,
                native_responses="yes (bedrock-runtime /openai/v1: synchronous, no server-side tools)",
                stateful=True,
                description="AWS Bedrock's Responses API (a Bedrock API key; docs/bedrock.md)",
            ),
            Preset(
                "bedrock-converse",
                8012,
                # The dialect's endpoint (AWS_REGION, else this one) is used; SigV4 signs for the
                # region the host names (docs/bedrock.md).
                "https://bedrock-runtime.us-east-1.amazonaws.com",
                "bedrock-converse",
                api_key_env="AWS_BEARER_TOKEN_BEDROCK",  # used when set, else SigV4 (AWS credential chain)
                description="AWS Bedrock Converse API (SigV4 or a Bedrock API key; docs/bedrock.md)",
            ),
            Preset(
                "deepseek",
                8013,
                "https://api.deepseek.com/v1",
                "chat-completions",
                api_key_env="DEEPSEEK_API_KEY",
                key_required=True,
                dialect_options={
                    "reasoning_field": "reasoning_content",
                    "think_tags": False,  # reasoning comes apart from content, never in tags
                    # V4 thinking mode: a tool-calling turn's reasoning_content must be sent back
                    # in every later request, or a 400 (PROVIDERS.md section 8, trap 4).
                    "send_reasoning": "reasoning_content",
                    "max_tokens_field": "max_tokens",
                    "stream_usage": True,
                    # Thinking mode (the default) silently ignores these (trap 17): listed as
                    # dropped rather than sent for nothing.
                    "drop_unsupported": frozenset(
                        {"temperature", "top_p", "presence_penalty", "frequency_penalty"}
                    ),
                },
                description="DeepSeek API (V4 models, thinking mode)",
            ),
        )
    }
)
"""Every preset by name: ``openresponses proxy --preset NAME``."""


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a ``ConfigError`` listing the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(PRESETS)
        raise ConfigError(f"unknown preset {name!r} (known: {known})", key="--preset") from None
