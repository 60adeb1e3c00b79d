"""A fake Chat Completions upstream on loopback, speaking the vendors' exact wire formats.

The Chat Completions adapter and the served proxy talk to OpenAI, OpenRouter, Ollama, vLLM, TGI,
DeepSeek, Groq, Together, LM Studio and llama.cpp, and each puts something different on the wire
(docs/PROVIDERS.md). :class:`ChatCompletionsServer` plays those quirks, scripted per request, on a
real socket::

    from openresponses.testing.chat import ChatCompletionsServer, chat_text, chat_tool_calls

    async with ChatCompletionsServer([
        chat_text("Hi", reasoning="Greet", reasoning_field="think_tags", chunks=[4, 3]),  # "<thi" "nk>"
        chat_tool_calls([("get_weather", '{"city":"Paris"}')], style="tgi"),
    ]) as upstream:
        ...  # point the adapter at upstream.base_url
    assert upstream.requests[0].body["stream"] is True

Scenarios are frozen data (:class:`ChatScenario`); the builders below make them and check their
arguments before anything is sent.
"""

from __future__ import annotations

from ._chat_builders import (
    CallSpec,
    StatusStyle,
    chat_content_policy,
    chat_context_length_exceeded,
    chat_cut,
    chat_delay,
    chat_error_in_stream,
    chat_malformed,
    chat_raw,
    chat_refusal,
    chat_stall,
    chat_status,
    chat_text,
    chat_tool_calls,
)
from ._chat_scenario import ChatHTTPError, ChatRaw, ChatScenario
from ._chat_server import ChatCompletionsServer
from ._chat_wire import (
    ChatCall,
    ChatFault,
    ChatReply,
    ErrorStyle,
    ReasoningField,
    ToolStyle,
    UsageDetails,
    UsageStyle,
)

__all__ = [
    "CallSpec",
    "ChatCall",
    "ChatCompletionsServer",
    "ChatFault",
    "ChatHTTPError",
    "ChatRaw",
    "ChatReply",
    "ChatScenario",
    "ErrorStyle",
    "ReasoningField",
    "StatusStyle",
    "ToolStyle",
    "UsageDetails",
    "UsageStyle",
    "chat_content_policy",
    "chat_context_length_exceeded",
    "chat_cut",
    "chat_delay",
    "chat_error_in_stream",
    "chat_malformed",
    "chat_raw",
    "chat_refusal",
    "chat_stall",
    "chat_status",
    "chat_text",
    "chat_tool_calls",
]
