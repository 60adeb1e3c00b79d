"""Google API error bodies -> the spec error shape, sans I/O (Gemini API and Vertex AI alike).

Both APIs answer with the ``google.rpc.Status`` JSON mapping: ``{"error": {"code": 429,
"message": "...", "status": "RESOURCE_EXHAUSTED", "details": [...]}}`` (a streamed request
without ``alt=sse`` wraps it in a one-element array; both are read). :func:`google_error`
reduces one to a :class:`~._chat_errors.ChatError` whose ``type`` and ``code`` the resilience
policies understand:

- ``RESOURCE_EXHAUSTED`` (429) -> ``too_many_requests`` / ``rate_limit_exceeded`` (retryable,
  fails over); the ``google.rpc.RetryInfo`` detail's ``retryDelay`` ("37s") becomes
  ``retry_after`` when no ``Retry-After`` header says otherwise;
- ``UNAVAILABLE`` (503), ``INTERNAL`` (500), ``DEADLINE_EXCEEDED`` (504) -> ``server_error``;
- ``INVALID_ARGUMENT`` (400) -> ``invalid_request``; a prompt over the model's window ("The
  input token count (1200000) exceeds the maximum number of tokens allowed (1048576)") gets
  ``context_length_exceeded``, the code Failover moves on from; a rejected key
  (``API_KEY_INVALID``) gets ``invalid_api_key``; a refused prompt gets ``content_filter``.

Messages are scrubbed of anything credential-shaped (a key in a URL, a bearer token).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .._redact import Redactor, scrub
from ._chat_errors import ChatError

__all__ = ["GOOGLE_STATUS_TYPES", "error_body_bytes", "google_error", "retry_delay"]

_MAX_MESSAGE = 2000

#: ``google.rpc.Code`` names -> the spec error type (what Retry and Failover read).
GOOGLE_STATUS_TYPES: Mapping[str, str] = {
    "RESOURCE_EXHAUSTED": "too_many_requests",
    "UNAVAILABLE": "server_error",
    "INTERNAL": "server_error",
    "DEADLINE_EXCEEDED": "server_error",
    "UNKNOWN": "server_error",
    "ABORTED": "server_error",
    "INVALID_ARGUMENT": "invalid_request",
    "FAILED_PRECONDITION": "invalid_request",
    "OUT_OF_RANGE": "invalid_request",
    "UNAUTHENTICATED": "invalid_request",
    "PERMISSION_DENIED": "invalid_request",
    "UNIMPLEMENTED": "invalid_request",
    "NOT_FOUND": "not_found",
    "CANCELLED": "server_error",
}

_CONTEXT = re.compile(
    r"(?i)input token count.*exceeds the maximum|exceeds the maximum number of tokens"
    r"|context (?:length|window)|too many tokens|prompt is too long"
)
_BLOCKED = re.compile(r"(?i)request blocked|blocked due to|prohibited content|safety (?:setting|filter)")
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _status_type(status: int | None) -> str:
    if status == 429:
        return "too_many_requests"
    if status == 404:
        return "not_found"
    if status is not None and 400 <= status < 500:
        return "invalid_request"
    return "server_error"


def _reasons(details: Any) -> list[str]:
    """The ``ErrorInfo.reason`` values of a status's ``details`` (``API_KEY_INVALID``, ...)."""
    if not isinstance(details, list):
        return []
    return [
        str(detail["reason"])
        for detail in details
        if isinstance(detail, dict) and isinstance(detail.get("reason"), str)
    ]


def retry_delay(error: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37s"``), else ``None``."""
    details = error.get("details") if isinstance(error, dict) else None
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            raw = detail.get("retryDelay")
            match = _DELAY.match(raw) if isinstance(raw, str) else None
            if match:
                return min(float(match.group(1)), 600.0)
    return None


def google_error(raw: Any, *, status: int | None = None) -> ChatError:
    """The spec form of a Google error: the value of a body's ``error`` key (or plain text).

    ``status`` is the HTTP status when there is one (an in-stream error chunk has only the
    ``code`` inside it).
    """
    message, rpc_status, code_value, reasons = "", "", None, []
    if isinstance(raw, dict):
        message = str(raw.get("message") or "")
        rpc_status = str(raw.get("status") or "")
        code_value = raw.get("code")
        reasons = _reasons(raw.get("details"))
    elif raw is not None:
        message = str(raw)
    http = code_value if isinstance(code_value, int) and not isinstance(code_value, bool) else status
    message = scrub(message.strip())[:_MAX_MESSAGE] or (rpc_status or "upstream error")
    err_type = GOOGLE_STATUS_TYPES.get(rpc_status) or _status_type(http)
    code: str | None
    if err_type == "invalid_request" and _CONTEXT.search(message):
        code = "context_length_exceeded"
    elif "API_KEY_INVALID" in reasons or rpc_status == "UNAUTHENTICATED":
        code = "invalid_api_key"
    elif err_type == "invalid_request" and _BLOCKED.search(message):
        code = "content_filter"
    elif err_type == "too_many_requests":
        code = "rate_limit_exceeded"
    elif err_type == "server_error":
        code = "server_error"
    else:
        code = rpc_status.lower() or None
    return ChatError(message=message, type=err_type, code=code)


def _unwrap(parsed: Any) -> Any:
    """The ``error`` value of a body: ``{"error": ...}`` or ``[{"error": ...}]`` (no ``alt=sse``)."""
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        parsed = parsed[0]
    if isinstance(parsed, dict) and "error" in parsed:
        return parsed["error"]
    return parsed


def error_body_bytes(body: bytes, status: int) -> tuple[bytes, Any, float | None]:
    """A non-2xx Google error body as a spec error body, the scrubbed original and the
    ``RetryInfo`` delay (seconds) if the body carries one."""
    text = body.decode("utf-8", "replace").strip()
    parsed: Any
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = scrub(text)[:_MAX_MESSAGE]
    raw = _unwrap(parsed)
    if raw is None:
        return b"", None, None
    error = google_error(raw, status=status)
    if isinstance(parsed, dict | list):
        parsed = Redactor().value(parsed)
    return json.dumps(error.body()).encode(), parsed, retry_delay(raw)
