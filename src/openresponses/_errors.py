"""The exception hierarchy.

Every error the library raises derives from :class:`OpenResponsesError`::

    OpenResponsesError
    ├── APIConnectionError        no reply; the transport's own error is ``__cause__``
    │   └── APITimeoutError       also ``builtins.TimeoutError``; ``.which`` says which limit fired
    ├── APIStatusError            non-2xx reply: ``status_code``, ``request_id``, parsed ``body``
    │   ├── BadRequestError 400 · AuthenticationError 401 · PermissionDeniedError 403
    │   ├── NotFoundError 404 · ConflictError 409 · UnprocessableEntityError 422
    │   ├── RateLimitError 429    ``.retry_after``
    │   └── InternalServerError 5xx
    ├── RequestValidationError    the call's parameters do not fit the spec (also ``ValueError``)
    │   └── UnknownParameterError a misspelled keyword, with the closest name (also ``TypeError``)
    ├── ConfigError               a configuration file or option is invalid (also ``ValueError``)
    ├── ClientClosedError         the client was closed (also ``RuntimeError``)
    ├── ProtocolError             malformed stream: offending bytes (truncated) + partial response
    ├── StreamError               the stream started, then went wrong
    │   ├── ResponseFailedError   an ``error`` event or ``response.failed``: spec error + partial response
    │   └── StreamInterrupted     broke after events were delivered: partial response
    ├── RejectedError             refused locally, upstream never called
    │   ├── CircuitOpenError      ``.provider``, ``.reopens_in``
    │   └── RetryBudgetExhausted
    └── AllProvidersFailed        also an ``ExceptionGroup``: one entry per attempt, in order

The one exception outside the tree is ``MissingExtraError``, an ``ImportError`` naming the extra
to install when an optional dependency is missing.

Whether an error is worth retrying is decided once, where it is born (``retryable``); retry,
failover and circuit breaking read that flag. Middleware re-raise the original error with
``add_note()`` rather than wrapping it, so ``except RateLimitError`` works whatever the stack order.
No message or repr ever contains a secret: messages are built from status, error body and URL
path only, never from request headers, and the transports pass every error they build (message,
notes, ``body``/``data``/``error`` fields and the ``__cause__``/``__context__`` chain) through
:class:`openresponses._redact.Redactor`, so a server that echoes the key does not leak it. A
misconfiguration (a ``base_url`` without a scheme, a malformed URL, a key with a line break) is a
``ConfigError`` at construction, never a retried connection error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .types import ErrorPayload, Response, StreamEvent

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AllProvidersFailed",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConfigError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "OpenResponsesError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RejectedError",
    "RequestValidationError",
    "ResponseFailedError",
    "RetryBudgetExhausted",
    "StreamError",
    "StreamInterrupted",
    "UnprocessableEntityError",
    "status_error_class",
]

#: Statuses worth repeating on the same server: request timeout, conflict (a lock), rate limit,
#: Groq's 498 (its flex tier at capacity: "try again later"), and server faults other than "not
#: implemented" / "version not supported" (those do not heal).
#: ``openresponses.middleware._policy.decide`` is the one rule built on it; docs/resilience.md
#: has the whole table.
RETRY_STATUSES: frozenset[int] = frozenset({408, 409, 429, 498} | set(range(500, 600)) - {501, 505})
#: The 4xx statuses that say "not now" rather than "not this request": the provider's load, not
#: the caller's mistake, so they count for its circuit breaker and are failed over from.
BUSY_STATUSES: frozenset[int] = frozenset({408, 429, 498})

TimeoutKind = Literal["connect", "read", "write", "pool", "total", "first_event", "idle"]

_MAX_SNIPPET = 500


def _truncate(data: bytes, limit: int = _MAX_SNIPPET) -> bytes:
    return data if len(data) <= limit else data[:limit] + b"...[truncated]"


class OpenResponsesError(Exception):
    """Base class of every error raised by openresponses."""

    #: Whether repeating the same request may succeed. Decided where the error is born.
    retryable: bool = False
    #: Name of the provider that produced the error, when known (set by the transport).
    provider: str | None = None


class APIConnectionError(OpenResponsesError):
    """No reply was received: DNS, refused or reset connection, TLS, protocol breakage."""

    retryable = True

    def __init__(self, message: str = "Connection error.", *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class APITimeoutError(APIConnectionError, TimeoutError):
    """A time limit fired. ``which`` names it: connect, read, write, pool, total, first_event or idle."""

    def __init__(
        self, which: TimeoutKind, limit: float | None = None, *, provider: str | None = None
    ) -> None:
        self.which: TimeoutKind = which
        self.limit = limit
        detail = f" of {limit:g}s" if limit is not None else ""
        super().__init__(f"Request timed out: the {which} timeout{detail} fired.", provider=provider)


class APIStatusError(OpenResponsesError):
    """The server answered with a non-success HTTP status.

    ``body`` is the parsed spec error object (``{"error": {...}}``) when the server sent one.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        body: Any = None,
        error: ErrorPayload | None = None,
        headers: dict[str, str] | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.error = error
        self.headers = headers or {}
        self.provider = provider
        should_retry = self.headers.get("x-should-retry")
        if should_retry in ("true", "false"):
            self.retryable = should_retry == "true"
        else:
            self.retryable = status_code in RETRY_STATUSES

    @property
    def code(self) -> str | None:
        """The spec error ``code`` (e.g. ``context_length_exceeded``), if the body had one."""
        if self.error is None or self.error.code is None:
            return None
        return str(self.error.code)


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429 (and Groq's 498, its flex tier at capacity). ``retry_after`` is the server's hint
    in seconds, if it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """HTTP 5xx (and any other unexpected status)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    498: RateLimitError,  # Groq: the flex tier is at capacity, "try again later"
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP status code."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


class RequestValidationError(OpenResponsesError, ValueError):
    """The call's parameters do not fit the spec; nothing was sent. ``errors`` lists each problem."""

    def __init__(self, message: str, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)

    @classmethod
    def from_validation_error(cls, model: str, exc: Any) -> RequestValidationError:
        """Build from a pydantic ``ValidationError``, naming every offending field (no input values).

        The message gives each field's path in the request (``input.1.content``), without the
        union branches pydantic inserts (``constrained-str``, ``list[tagged-union[...]]``, the
        item's tag), and leaves out a branch's complaint about a field when another branch got
        further into it (``input: should be a string`` beside ``input.1.content: ...`` only says
        that the list form was not a string). ``errors`` keeps pydantic's own entries.
        """
        errors = exc.errors(include_url=False, include_input=False)
        paths = [field_path(err["loc"]) for err in errors]
        shown = [
            (path, err)
            for path, err in zip(paths, errors, strict=True)
            if not any(other != path and other.startswith(f"{path}.") for other in paths if path)
        ]
        lines = [f"Invalid {model}: {len(shown)} problem(s)"]
        for path, err in shown[:20]:
            lines.append(f"  {path or '(body)'}: {err['msg']}")
        return cls("\n".join(lines), errors)


def field_path(loc: Sequence[Any]) -> str:
    """pydantic's error ``loc`` as the field's path in the request (``input.1.content``).

    Left out: union branches (``constrained-str``, ``list[...]``, ``function-after[...]`` and the
    like: a type's name, not a field) and, after a list index inside a tagged union, the item's
    tag (``reasoning``: the item's ``type``, not a field).
    """
    out: list[str] = []
    tagged = after_index = False
    for part in loc:
        if isinstance(part, int):
            out.append(str(part))
            after_index = tagged
            continue
        text = str(part)
        if "[" in text or text in _BRANCH_NAMES:
            tagged = tagged or "tagged-union" in text
            continue
        if after_index:  # the tag of the tagged union's member
            tagged = after_index = False
            continue
        out.append(text)
    return ".".join(out)


#: Plain union branch names pydantic puts in a ``loc`` (no field of the spec has these names).
_BRANCH_NAMES = frozenset(
    {"str", "constrained-str", "int", "constrained-int", "float", "bool", "list", "dict", "none", "bytes"}
)


class ConfigError(OpenResponsesError, ValueError):
    """A configuration file or option is invalid: names the file, the key path and the problem."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.key = key


class ProtocolError(OpenResponsesError):
    """The stream broke the protocol: invalid JSON, a mislabelled event, no terminal event.

    ``data`` holds the offending bytes (truncated); ``response`` the partial response so far.
    """

    retryable = True

    def __init__(
        self, message: str, *, data: bytes = b"", response: Response | None = None, events_delivered: int = 0
    ) -> None:
        super().__init__(message)
        self.data = _truncate(data)
        self.response = response
        self.events_delivered = events_delivered
        #: Valid events decoded from the same chunk before the offending bytes (for transports).
        self.events: list[Any] = []


class StreamError(OpenResponsesError):
    """A stream that started went wrong. ``response`` is the partial response assembled so far.

    ``events_delivered`` counts the events handed to the consumer before the failure: zero means
    a retry or failover can still replace the stream invisibly.
    """

    def __init__(self, message: str, *, response: Response | None = None, events_delivered: int = 0) -> None:
        super().__init__(message)
        self.response = response
        self.events_delivered = events_delivered


class ResponseFailedError(StreamError):
    """The server reported failure: an ``error`` event and/or ``response.failed``.

    ``event`` is the event that carried the failure, ``error`` the spec error object.
    Retryable when the error type says the server is at fault (``server_error``, ``model_error``,
    ``too_many_requests``), not for ``invalid_request`` and the like.
    """

    _RETRYABLE_TYPES = frozenset({"server_error", "model_error", "too_many_requests", "rate_limit_exceeded"})

    def __init__(
        self,
        message: str,
        *,
        event: StreamEvent | None,
        error: ErrorPayload | None = None,
        response: Response | None = None,
        events_delivered: int = 0,
    ) -> None:
        super().__init__(message, response=response, events_delivered=events_delivered)
        self.event = event
        self.error = error
        err_type = error.type if error is not None else None
        self.retryable = err_type is None or err_type in self._RETRYABLE_TYPES

    @property
    def code(self) -> str | None:
        """The spec error ``code``, if any."""
        if self.error is not None and self.error.code is not None:
            return str(self.error.code)
        if self.response is not None and self.response.error is not None:
            return self.response.error.code
        return None


class StreamInterrupted(StreamError):
    """The stream broke after events were delivered; the cause is ``__cause__``.

    Never a truncated answer reported as success: the partial response is in ``response``.
    Not retryable: the consumer already saw part of the answer (``Failover(midstream=...)``
    recovers it on another provider).
    """

    retryable = False


class RejectedError(OpenResponsesError):
    """Refused locally before the upstream was called."""


class CircuitOpenError(RejectedError):
    """The provider's circuit breaker is open. ``reopens_in``: seconds until it goes half-open.

    Not retryable (failing fast is the breaker's purpose); ``Failover`` moves on at once.
    """

    retryable = False

    def __init__(self, provider: str, reopens_in: float | None = None) -> None:
        when = f"; half-open in {reopens_in:.1f}s" if reopens_in is not None else ""
        super().__init__(f"Circuit breaker for provider {provider!r} is open{when}.")
        self.provider = provider
        self.reopens_in = reopens_in


class RetryBudgetExhausted(RejectedError):
    """The retry budget is spent: too many retries among recent requests.

    For custom middleware that refuse a call on a spent budget. ``Retry`` itself does not raise
    it: when the budget stops a retry it re-raises the original error with a note, so
    ``except RateLimitError`` keeps working whatever the stack order.
    """


class AllProvidersFailed(OpenResponsesError, ExceptionGroup):
    """Every provider of a failover chain failed. One entry per attempt, in order."""

    def __new__(cls, message: str, exceptions: Sequence[Exception]) -> AllProvidersFailed:
        return super().__new__(cls, message, list(exceptions))

    def __init__(self, message: str, exceptions: Sequence[Exception]) -> None:
        super().__init__(message, list(exceptions))

    def derive(self, excs: Sequence[Exception]) -> AllProvidersFailed:  # type: ignore[override]
        return AllProvidersFailed(self.message, excs)

    def __str__(self) -> str:
        lines = [self.message]
        for i, exc in enumerate(self.exceptions, 1):
            who = getattr(exc, "provider", None) or "?"
            lines.append(f"  {i}. [{who}] {type(exc).__name__}: {exc}")
        return "\n".join(lines)
