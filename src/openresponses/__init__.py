"""openresponses: an observability-first, resilient client for the Open Responses standard.

::

    from openresponses import AsyncClient

    async with AsyncClient(base_url="http://localhost:8001/v1") as client:
        async with client.responses.stream(model="m", input="Hello") as stream:
            async for event in stream:
                ...
"""

from . import types
from ._client import (
    AsyncClient,
    AsyncResponses,
    AsyncStreamManager,
    ClientClosedError,
    CompactParams,
    CreateParams,
)
from ._connection import AsyncConnection, Connection, ConnectionBusyError
from ._errors import (
    AllProvidersFailed,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConfigError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    OpenResponsesError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RejectedError,
    RequestValidationError,
    ResponseFailedError,
    RetryBudgetExhausted,
    StreamError,
    StreamInterrupted,
    UnprocessableEntityError,
)
from ._extras import MissingExtraError
from ._pipeline import (
    AttemptBoundary,
    AttemptObserver,
    CallContext,
    CallObserver,
    CallOptions,
    Handler,
    Middleware,
    Reply,
    Request,
    Target,
    Transport,
    compose,
)
from ._provider import Provider
from ._streaming import AsyncResponseStream, EventStream, StreamEnd
from ._sync import Client, Responses, ResponseStream
from ._validate import UnknownParameterError
from ._version import __version__
from .types import CompactResponse, CreateResponseBody, Response, StreamEvent

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AllProvidersFailed",
    "AsyncClient",
    "AsyncConnection",
    "AsyncResponseStream",
    "AsyncResponses",
    "AsyncStreamManager",
    "AttemptBoundary",
    "AttemptObserver",
    "AuthenticationError",
    "BadRequestError",
    "CallContext",
    "CallObserver",
    "CallOptions",
    "CircuitOpenError",
    "Client",
    "ClientClosedError",
    "CompactParams",
    "CompactResponse",
    "ConfigError",
    "ConflictError",
    "Connection",
    "ConnectionBusyError",
    "CreateParams",
    "CreateResponseBody",
    "EventStream",
    "Handler",
    "InternalServerError",
    "Middleware",
    "MissingExtraError",
    "NotFoundError",
    "OpenResponsesError",
    "PermissionDeniedError",
    "ProtocolError",
    "Provider",
    "RateLimitError",
    "RejectedError",
    "Reply",
    "Request",
    "RequestValidationError",
    "Response",
    "ResponseFailedError",
    "ResponseStream",
    "Responses",
    "RetryBudgetExhausted",
    "StreamEnd",
    "StreamError",
    "StreamEvent",
    "StreamInterrupted",
    "Target",
    "Transport",
    "UnknownParameterError",
    "UnprocessableEntityError",
    "__version__",
    "compose",
    "types",
]
