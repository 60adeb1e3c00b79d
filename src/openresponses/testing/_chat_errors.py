"""Builders for Chat Completions HTTP error replies, in each vendor's shape.

``chat_status`` (OpenAI, TGI, flat vLLM, OpenRouter, plain text or a proxy's HTML page) and the
two common 400s built on it: ``chat_context_length_exceeded`` and ``chat_content_policy``. The
shapes are described in docs/PROVIDERS.md; re-exported by ``_chat_builders``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Literal, TypeAlias

from ._chat_checks import check_choice as _choice
from ._chat_checks import check_seconds as _seconds
from ._chat_scenario import ChatHTTPError, ChatScenario

__all__ = ["StatusStyle", "chat_content_policy", "chat_context_length_exceeded", "chat_status"]

StatusStyle: TypeAlias = Literal["openai", "tgi", "vllm_flat", "openrouter", "text", "html"]

_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
                 404: "invalid_request_error", 409: "invalid_request_error", 422: "invalid_request_error",
                 429: "requests"}  # fmt: skip
_OPENAI_MESSAGES = {
    429: "Rate limit reached for requests. Please try again in 1s.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
}
_TGI_TYPES = {422: "validation", 424: "generation", 429: "overloaded", 500: "incomplete_generation"}


def chat_status(
    code: int,
    *,
    message: str | None = None,
    style: StatusStyle = "openai",
    body: Mapping[str, Any] | bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    retry_after: float | None = None,
    error_type: str | None = None,
    error_code: str | int | None = None,
    param: str | None = None,
    delay: float = 0.0,
) -> ChatScenario:
    """An HTTP error reply in a vendor's shape (``body`` replaces it entirely).

    ``openai`` ``{"error": {"message", "type", "param", "code"}}`` (also Ollama, Groq, new vLLM);
    ``tgi`` ``{"error": "...", "error_type": "validation"}``; ``vllm_flat`` ``{"object": "error",
    "message", "type", "param", "code": 400}``; ``openrouter`` ``{"error": {"code": 429,
    "message"}}`` (``chat_status(200, style="openrouter")`` is its 200-with-an-error body);
    ``text`` a plain-text body; ``html`` a proxy's HTML error page. ``retry_after`` sets
    ``Retry-After``.
    """
    if not 200 <= code <= 599:
        raise ValueError(f"status code must be 200..599, got {code}")
    _choice("style", style, StatusStyle)
    text = message or _OPENAI_MESSAGES.get(code) or f"Scripted HTTP {code}."
    content_type = "application/json"
    payload: Any
    if style == "openai":
        etype = error_type or _OPENAI_TYPES.get(
            code, "server_error" if code >= 500 else "invalid_request_error"
        )
        code_value = (
            error_code if error_code is not None else ("rate_limit_exceeded" if code == 429 else None)
        )
        payload = {"error": {"message": text, "type": etype, "param": param, "code": code_value}}
    elif style == "tgi":
        etype = error_type or _TGI_TYPES.get(code, "generation" if code >= 500 else "validation")
        payload = {"error": text, "error_type": etype}
    elif style == "vllm_flat":
        etype = error_type or ("BadRequestError" if code < 500 else "InternalServerError")
        payload = {"object": "error", "message": text, "type": etype, "param": param, "code": code}
    elif style == "openrouter":
        payload = {"error": {"code": error_code if error_code is not None else code, "message": text}}
    elif style == "text":
        payload, content_type = text, "text/plain; charset=utf-8"
    else:
        phrase = f"{code} {_phrase(code)}"
        payload = f"<html>\r\n<head><title>{phrase}</title></head>\r\n<body>\r\n<center><h1>{phrase}</h1>"
        payload += "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        content_type = "text/html"
    if body is not None:
        payload = body
    data = payload.encode() if isinstance(payload, str) else payload
    if not isinstance(data, bytes):
        data = json.dumps(data).encode()
    hdrs = {"content-type": content_type} | {k.lower(): v for k, v in (headers or {}).items()}
    if retry_after is not None:
        hdrs["retry-after"] = f"{retry_after:g}"
    return ChatScenario(reply=ChatHTTPError(code, data, tuple(hdrs.items())), delay=_seconds("delay", delay))


def chat_context_length_exceeded(*, limit: int = 128000, requested: int = 130521) -> ChatScenario:
    """OpenAI's 400 ``context_length_exceeded`` (``param: "messages"``)."""
    message = (
        f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
        f"{requested} tokens. Please reduce the length of the messages."
    )
    return chat_status(400, message=message, error_code="context_length_exceeded", param="messages")


def chat_content_policy(*, style: Literal["openai", "azure"] = "openai") -> ChatScenario:
    """A 400 content-policy rejection: OpenAI ``invalid_prompt`` or Azure ``content_filter``."""
    if style == "azure":
        message = (
            "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."
        )
        filters = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual")}
        filters["violence"] = {"filtered": True, "severity": "medium"}
        inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_result": filters}
        error = {"message": message, "type": None, "param": "prompt", "code": "content_filter", "status": 400}
        return chat_status(400, body={"error": {**error, "innererror": inner}})
    message = "Invalid prompt: your prompt was flagged as potentially violating our usage policy."
    return chat_status(400, message=message, error_code="invalid_prompt")


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"
