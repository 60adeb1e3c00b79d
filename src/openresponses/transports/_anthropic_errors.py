"""Anthropic error bodies and error events -> the spec error shape, sans I/O.

Anthropic answers every failure with one envelope, over HTTP and inside a stream (``event:
error`` after a 200)::

    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
     "request_id": "req_011CS..."}

:func:`anthropic_error` maps the error ``type`` (and, for ``invalid_request_error``, the
message) onto a spec ``(type, code)`` the resilience policies read: ``overloaded_error`` (HTTP
529) and ``api_error`` are server faults (retried, failed over), ``rate_limit_error`` is
``too_many_requests``, "prompt is too long" is ``context_length_exceeded`` (Failover moves on to
a provider with a larger window) and the rest are the caller's. Messages are scrubbed of
anything credential-shaped; the transport also replaces the exact key it sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .._redact import Redactor, scrub

__all__ = ["AnthropicError", "anthropic_error", "error_body_bytes", "parse_error_payload"]

_MAX_MESSAGE = 2000

# "prompt is too long: 208310 tokens > 200000 maximum", "input length and `max_tokens` exceed
# context limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again".
_CONTEXT = re.compile(
    r"(?i)prompt is too long|exceed(?:s|ed)? (?:the )?context (?:limit|window)|context window|"
    r"too many (?:input )?tokens"
)

# Anthropic error type -> (spec type, spec code). The code keeps Anthropic's own name where no
# spec code says more, so ``exc.code`` still tells an overload from a plain server error.
_TYPES: dict[str, tuple[str, str]] = {
    "invalid_request_error": ("invalid_request", "invalid_request_error"),
    "authentication_error": ("invalid_request", "authentication_error"),
    "permission_error": ("invalid_request", "permission_error"),
    "billing_error": ("invalid_request", "billing_error"),
    "not_found_error": ("not_found", "not_found_error"),
    "request_too_large": ("invalid_request", "request_too_large"),
    "rate_limit_error": ("too_many_requests", "rate_limit_exceeded"),
    "api_error": ("server_error", "server_error"),
    "timeout_error": ("server_error", "timeout_error"),
    "overloaded_error": ("server_error", "overloaded_error"),
}
_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass(frozen=True, slots=True)
class AnthropicError:
    """One Anthropic error in the spec's words, with Anthropic's own type and request id."""

    message: str
    type: str
    code: str
    anthropic_type: str
    request_id: str | None = None

    def body(self) -> dict[str, Any]:
        """The spec HTTP error body ``{"error": {message, type, param, code}}``."""
        return {"error": {"message": self.message, "type": self.type, "param": None, "code": self.code}}


def anthropic_error(raw: Any, *, status: int | None = None, request_id: str | None = None) -> AnthropicError:
    """The spec form of the ``error`` object of an Anthropic envelope (or of anything else a
    proxy in front of Anthropic answered: a string, ``None``). ``status`` is the HTTP status,
    ``None`` inside a stream."""
    message = ""
    kind: str | None = None
    if isinstance(raw, dict):
        value = raw.get("message")
        message = value if isinstance(value, str) else ""
        value = raw.get("type")
        kind = value if isinstance(value, str) and value else None
    elif isinstance(raw, str):
        message = raw
    if kind is None:
        kind = _BY_STATUS.get(status or 0) or ("api_error" if status is None or status >= 500 else None)
        kind = kind or "invalid_request_error"
    message = scrub(message.strip())[:_MAX_MESSAGE] or kind.replace("_", " ")
    spec_type, code = _TYPES.get(
        kind, ("server_error" if (status or 500) >= 500 else "invalid_request", kind)
    )
    if kind in ("invalid_request_error", "request_too_large") and _CONTEXT.search(message):
        spec_type, code = "invalid_request", "context_length_exceeded"
    return AnthropicError(message, spec_type, scrub(code)[:64], kind, request_id)


def parse_error_payload(data: Any) -> tuple[Any, str | None]:
    """The ``error`` object and ``request_id`` of a parsed envelope (``(data, None)`` otherwise)."""
    if isinstance(data, dict) and "error" in data:
        request_id = data.get("request_id")
        return data["error"], request_id if isinstance(request_id, str) else None
    return data, None


def error_body_bytes(body: bytes, status: int) -> tuple[bytes, Any, AnthropicError | None]:
    """A non-2xx Anthropic body as a spec error body, the scrubbed original and the mapped error.

    An empty body gives ``(b"", None, None)``: the status alone then decides.
    """
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return b"", None, None
    parsed: Any
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = scrub(text)[:_MAX_MESSAGE]  # an HTML page from a gateway in front of Anthropic
    raw, request_id = parse_error_payload(parsed)
    error = anthropic_error(raw, status=status, request_id=request_id)
    if isinstance(parsed, dict | list):
        parsed = Redactor().value(parsed)
    return json.dumps(error.body()).encode(), parsed, error
