"""Sans-I/O: the library's typed errors as the proxy's HTTP errors, and secret redaction.

One mapping, used before a stream starts (an HTTP status and a spec error body
``{"error": {"message", "type", "param", "code"}}``) and after (the ``error`` event's payload),
so a failure reads the same whichever side of the first byte it happened on.

Why redaction here and not only in the library: an upstream may echo the key it was sent in
its error body (some 401 pages do), and the library passes upstream messages on. The proxy
knows every key it holds, so it scrubs them from everything it sends as a last line of defence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import (
    AllProvidersFailed,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    CircuitOpenError,
    ProtocolError,
    RejectedError,
    RequestValidationError,
    ResponseFailedError,
    StreamInterrupted,
    field_path,
)
from .._redact import MIN_SECRET_LENGTH as MIN_SECRET_LENGTH  # re-exported: proxies.upstream
from .._redact import Redactor as SharedRedactor
from ..store._base import StoreError

__all__ = ["ErrorReply", "Redactor", "describe", "error_body", "type_for_status", "upstream_unauthorized"]

_STATUS_OF_TYPE = {
    "invalid_request": 400,
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found": 404,
    "not_found_error": 404,
    "too_many_requests": 429,
    "rate_limit_exceeded": 429,
    "server_error": 500,
    "model_error": 500,
}
_PASSED_HEADERS = ("retry-after", "retry-after-ms")


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A failure as the proxy reports it: HTTP ``status`` and the spec error fields."""

    status: int
    type: str
    message: str
    code: str | None = None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return error_body(self.message, type=self.type, code=self.code, param=self.param)


