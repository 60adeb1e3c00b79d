"""OpenAI Agents SDK calls to Open Responses bodies, and our replies to the SDK's types.

Sans-I/O: :mod:`openresponses.integrations.agents` sends what this builds. Tools, handoffs,
tool choice and the output schema go through the SDK's own ``Converter`` (the shapes its
OpenAI model sends), then everything through :mod:`._normalize` (messages without ``type``,
reasoning items with ``content: null``, ``strict`` never ``null``). Replies become the SDK's
``openai.types.responses`` objects by their JSON, the way the SDK parses WebSocket events.

Every ``function_call`` gets a non-empty ``call_id``: a provider that sends none (or an empty
one) gets ``call_<item id>`` (else ``call_<response id>_<output index>``), the same in the
``output_item`` events and in the final response, so the runner can match outputs to calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from agents import ItemHelpers, ModelSettings
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.models.openai_responses import Converter
from agents.retry import ModelRetryAdvice, ModelRetryNormalizedError
from agents.tool import Tool
from agents.usage import Usage
from openai import Omit
from openai.types.responses import Response as SDKResponse
from openai.types.responses import ResponseStreamEvent
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic_core import to_jsonable_python

from .._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    OpenResponsesError,
    StreamInterrupted,
)
from ._normalize import normalize_body

__all__ = ["build_body", "ensure_call_ids", "retry_advice", "sdk_event", "sdk_response", "sdk_usage"]

# Fields the SDK marks as its own bookkeeping, never meant for a server.
_SDK_ONLY = ("provider_data",)
_FAKE_ID = "__fake_id__"


def build_body(
    model: str,
    system_instructions: str | None,
    input: str | list[Any],
    settings: ModelSettings,
    tools: list[Tool],
    output_schema: AgentOutputSchemaBase | None,
    handoffs: list[Handoff[Any, Any]],
    *,
    previous_response_id: str | None = None,
    conversation_id: str | None = None,
    prompt: Any = None,
) -> dict[str, Any]:
    """The whole ``POST /responses`` body for one model call (normalised to the spec)."""
    items = to_jsonable_python(ItemHelpers.input_to_new_input_list(input), exclude_none=False)
    body: dict[str, Any] = {"model": model, "input": [_clean(item) for item in items if _keep(item)]}
    converted = Converter.convert_tools(tools, handoffs, tool_choice=settings.tool_choice)
    if converted.tools:
        body["tools"] = to_jsonable_python(list(converted.tools))
    choice = Converter.convert_tool_choice(settings.tool_choice, tools=tools, handoffs=handoffs)
    if not isinstance(choice, Omit):
        body["tool_choice"] = to_jsonable_python(choice)
    text = Converter.get_response_format(output_schema)
    text_out: dict[str, Any] = {} if isinstance(text, Omit) else dict(cast(Mapping[str, Any], text))
    if settings.verbosity is not None:
        text_out["verbosity"] = settings.verbosity
    if text_out:
        body["text"] = to_jsonable_python(text_out)
    include: set[str] = set(converted.includes)
    include.update(settings.response_include or ())
    if settings.top_logprobs is not None:
        include.add("message.output_text.logprobs")
        body["top_logprobs"] = settings.top_logprobs
    if include:
        body["include"] = sorted(include)
    simple = {
        "instructions": system_instructions,
        "previous_response_id": previous_response_id,
        "conversation": conversation_id,  # not in the spec: an extension for servers that have it
        "prompt": to_jsonable_python(prompt) if prompt is not None else None,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "frequency_penalty": settings.frequency_penalty,
        "presence_penalty": settings.presence_penalty,
        "truncation": settings.truncation,
        "max_output_tokens": settings.max_tokens,
        "store": settings.store,
        "metadata": settings.metadata,
        "reasoning": to_jsonable_python(settings.reasoning, exclude_none=True)
        if settings.reasoning
        else None,
    }
    body.update({key: value for key, value in simple.items() if value is not None})
    if settings.parallel_tool_calls is not None and "tools" in body:
        body["parallel_tool_calls"] = settings.parallel_tool_calls
    body.update(to_jsonable_python(settings.extra_args or {}))
    return normalize_body(body)


def _keep(item: Any) -> bool:
    # Another provider's reasoning (it carries provider_data) cannot be replayed here.
    return not (isinstance(item, dict) and item.get("type") == "reasoning" and item.get("provider_data"))


def _clean(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    out = {k: v for k, v in item.items() if k not in _SDK_ONLY}
    if out.get("id") == _FAKE_ID:
        del out["id"]
    return out


def ensure_call_ids(payload: dict[str, Any], *, response_id: str | None = None) -> dict[str, Any]:
    """Fill empty ``call_id``s of function calls in an event or response payload (in place)."""
    response = payload.get("response")
    if isinstance(response, dict):
        _fill_response(response)
    item = payload.get("item")
    if isinstance(item, dict):
        _fill(item, response_id, payload.get("output_index"))
    if isinstance(payload.get("output"), list):
        _fill_response(payload)
    return payload


def _fill_response(response: dict[str, Any]) -> None:
    for index, item in enumerate(response.get("output") or []):
        if isinstance(item, dict):
            _fill(item, response.get("id"), index)


def _fill(item: dict[str, Any], response_id: Any, index: Any) -> None:
    if item.get("type") == "function_call" and not item.get("call_id"):
        if item.get("id"):
            item["call_id"] = f"call_{item['id']}"[:64]
        else:
            item["call_id"] = f"call_{response_id or 'resp'}_{index if index is not None else 0}"[:64]


def _construct(type_: Any, value: dict[str, Any]) -> Any:
    try:
        from openai._models import construct_type
    except ImportError as exc:  # pragma: no cover - an openai SDK without the helper
        raise RuntimeError("this openai SDK has no openai._models.construct_type; upgrade it") from exc
    return construct_type(type_=type_, value=value)


def sdk_event(payload: dict[str, Any]) -> ResponseStreamEvent:
    """One of our events (its JSON) as the SDK's ``ResponseStreamEvent``."""
    return cast(ResponseStreamEvent, _construct(ResponseStreamEvent, ensure_call_ids(payload)))


