"""One ``ChatOpenResponses`` call in client terms: its request fields, and its ``ChatResult``.

:func:`call_params` merges the model's fields, the converted messages and the per-call
overrides (``bind`` / ``invoke`` keywords) into the body fields and ``extra_body`` the client
checks; :func:`chat_result` wraps the final ``Response`` as LangChain's result. The message,
output and tool conversions themselves are in ``_langchain_messages``, ``_langchain_output`` and
``_langchain_tools``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ..types import Response
from ._langchain_messages import to_input
from ._langchain_output import to_message
from ._langchain_tools import to_tool, to_tool_choice
from ._normalize import normalize_body

if TYPE_CHECKING:
    from .langchain import ChatOpenResponses

__all__ = ["call_params", "chat_result"]

_ENCRYPTED = "reasoning.encrypted_content"


def call_params(
    model: ChatOpenResponses, messages: list[BaseMessage], kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(body fields, extra_body)`` for a call: model fields, then per-call overrides."""
    call = dict(kwargs)
    extra = {**(model.extra_body or {}), **(call.pop("extra_body", None) or {})}
    if "max_tokens" in call:
        call["max_output_tokens"] = call.pop("max_tokens")
    instructions, items = to_input(messages, system=model.system_message_mode)
    params: dict[str, Any] = {}
    fields = {
        "model": model.model,
        "temperature": model.temperature,
        "top_p": model.top_p,
        "max_output_tokens": model.max_output_tokens,
        "reasoning": model.reasoning,
        "store": model.store,
        "include": model.include,
    }
    params.update({key: value for key, value in fields.items() if value is not None})
    params["input"] = items
    if instructions is not None:
        params["instructions"] = instructions
    params.update(call)
    if "tools" in params:
        params["tools"] = [to_tool(tool) for tool in params["tools"] or ()]
        if params.get("tool_choice") is not None:
            params["tool_choice"] = to_tool_choice(params["tool_choice"], params["tools"])
    if params.get("store") is False and params.get("reasoning") is not None:
        # Stateless reasoning continues only if its encrypted form comes back next turn.
        include = list(params.get("include") or [])
        if _ENCRYPTED not in include:
            params["include"] = [*include, _ENCRYPTED]
    return normalize_body(params), extra


def chat_result(response: Response, attempts: int) -> ChatResult:
    """The ``ChatResult`` of a whole ``Response`` (``attempts``: the client's attempts for it)."""
    message = to_message(response, attempts=attempts)
    return ChatResult(
        generations=[ChatGeneration(message=message, generation_info={"finish_reason": _finish(message)})],
        llm_output={"model_name": response.model, "id": response.id},
    )


def _finish(message: AIMessage) -> Any:
    return message.response_metadata.get("finish_reason")