def error_body(
    message: str, *, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The spec's HTTP error body."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def type_for_status(status: int) -> str:
    """The error ``type`` the proxy uses for an HTTP status it reports."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found"
    if status == 429:
        return "too_many_requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def describe(exc: BaseException, body: Any = None) -> ErrorReply:
    """What to tell the client about ``exc`` (messages are not yet redacted: see ``Redactor``).

    ``body`` is the request body as received: it turns a validation error's location into the
    JSON path of the offending field (``tools.0.name``, not pydantic's ``tools.0.function.name``).
    """
    if isinstance(exc, AllProvidersFailed):
        if len(exc.exceptions) == 1:
            return describe(exc.exceptions[0])  # a one-provider chain: its own error is the answer
        if all(isinstance(e, CircuitOpenError) for e in exc.exceptions):
            return _all_open([e for e in exc.exceptions if isinstance(e, CircuitOpenError)])
        attempts = "; ".join(f"[{getattr(e, 'provider', None) or '?'}] {_short(e)}" for e in exc.exceptions)
        return ErrorReply(502, "server_error", f"All providers failed: {attempts}.", "all_providers_failed")
    if isinstance(exc, RequestValidationError):
        return ErrorReply(400, "invalid_request_error", str(exc), "invalid_request", _param(exc, body))
    if isinstance(exc, APIStatusError):
        return _status_error(exc)
    if isinstance(exc, ResponseFailedError):
        return _failed(exc)
    if isinstance(exc, CircuitOpenError):
        headers = _retry_after(exc.reopens_in)
        return ErrorReply(503, "server_error", str(exc), "circuit_open", headers=headers)
    if isinstance(exc, RejectedError):
        return ErrorReply(503, "server_error", str(exc), "rejected")
    if isinstance(exc, APITimeoutError):
        return ErrorReply(
            504, "server_error", f"The upstream did not answer in time: {exc}", "upstream_timeout"
        )
    if isinstance(exc, StreamInterrupted):
        cause = exc.__cause__
        if isinstance(cause, APITimeoutError):
            return ErrorReply(
                504, "server_error", f"The upstream stream stalled: {cause}", "upstream_timeout"
            )
        detail = f": {type(cause).__name__}" if cause is not None else ""
        return ErrorReply(
            502, "server_error", f"The upstream stream was interrupted{detail}.", "stream_interrupted"
        )
    if isinstance(exc, ProtocolError):
        message = str(exc).splitlines()[0] if str(exc) else "malformed upstream reply"
        return ErrorReply(
            502, "server_error", f"The upstream broke the protocol: {message}", "upstream_protocol_error"
        )
    if isinstance(exc, APIConnectionError):
        return ErrorReply(502, "server_error", f"Could not reach the upstream: {exc}", "upstream_unreachable")
    if isinstance(exc, StoreError):  # the response store (previous_response_id) failed on read
        return ErrorReply(
            503, "server_error", "The proxy's response store is unavailable; try again.", "store_unavailable"
        )
    return ErrorReply(500, "server_error", "The proxy failed to handle the request.", "internal_error")


def _all_open(errors: list[CircuitOpenError]) -> ErrorReply:
    """Every provider of the chain failing fast: a 503 with the soonest reopening as Retry-After."""
    known = [e.reopens_in for e in errors if e.reopens_in is not None]
    headers = _retry_after(min(known) if known else None)
    names = ", ".join(repr(e.provider) for e in errors)
    return ErrorReply(
        503,
        "server_error",
        f"The circuit breakers of every provider are open ({names}).",
        "circuit_open",
        headers=headers,
    )


def _retry_after(reopens_in: float | None) -> dict[str, str]:
    """``Retry-After`` for a breaker that reopens in ``reopens_in`` seconds (at least 1)."""
    return {} if reopens_in is None else {"retry-after": str(max(1, round(reopens_in)))}


def _short(exc: BaseException) -> str:
    """A secret-free word or two about one failed attempt (no upstream text)."""
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, APITimeoutError):
        return f"{exc.which} timeout"
    if isinstance(exc, APIConnectionError):
        return "connection error"
    if isinstance(exc, CircuitOpenError):
        return "circuit open"
    return type(exc).__name__


def _param(exc: RequestValidationError, body: Any) -> str | None:
    """The offending field's JSON path: the most specific of the errors' (a union's other
    branches complain about the field itself; the branch that got furthest names the culprit)."""
    best: str | None = None
    for error in exc.errors:
        loc = tuple(error.get("loc") or ())
        if not loc:
            continue
        path = _json_path(loc, body) if body is not None else field_path(loc)
        if best is None or path.count(".") > best.count("."):
            best = path
    return best


def _json_path(loc: tuple[Any, ...], body: Any) -> str:
    """Follow pydantic's ``loc`` through the received JSON, skipping union tags it inserts
    (``str``, ``function``, ``list[...]``); a missing field at the end is kept."""
    path: list[str] = []
    current = body
    for position, part in enumerate(loc):
        in_dict = isinstance(current, dict) and part in current
        if in_dict or (isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)):
            current = current[part]
        elif position == len(loc) - 1 and isinstance(current, dict) and isinstance(part, str):
            pass  # a required field that is missing
        else:
            continue
        path.append(str(part))
    return ".".join(path)


def _status_error(exc: APIStatusError) -> ErrorReply:
    status = exc.status_code if 400 <= exc.status_code <= 599 else 502
    headers = {name: exc.headers[name] for name in _PASSED_HEADERS if name in exc.headers}
    if exc.request_id:
        headers["x-upstream-request-id"] = exc.request_id
    detail = exc.error
    message: str | None = getattr(detail, "message", None)
    if not message:
        body = exc.body
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            message = body["error"]  # TGI / Ollama native: {"error": "text"}
        elif isinstance(body, str) and body.strip():
            message = body.strip()[:500]
        else:
            message = f"The upstream answered HTTP {exc.status_code}."
    if _looks_like_html(message):
        message = f"The upstream answered HTTP {exc.status_code} with an HTML page."  # a gateway's error page
    code = getattr(detail, "code", None)
    if exc.status_code == 401:
        return upstream_unauthorized(message, headers)
    return ErrorReply(
        status,
        getattr(detail, "type", None) or type_for_status(status),
        message,
        None if code is None else str(code),
        getattr(detail, "param", None),
        headers,
    )


def upstream_unauthorized(detail: str, headers: Mapping[str, str] | None = None) -> ErrorReply:
    """An upstream's 401, as the proxy reports it: ``502 upstream_authentication_error``.

    Why not the upstream's 401: the proxy never sends the caller's key upstream, only its own
    (from its environment), so the upstream rejecting it is the proxy's configuration to fix,
    not the caller's key. Passed on as a 401 (with ``WWW-Authenticate``), it read as "your key
    to the proxy is wrong" and sent the caller looking in the wrong place.
    """
    return ErrorReply(
        502,
        "server_error",
        "The upstream rejected the proxy's own credentials (HTTP 401), so the proxy's upstream key "
        f"needs fixing, not yours: {detail}",
        "upstream_authentication_error",
        headers=dict(headers or {}),
    )


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype", "<html")) or "<html" in head


def _failed(exc: ResponseFailedError) -> ErrorReply:
    payload = exc.error
    if payload is not None:
        etype = payload.type or "server_error"
        code = None if payload.code is None else str(payload.code)
        message, param = payload.message, payload.param
        headers = {k: v for k, v in (payload.headers or {}).items() if k.lower() in _PASSED_HEADERS}
    else:
        failed = exc.response.error if exc.response is not None else None
        etype, code, param, headers = "server_error", failed.code if failed else None, None, {}
        message = failed.message if failed else "The upstream reported that the response failed."
    return ErrorReply(_STATUS_OF_TYPE.get(etype, 502), etype, message, code, param, headers)


class Redactor(SharedRedactor):
    """The library's redactor (:class:`openresponses._redact.Redactor`: the proxy's keys, raw
    and JSON-escaped, replaced in everything sent) plus :meth:`reply` for error replies."""

    __slots__ = ()

    def reply(self, reply: ErrorReply) -> ErrorReply:
        """``reply`` with its message and param scrubbed (known keys and credential patterns)."""
        param = self.message(reply.param) if reply.param is not None else None
        return ErrorReply(
            reply.status, reply.type, self.message(reply.message), reply.code, param, reply.headers
        )
