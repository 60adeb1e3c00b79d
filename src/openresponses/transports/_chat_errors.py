"""Chat Completions error shapes -> the spec error shape, sans I/O.

Chat servers disagree on how an error looks (PROVIDERS.md traps 11 and 12):

- OpenAI, vLLM, Groq, LM Studio, Ollama ``/v1``: ``{"error": {"message", "type", "param", "code"}}``;
- OpenRouter: ``{"error": {"code": 502, "message", "metadata"}}`` (a number, or a string);
- TGI: ``{"error": "<string>", "error_type": "validation|generation|overloaded|..."}`` and,
  mid-stream, ``{"error": {"message", "http_status_code"}}``;
- old vLLM: a flat ``{"object": "error", "message", "type", "code"}``;
- Ollama native and proxies: ``{"error": "<string>"}`` or plain text.

:func:`normalize_error` reduces every one of them to ``(message, type, code, param)`` with a
spec ``code`` the resilience policies understand: ``context_length_exceeded`` (Failover moves
on to a bigger model), ``content_filter`` (surfaced at once), ``rate_limit_exceeded`` and
``server_error`` (retryable). Messages are scrubbed of anything that looks like a credential
(:func:`openresponses._redact.scrub`), because some servers echo the key they rejected; the
transport then also replaces the exact key it sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .._redact import Redactor, scrub

__all__ = ["ChatError", "error_body_bytes", "normalize_error", "scrub"]

_MAX_MESSAGE = 2000

_CONTEXT = re.compile(
    r"(?i)context[ _-]?(?:length|window|size)|maximum context|too many tokens|prompt is too long"
    r"|input (?:is )?too long|reduce the length|max_new_tokens`? must be <="
)
_CONTENT = re.compile(r"(?i)content[ _-]?(?:policy|filter|management)|flagged|moderation|safety system")

_SPEC_TYPES = frozenset({"server_error", "invalid_request", "not_found", "model_error", "too_many_requests"})
# Words in a provider's error type -> the spec type (first match wins; TGI's error_type included).
_TYPE_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("rate", "too_many", "overloaded", "quota"), "too_many_requests"),
    (("not_found", "notfound"), "not_found"),
    (("model_error",), "model_error"),
    (
        ("invalid", "bad_request", "badrequest", "validation", "auth", "permission", "unprocessable"),
        "invalid_request",
    ),
    (("server", "internal", "api_error", "generation", "timeout", "unavailable"), "server_error"),
)


@dataclass(frozen=True, slots=True)
class ChatError:
    """One upstream error in the spec's words."""

    message: str
    type: str
    code: str | None
    param: str | None = None

    def body(self) -> dict[str, Any]:
        """The spec HTTP error body ``{"error": {message, type, param, code}}``."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _status_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) == 3:
        return int(value)
    return None


def _type_by_status(status: int | None) -> str | None:
    if status is None:
        return None
    if status == 429 or status == 498:  # 498: Groq's flex tier at capacity
        return "too_many_requests"
    if status == 404:
        return "not_found"
    if status >= 500:
        return "server_error"
    if 400 <= status < 500:
        return "invalid_request"
    return None


def _type_by_name(raw_type: str | None) -> str | None:
    """A provider's own error type (``invalid_request_error``, ``InternalServerError``, TGI's
    ``overloaded``, ...) as one of the spec's types, by what its name says."""
    if not raw_type:
        return None
    name = raw_type.lower().replace("-", "_")
    if name in _SPEC_TYPES:
        return name
    for words, spec_type in _TYPE_WORDS:
        if any(word in name for word in words):
            return spec_type
    return None


def normalize_error(raw: Any, *, status: int | None = None) -> ChatError:
    """The spec form of an upstream error: the value of a body's ``error`` key (an object or a
    string), a flat ``{"object": "error", ...}`` body, or plain text. ``status`` is the HTTP
    status, when there is one (mid-stream errors have none).

    ``type`` is always one of the spec's (``server_error``, ``invalid_request``, ``not_found``,
    ``model_error``, ``too_many_requests``): retry decisions read it. ``code`` is the upstream's
    string code when it has one, else derived: ``context_length_exceeded`` and
    ``content_filter`` from the message, ``rate_limit_exceeded`` for 429 and ``server_error``
    for server faults (numeric codes are statuses: OpenRouter and vLLM put them there).
    """
    message = ""
    raw_type: str | None = None
    raw_code: Any = None
    param: str | None = None
    if isinstance(raw, dict):
        message = _text(raw.get("message")) or _text(raw.get("error")) or _text(raw.get("detail"))
        raw_type = _text(raw.get("type")) or _text(raw.get("error_type")) or None
        raw_code = raw.get("code")
        param = _text(raw.get("param")) or None
        status = status or _status_code(raw.get("http_status_code")) or _status_code(raw.get("status"))
    elif raw is not None:
        message = _text(raw)
    message = scrub(message.strip())[:_MAX_MESSAGE] or "upstream error"

    code_status = _status_code(raw_code)
    code = scrub(raw_code)[:64] if isinstance(raw_code, str) and raw_code and code_status is None else None
    if code is None and (_CONTEXT.search(message) or raw_type == "context_length_exceeded"):
        code = "context_length_exceeded"
    elif code is None and _CONTENT.search(message):
        code = "content_filter"
    if code in ("context_length_exceeded", "content_filter"):
        err_type = "invalid_request"
    else:
        # A mid-stream error that says nothing about whose fault it is: the server's.
        err_type = (
            _type_by_status(code_status)
            or _type_by_name(raw_type)
            or _type_by_status(status)
            or "server_error"
        )
    if code is None:
        code = {"too_many_requests": "rate_limit_exceeded", "server_error": "server_error"}.get(err_type)
    return ChatError(message=message, type=err_type, code=code, param=param)


def error_body_bytes(body: bytes, status: int) -> tuple[bytes, Any]:
    """A non-2xx chat error body rewritten as a spec error body, and the parsed original.

    The original comes back scrubbed of credentials so it can be kept on the error as ``body``.
    """
    text = body.decode("utf-8", "replace").strip()
    parsed: Any
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = scrub(text)[:_MAX_MESSAGE]
    if isinstance(parsed, dict) and "error" in parsed:
        raw: Any = parsed["error"]
        if isinstance(raw, str):  # TGI: the type sits beside the string
            raw = {"message": raw, "error_type": parsed.get("error_type")}
    elif isinstance(parsed, dict):
        raw = parsed  # old vLLM: {"object": "error", "message", ...}; or a FastAPI {"detail"}
    else:
        raw = parsed
    if raw is None:
        return b"", None
    error = normalize_error(raw, status=status)
    if isinstance(parsed, dict | list):
        parsed = Redactor().value(parsed)  # every string, and credential-named keys, scrubbed
    return json.dumps(error.body()).encode(), parsed


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _text(value.get("message"))
    return str(value)
