"""Turning an HTTP reply into a typed result, sans I/O: success bodies, error bodies, Retry-After.

The HTTP transport and the in-process scripted transport both call this, so a test over either
sees exactly the same class, message, ``retry_after`` and parsed error body.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import ValidationError

from .._decode import first_error
from .._errors import (
    APIStatusError,
    InternalServerError,
    ProtocolError,
    RateLimitError,
    ResponseFailedError,
    status_error_class,
)
from .._pipeline import Operation
from ..types import CompactResponse, ErrorBody, ErrorEvent, ErrorPayload, Response, StreamEvent

__all__ = [
    "MAX_RETRY_AFTER",
    "parse_reply_body",
    "parse_retry_after",
    "status_error_from_body",
    "translated_reply",
]

#: The longest server ``Retry-After`` hint kept on an error, in seconds (larger values are capped).
MAX_RETRY_AFTER = 600.0


def status_error_from_body(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str,
    reason: str | None = None,
) -> APIStatusError:
    """The typed error for a non-success reply: class by status, spec error body parsed if any.

    The message names the status, the provider and the server's error message and code — never
    request headers, so no credential can leak into it.
    """
    parsed: Any = None
    error = None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = body.decode("utf-8", "replace")
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        try:
            error = ErrorBody.model_validate(parsed).error
        except ValidationError:
            error = None
    fallback = reason or _phrase(status)
    if error is not None:
        detail = error.message or fallback
        if error.code:
            detail += f" (code {error.code})"
    elif isinstance(parsed, str) and parsed:
        detail = parsed[:300]
    else:
        detail = fallback
    lowered = {k.lower(): v for k, v in headers.items() if k.lower() != "set-cookie"}
    cls = status_error_class(status)
    kwargs: dict[str, Any] = dict(
        status_code=status,
        request_id=lowered.get("x-request-id"),
        body=parsed,
        error=error,
        headers=lowered,
        provider=provider,
    )
    if cls in (RateLimitError, InternalServerError):
        kwargs["retry_after"] = parse_retry_after(lowered)
    return cls(f"HTTP {status} from {provider!r}: {detail}", **kwargs)


def parse_reply_body(body: bytes, operation: Operation, provider: str) -> Response | CompactResponse:
    """A success body as the typed result of ``operation``, stamped with the provider that served it.

    Raises ``ProtocolError`` (naming the first invalid field, with the bytes) when it does not fit.
    """
    model: type[Response] | type[CompactResponse] = CompactResponse if operation == "compact" else Response
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        raise ProtocolError(f"Invalid {model.__name__} body: {first_error(exc)}", data=body) from exc
    if isinstance(parsed, Response):
        parsed._provider = provider
    return parsed


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (delta-seconds or HTTP-date).

    A server's hint never breaks the error it rides on: a value that does not parse ("soon", a
    bad or out-of-range date such as year 10000, a negative number, NaN, ``inf``) is ignored
    (``None``: the caller's own backoff applies), a date in the past means "now" (``0.0``) and a
    huge value is capped at :data:`MAX_RETRY_AFTER` seconds (``Retry`` caps it further with
    ``max_retry_after``). ``retry-after-ms`` wins when both are valid.
    """
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return min(ms / 1000.0, MAX_RETRY_AFTER)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _seconds(raw)
    if seconds is None:
        seconds = _date_delay(raw)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def _seconds(raw: str | None) -> float | None:
    """A non-negative, finite number of seconds, else ``None``."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or len(text) > 32 or not text.isascii():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _date_delay(raw: str) -> float | None:
    """Seconds until an HTTP-date (``0.0`` when it has passed), else ``None``."""
    text = raw.strip()
    if not text or len(text) > 64:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read the same way
        when = when.replace(tzinfo=datetime.UTC)
    try:
        delay = when.timestamp() - time.time()
    except (OverflowError, ValueError, OSError):
        return None
    return max(0.0, delay) if math.isfinite(delay) else None


def translated_reply(
    response: Response, events: Sequence[StreamEvent], provider: str, *, with_code: bool = True
) -> Response:
    """A translating dialect's whole-body ``response``, marked with its provider; if the
    translation ended ``failed`` (an error under HTTP 200, a context-window stop), raise
    ``ResponseFailedError`` with its ``error`` event instead of returning a failure as a success.
    ``with_code`` appends the error's code to the message."""
    response._provider = provider
    if response.status != "failed":
        return response
    event = next((e for e in events if isinstance(e, ErrorEvent)), None)
    payload: ErrorPayload | None = event.error if event is not None else None
    detail = payload.message if payload is not None else "the response failed"
    code = f" (code {payload.code})" if with_code and payload is not None and payload.code else ""
    exc = ResponseFailedError(
        f"HTTP 200 from {provider!r} reported a failure: {detail}{code}",
        event=event,
        error=payload,
        response=response,
    )
    exc.provider = provider
    raise exc
