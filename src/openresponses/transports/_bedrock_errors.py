"""Bedrock errors -> the typed tree, sans I/O: HTTP error bodies and in-stream exceptions.

Bedrock Runtime speaks AWS rest-json: an error reply is ``{"message": "..."}`` with the error
type in the ``x-amzn-ErrorType`` header (``ThrottlingException:http://internal.amazon.com/...``)
or in a ``__type`` field (``com.amazon.coral.service#UnrecognizedClientException``), the request
id in ``x-amzn-RequestId``. Inside a stream an exception is an event-stream message with
``:message-type exception`` and ``:exception-type throttlingException`` (lower camel case), its
payload the same ``{"message"}``. Statuses come from the service model (botocore's
``service-2.json``): validation 400, access denied 403, not found 404, model timeout 408,
model error / model stream error 424, throttling and model-not-ready 429, internal 500,
unavailable 503.

Both become spec errors with a ``type`` the retry rules read (``too_many_requests`` and
``server_error`` / ``model_error`` are retryable, ``invalid_request`` is not) and a ``code``:
``rate_limit_exceeded`` for throttling, ``context_length_exceeded`` for a prompt that does not
fit (Failover moves on to a bigger model), else the AWS type in snake case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import APIStatusError
from .._redact import Redactor, scrub
from ._reply import status_error_from_body

__all__ = ["REQUEST_ID_HEADERS", "BedrockError", "http_error", "stream_exception"]

#: The response headers carrying Bedrock's request id.
REQUEST_ID_HEADERS: tuple[str, ...] = ("x-amzn-requestid", "x-amz-request-id")

_MAX_MESSAGE = 2000
_CONTEXT = re.compile(
    r"(?i)input is too long|too many (?:input )?tokens|prompt is too long|context (?:length|window)"
    r"|maximum context|exceeds? the (?:model's )?max(?:imum)? (?:number of )?(?:input )?tokens"
)

# AWS error type (either case) -> (spec type, spec code).
_TYPES: dict[str, tuple[str, str]] = {
    "throttlingexception": ("too_many_requests", "rate_limit_exceeded"),
    "modelnotreadyexception": ("too_many_requests", "model_not_ready"),
    "servicequotaexceededexception": ("too_many_requests", "rate_limit_exceeded"),
    "internalserverexception": ("server_error", "server_error"),
    "serviceunavailableexception": ("server_error", "service_unavailable"),
    "modelstreamerrorexception": ("model_error", "model_stream_error"),
    "modelerrorexception": ("model_error", "model_error"),
    "modeltimeoutexception": ("server_error", "model_timeout"),
    "validationexception": ("invalid_request", "invalid_request"),
    "accessdeniedexception": ("invalid_request", "access_denied"),
    "resourcenotfoundexception": ("not_found", "model_not_found"),
    "unrecognizedclientexception": ("invalid_request", "invalid_api_key"),
    "invalidsignatureexception": ("invalid_request", "invalid_signature"),
    "expiredtokenexception": ("invalid_request", "expired_token"),
    "missingauthenticationtokenexception": ("invalid_request", "missing_authentication"),
}


@dataclass(frozen=True, slots=True)
class BedrockError:
    """One Bedrock error in the spec's words; ``aws_type`` is the AWS name (``ThrottlingException``)."""

    message: str
    type: str
    code: str
    aws_type: str | None = None

    def body(self) -> dict[str, Any]:
        """The spec HTTP error body ``{"error": {message, type, param, code}}``."""
        return {"error": {"message": self.message, "type": self.type, "param": None, "code": self.code}}


def _snake(name: str) -> str:
    name = name[:-9] if name.endswith("Exception") else name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() or "error"


def classify(aws_type: str | None, message: str, *, status: int | None = None) -> BedrockError:
    """The spec form of an AWS error type and message (``status`` helps when the type is unknown)."""
    clean = scrub(message.strip())[:_MAX_MESSAGE] or "Bedrock error"
    name = (aws_type or "").strip()
    known = _TYPES.get(name.lower())
    if known is not None:
        err_type, code = known
    elif status == 429:
        err_type, code = "too_many_requests", "rate_limit_exceeded"
    elif status is None or status >= 500:
        err_type, code = "server_error", _snake(name) if name else "server_error"
    else:
        err_type, code = (
            ("not_found" if status == 404 else "invalid_request"),
            _snake(name) if name else "error",
        )
    if err_type == "invalid_request" and _CONTEXT.search(clean):
        code = "context_length_exceeded"
    return BedrockError(clean, err_type, code, name or None)


def _aws_type(headers: Mapping[str, str], parsed: Any) -> str | None:
    raw = headers.get("x-amzn-errortype")
    if not raw and isinstance(parsed, dict):
        raw = parsed.get("__type") or parsed.get("code")
    if not isinstance(raw, str) or not raw:
        return None
    # "ThrottlingException:http://internal.amazon.com/coral/..." or "com.amazon.coral#Name"
    return raw.split(":", 1)[0].rsplit("#", 1)[-1] or None


def http_error(
    status: int, body: bytes, headers: Mapping[str, str], *, provider: str, reason: str | None = None
) -> APIStatusError:
    """The typed error for a non-2xx Bedrock reply; ``.body`` keeps Bedrock's own (scrubbed) body."""
    lowered = {name.lower(): value for name, value in headers.items()}
    text = body.decode("utf-8", "replace").strip()
    parsed: Any
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = scrub(text)[:_MAX_MESSAGE]
    message = ""
    if isinstance(parsed, dict):
        raw = parsed.get("message") or parsed.get("Message")
        message = raw if isinstance(raw, str) else ""
    elif isinstance(parsed, str):
        message = parsed
    error = classify(_aws_type(lowered, parsed), message or (reason or f"HTTP {status}"), status=status)
    exc = status_error_from_body(
        status, json.dumps(error.body()).encode(), lowered, provider=provider, reason=reason
    )
    if error.aws_type:
        exc.args = (f"{exc.args[0]} [{error.aws_type}]",)
    exc.request_id = next((lowered[name] for name in REQUEST_ID_HEADERS if name in lowered), None)
    exc.body = Redactor().value(parsed) if isinstance(parsed, dict | list) else parsed
    return exc


def stream_exception(exception_type: str | None, payload: bytes) -> BedrockError:
    """An in-stream ``:message-type exception`` message (``throttlingException``, ...)."""
    message = ""
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload.decode("utf-8", "replace")
    if isinstance(parsed, dict):
        raw = parsed.get("message") or parsed.get("Message")
        message = raw if isinstance(raw, str) else ""
    elif isinstance(parsed, str):
        message = parsed
    name = exception_type or ""
    # The stream names the member (throttlingException); the HTTP error the shape (Throttling...).
    error = classify(name[:1].upper() + name[1:], message or f"Bedrock stream exception {name!r}")
    return error