def sdk_response(payload: dict[str, Any]) -> SDKResponse:
    """Our ``Response`` (its JSON) as the SDK's ``openai.types.responses.Response``."""
    return cast(SDKResponse, _construct(SDKResponse, ensure_call_ids(payload)))


def sdk_usage(response: SDKResponse) -> Usage:
    """The SDK's ``Usage`` for one response (one request)."""
    usage = response.usage
    if usage is None:
        return Usage(requests=1)
    # The usage was built by the openai SDK's own constructor, so its detail objects are its types.
    input_details = usage.input_tokens_details or InputTokensDetails.model_construct(
        cached_tokens=0, cache_write_tokens=0
    )
    output_details = usage.output_tokens_details or OutputTokensDetails.model_construct(reasoning_tokens=0)
    return Usage(
        requests=1,
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        total_tokens=usage.total_tokens or 0,
        input_tokens_details=input_details,
        output_tokens_details=output_details,
    )


def retry_advice(error: Exception) -> ModelRetryAdvice | None:
    """The SDK's retry advice from our error's own decision (``retryable``, ``retry_after``).

    ``None`` for an error that is not ours (the SDK's defaults apply). A stream that broke after
    events were delivered is not replay-safe; anything refused before a reply is.
    """
    if not isinstance(error, OpenResponsesError):
        return None
    retry_after = getattr(error, "retry_after", None)
    status = error.status_code if isinstance(error, APIStatusError) else None
    started = isinstance(error, StreamInterrupted)
    return ModelRetryAdvice(
        suggested=bool(error.retryable),
        retry_after=retry_after,
        replay_safety="unsafe" if started else "safe",
        reason=type(error).__name__,
        response_started=started,
        normalized=ModelRetryNormalizedError(
            status_code=status,
            request_id=getattr(error, "request_id", None),
            retry_after=retry_after,
            is_network_error=isinstance(error, APIConnectionError),
            is_timeout=isinstance(error, APITimeoutError),
        ),
    )
