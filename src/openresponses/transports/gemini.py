"""The Gemini dialects: Open Responses spoken to Google's Gemini API (AI Studio) and Vertex AI.

Both serve the same ``GenerateContent`` wire format under different URLs and credentials:

- :class:`GeminiDialect` (adapter ``gemini``): ``https://generativelanguage.googleapis.com/v1beta``
  ``/models/{model}:streamGenerateContent?alt=sse`` (``:generateContent`` without a stream), the
  API key sent as ``x-goog-api-key``.
- :class:`VertexDialect` (adapter ``vertex``): ``https://{location}-aiplatform.googleapis.com/v1``
  (``aiplatform.googleapis.com`` for ``location="global"``) ``/projects/{project}/locations/
  {location}/publishers/google/models/{model}:streamGenerateContent?alt=sse``, authenticated by an
  OAuth bearer token refreshed before each request (``sign``; google-auth, the ``vertex`` extra).

The translation is shared and sans I/O: the request body (``_gemini_request``,
``_gemini_contents``), streamed chunks and whole bodies (``_gemini_stream``) and Google error
bodies (``_gemini_errors``). docs/gemini.md has the field-by-field table.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, get_args

from .._errors import APIStatusError, ConfigError, RequestValidationError
from .._sse import DEFAULT_MAX_EVENT_SIZE, check_max_event_size
from ..types import CreateResponseBody
from ._gemini_auth import CLOUD_PLATFORM_SCOPE, TokenProvider, VertexAuth
from ._gemini_contents import SKIP_SIGNATURE
from ._gemini_errors import error_body_bytes
from ._gemini_request import GeminiRequestOptions, SchemaField, ThinkingStyle, gemini_request_body, model_name
from ._gemini_stream import GeminiStreamDecoder, translate_generate_content
from ._reply import status_error_from_body, translated_reply

if TYPE_CHECKING:
    from .._pipeline import Request
    from ..types import CompactResponse, Response
    from ._dialect import StreamDecoder

__all__ = ["GEMINI_BASE_URL", "GeminiDialect", "VertexDialect", "vertex_base_url"]

#: The Gemini API's public endpoint (AI Studio keys).
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"

_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
_RESOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*(/[A-Za-z0-9][A-Za-z0-9._@-]*)+$")
_LOCATION = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
_PROJECT = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z0-9][a-z0-9-]{2,62}$")


def vertex_base_url(location: str) -> str:
    """The Vertex AI endpoint for ``location`` (``global`` has no regional prefix)."""
    host = "aiplatform.googleapis.com" if location == "global" else f"{location}-aiplatform.googleapis.com"
    return f"https://{host}/v1"


def _choice(owner: str, name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{owner}: {name} must be one of {list(allowed)}, got {value!r}")


class GeminiDialect:
    """Speak Open Responses to the Gemini API (``generativelanguage.googleapis.com``).

    Every method is pure. ``encode`` raises :class:`~openresponses.RequestValidationError`
    naming any field Gemini cannot carry (never a silent drop); streamed and whole replies
    become spec events and ``Response`` objects; Google error bodies become the typed
    ``APIStatusError`` with the spec ``code`` filled in (``RESOURCE_EXHAUSTED`` -> a retryable
    ``RateLimitError``, a too-long prompt -> ``context_length_exceeded``).

    Options:

    - ``thinking_style``: how ``reasoning.effort`` is sent: ``auto`` (a ``thinkingBudget`` for
      ``gemini-2.*`` models, a ``thinkingLevel`` for the rest), ``level`` or ``budget``.
    - ``schema_field``: ``json_schema`` (default: ``parametersJsonSchema`` /
      ``responseJsonSchema``, full JSON Schema) or ``openapi`` (``parameters`` /
      ``responseSchema``, the older OpenAPI subset) for tool parameters and ``text.format``.
    - ``foreign_signature``: the ``thoughtSignature`` put on a replayed function call Gemini did
      not sign (another vendor's, after a failover); Gemini 3 rejects unsigned calls. Default
      ``"skip_thought_signature_validator"`` (Google's documented value); ``None`` sends none.
    - ``max_event_size``: the bound on one streamed SSE event in bytes (16 MiB; ``None``: none).

    ::

        Provider("gemini", adapter="gemini", api_key_env="GEMINI_API_KEY", model="gemini-2.5-flash")
    """

    name = "gemini"
    #: OpenTelemetry ``gen_ai.provider.name``.
    gen_ai_provider_name = "gcp.gemini"
    #: Response headers that may carry the vendor's request id (the body's ``responseId`` becomes
    #: the response id, ``resp_<responseId>``).
    request_id_headers: tuple[str, ...] = ("x-request-id", "x-goog-request-id")
    default_base_url = GEMINI_BASE_URL

    def __init__(
        self,
        *,
        thinking_style: ThinkingStyle = "auto",
        schema_field: SchemaField = "json_schema",
        foreign_signature: str | None = SKIP_SIGNATURE,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        owner = type(self).__name__
        _choice(owner, "thinking_style", thinking_style, get_args(ThinkingStyle))
        _choice(owner, "schema_field", schema_field, get_args(SchemaField))
        if foreign_signature is not None and (
            not isinstance(foreign_signature, str) or not foreign_signature
        ):
            raise ValueError(f"{owner}: foreign_signature must be a non-empty string or None")
        #: The bound on one streamed SSE event in bytes (``None``: none).
        self.max_event_size = check_max_event_size(max_event_size, owner)
        #: How requests are written (the dialect is immutable in use).
        self.request_options = GeminiRequestOptions(
            thinking_style=thinking_style, schema_field=schema_field, foreign_signature=foreign_signature
        )

    # -- request --------------------------------------------------------------------------------

    def _model_path(self, model: str) -> str:
        if model.startswith(("models/", "tunedModels/")) and _RESOURCE.match(model):
            return "/" + model
        if not _MODEL.match(model):
            raise RequestValidationError(
                f"gemini adapter: model {model[:80]!r} is not a valid Gemini model name",
                [{"loc": ("model",), "msg": "invalid model name", "type": "value_error"}],
            )
        return f"/models/{model}"

    def path(self, request: Request) -> str:
        """``/models/{model}:streamGenerateContent?alt=sse`` (streams) or ``:generateContent``."""
        body = self._create_body(request)
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        return f"{self._model_path(model_name(body))}:{method}"

    def auth_headers(self, api_key: str) -> Mapping[str, str]:
        """The API key as ``x-goog-api-key`` (never in the URL, where logs would keep it)."""
        return {"x-goog-api-key": api_key}

    def headers(self, request: Request) -> Mapping[str, str]:
        """No extra headers."""
        return {}

    def _create_body(self, request: Request) -> CreateResponseBody:
        body = request.body
        if request.operation == "compact" or not isinstance(body, CreateResponseBody):
            raise RequestValidationError(
                f"{self.name} adapter: /responses/compact is not supported",
                [{"loc": (), "msg": "compact is not supported", "type": "unsupported"}],
            )
        return body

    def translate(self, request: Request) -> dict[str, Any]:
        """The Gemini body for ``request`` as a dict (what :meth:`encode` serialises)."""
        body = self._create_body(request)
        model_name(body)
        return gemini_request_body(body, self.request_options)

    def encode(self, request: Request) -> bytes:
        """The JSON request body; raises ``RequestValidationError`` before anything is sent."""
        return json.dumps(self.translate(request), ensure_ascii=False, separators=(",", ":")).encode()

    # -- replies --------------------------------------------------------------------------------

    def decoder(self, request: Request, *, provider: str) -> StreamDecoder:
        """A fresh :class:`~._gemini_stream.GeminiStreamDecoder` for one stream."""
        body = request.body if isinstance(request.body, CreateResponseBody) else None
        return GeminiStreamDecoder(body, provider=provider, max_event_size=self.max_event_size)

    def parse_body(self, body: bytes, request: Request, *, provider: str) -> Response | CompactResponse:
        """A whole ``generateContent`` body as a ``Response``; a body whose candidate failed
        (``MALFORMED_FUNCTION_CALL``, ...) raises ``ResponseFailedError``, as a failed stream does."""
        create = request.body if isinstance(request.body, CreateResponseBody) else None
        response, events = translate_generate_content(body, create, provider=provider)
        return translated_reply(response, events, provider, with_code=False)

    def error(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        provider: str,
        reason: str | None = None,
    ) -> APIStatusError:
        """The typed error for a non-2xx reply: class by status, spec ``code`` from the Google
        status (``RESOURCE_EXHAUSTED``, ``INVALID_ARGUMENT`` with a too-long prompt, ...);
        ``retry_after`` from ``Retry-After`` or else the body's ``RetryInfo.retryDelay``."""
        normalized, original, delay = error_body_bytes(body, status)
        exc = status_error_from_body(status, normalized, headers, provider=provider, reason=reason)
        exc.body = original
        if delay is not None and getattr(exc, "retry_after", 0.0) is None:
            exc.retry_after = delay  # type: ignore[attr-defined]
        if exc.request_id is None:
            lowered = {key.lower(): value for key, value in headers.items()}
            exc.request_id = next((lowered[h] for h in self.request_id_headers if h in lowered), None)
        return exc

    def __repr__(self) -> str:
        o = self.request_options
        return (
            f"{type(self).__name__}(thinking_style={o.thinking_style!r}, schema_field={o.schema_field!r}, "
            f"foreign_signature={o.foreign_signature!r})"
        )


class VertexDialect(GeminiDialect):
    """Speak Open Responses to Gemini on Vertex AI: the same wire format, Google Cloud URLs and
    OAuth.

    ``project`` and ``location`` name the endpoint (defaults: the ``GOOGLE_CLOUD_PROJECT`` and
    ``GOOGLE_CLOUD_LOCATION`` environment variables, the ones Google's SDKs read; location
    ``global`` if unset). Each request gets a fresh ``Authorization: Bearer`` token: from
    ``token_provider`` (a callable returning a token, sync or async: tests, token brokers),
    from ``credentials`` (a google-auth ``Credentials`` object), or from Application Default
    Credentials loaded on first use (google-auth: ``pip install 'openresponses-python[vertex]'``).
    A static access token passed as the provider's API key is sent as is instead (no refresh).
    The other options are :class:`GeminiDialect`'s.

    ::

        Provider("vertex", adapter="vertex", model="gemini-2.5-pro",
                 dialect=VertexDialect(project="my-project", location="europe-west4"))
    """

    name = "vertex"
    gen_ai_provider_name = "gcp.vertex_ai"

    def __init__(
        self,
        *,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        token_provider: TokenProvider | None = None,
        thinking_style: ThinkingStyle = "auto",
        schema_field: SchemaField = "json_schema",
        foreign_signature: str | None = SKIP_SIGNATURE,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        super().__init__(
            thinking_style=thinking_style,
            schema_field=schema_field,
            foreign_signature=foreign_signature,
            max_event_size=max_event_size,
        )
        project = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or None
        location = location or os.environ.get("GOOGLE_CLOUD_LOCATION") or "global"
        if project is None:
            raise ConfigError(
                "Vertex AI needs a project: VertexDialect(project=...) or GOOGLE_CLOUD_PROJECT",
                key="project",
            )
        if not _PROJECT.match(project):
            raise ConfigError(f"{project[:80]!r} is not a Google Cloud project id", key="project")
        if not _LOCATION.match(location):
            raise ConfigError(f"{location[:80]!r} is not a Vertex AI location", key="location")
        #: The Google Cloud project id in the URL.
        self.project = project
        #: The Vertex AI location (``global``, ``us-central1``, ...).
        self.location = location
        #: The endpoint for :attr:`location`: what ``Provider(adapter="vertex")`` uses by default.
        self.default_base_url = vertex_base_url(location)
        self._auth = VertexAuth(
            credentials=credentials, token_provider=token_provider, scopes=(CLOUD_PLATFORM_SCOPE,)
        )

    def _model_path(self, model: str) -> str:
        if model.startswith("projects/") and _RESOURCE.match(model):
            return "/" + model  # a full resource name (a tuned model's endpoint, another project)
        prefix = f"/projects/{self.project}/locations/{self.location}"
        if model.startswith("publishers/") and _RESOURCE.match(model):
            return f"{prefix}/{model}"
        if not _MODEL.match(model):
            raise RequestValidationError(
                f"vertex adapter: model {model[:80]!r} is not a valid Vertex AI model name",
                [{"loc": ("model",), "msg": "invalid model name", "type": "value_error"}],
            )
        return f"{prefix}/publishers/google/models/{model}"

    def auth_headers(self, api_key: str) -> Mapping[str, str]:
        """A static access token given as the provider's key, as ``Authorization: Bearer``."""
        return {"authorization": f"Bearer {api_key}"}

    async def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Mapping[str, str]:
        """A fresh OAuth bearer token (refreshed in a worker thread when it is about to expire);
        nothing when a static token was configured as the key."""
        if any(name.lower() == "authorization" for name in headers):
            return {}
        return await self._auth.headers()

    def __repr__(self) -> str:
        return f"VertexDialect(project={self.project!r}, location={self.location!r}, auth={self._auth!r})"
