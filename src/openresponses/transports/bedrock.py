"""The Bedrock Converse dialect: Open Responses spoken to AWS Bedrock's Converse API.

``POST /model/{modelId}/converse-stream`` (streamed, ``application/vnd.amazon.eventstream``)
and ``POST /model/{modelId}/converse`` (whole), on ``https://bedrock-runtime.{region}.amazonaws.com``,
signed with AWS SigV4 (signing name ``bedrock``) by botocore, or authorised with a Bedrock API
key (``Authorization: Bearer``) when the provider has one. Sans I/O apart from signing:
the request body (``_bedrock_request``, ``_bedrock_messages``), the event-stream decoding and
translation (``_bedrock_stream``, ``_bedrock_events``), errors (``_bedrock_errors``) and SigV4
(``_bedrock_auth``). docs/bedrock.md has the field-by-field table.

Models that serve the OpenAI Responses API on Bedrock need no adapter: the ``bedrock`` preset
passes Open Responses through to ``https://bedrock-runtime.{region}.amazonaws.com/openai/v1``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._errors import APIStatusError, ConfigError, RequestValidationError
from ..types import CreateResponseBody
from ._bedrock_auth import DEFAULT_REGION, SigV4Signer, resolve_region
from ._bedrock_errors import REQUEST_ID_HEADERS, http_error
from ._bedrock_request import DEFAULT_REASONING_BUDGETS, ConverseRequestOptions, converse_request_body
from ._bedrock_stream import BedrockStreamDecoder, converse_body_to_response
from ._reply import translated_reply

if TYPE_CHECKING:
    from .._pipeline import Request
    from ..types import CompactResponse, Response
    from ._dialect import StreamDecoder

__all__ = ["DEFAULT_REGION", "BedrockConverseDialect", "bedrock_runtime_url"]

EVENT_STREAM = "application/vnd.amazon.eventstream"


def bedrock_runtime_url(region: str | None = None, *, openai: bool = False) -> str:
    """The public Bedrock Runtime endpoint of ``region`` (``AWS_REGION`` / ``AWS_DEFAULT_REGION``
    / ``us-east-1`` when ``None``); ``openai=True`` adds ``/openai/v1`` (the Responses API)."""
    base = f"https://bedrock-runtime.{resolve_region(region)}.amazonaws.com"
    return base + "/openai/v1" if openai else base


class BedrockConverseDialect:
    """Speak Open Responses to AWS Bedrock's Converse / ConverseStream API.

    Every method but :meth:`sign` is pure. ``encode`` raises
    :class:`~openresponses.RequestValidationError` naming any field Converse cannot carry;
    streamed event-stream bodies and whole bodies become spec events and ``Response`` objects;
    error replies and in-stream exceptions become the typed errors with the right retry verdicts.

    Options (all keyword-only, all optional):

    - ``region``: where to send and sign; default ``AWS_REGION``, ``AWS_DEFAULT_REGION``, else
      ``us-east-1``. It sets :attr:`default_base_url`; a public endpoint's own region wins
      when signing (``--base-url https://bedrock-runtime.eu-west-1.amazonaws.com``).
    - ``credentials``: botocore ``Credentials`` (or anything with ``access_key``,
      ``secret_key``, ``token``); default: the standard AWS chain, resolved on first use in a
      worker thread (``profile`` picks a named profile). Unused when the provider has an
      ``api_key`` (a Bedrock API key, ``AWS_BEARER_TOKEN_BEDROCK``): then it is sent as
      ``Authorization: Bearer`` and nothing is signed.
    - ``reasoning_summary``: stream reasoning text as summary text (default) or, ``False``, as
      raw reasoning (``reasoning_text`` parts).
    - ``reasoning_budgets``: ``reasoning.effort`` -> Claude ``thinking.budget_tokens``.
    - ``additional_model_request_fields``: fixed model-specific fields (Converse's
      ``additionalModelRequestFields``); fields the translation sets win.
    - ``guardrail_config``: a Converse ``guardrailConfig`` sent with every request
      (``{"guardrailIdentifier": ..., "guardrailVersion": ...}``).
    - ``drop_unsupported``: field names to drop instead of raising (``"temperature"``, ...).

    ::

        Provider("bedrock", adapter="bedrock-converse", model="us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        Provider("bedrock", dialect=BedrockConverseDialect(region="eu-west-1", profile="prod"), ...)
    """

    name = "bedrock-converse"
    #: The GenAI semantic conventions' name of the vendor (``gen_ai.provider.name``).
    gen_ai_provider_name = "aws.bedrock"
    #: Response headers carrying Bedrock's request id.
    request_id_headers: tuple[str, ...] = REQUEST_ID_HEADERS
    #: Streamed replies are AWS event streams, not SSE.
    stream_content_type = EVENT_STREAM

    def __init__(
        self,
        *,
        region: str | None = None,
        credentials: Any = None,
        profile: str | None = None,
        reasoning_summary: bool = True,
        reasoning_budgets: Mapping[str, int] | None = None,
        additional_model_request_fields: Mapping[str, Any] | None = None,
        guardrail_config: Mapping[str, Any] | None = None,
        drop_unsupported: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
    ) -> None:
        self.region = resolve_region(region)
        #: The public endpoint of :attr:`region` (``Provider(adapter=...)`` uses it by default).
        self.default_base_url = bedrock_runtime_url(self.region)
        self._signer = SigV4Signer(self.region, credentials=credentials, profile=profile)
        self.reasoning_summary = bool(reasoning_summary)
        budgets = dict(DEFAULT_REASONING_BUDGETS if reasoning_budgets is None else reasoning_budgets)
        for effort, budget in budgets.items():
            if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
                raise ConfigError(
                    f"reasoning budget for {effort!r} must be an int >= 1024, got {budget!r}",
                    key="reasoning_budgets",
                )
        extra = dict(additional_model_request_fields or {})
        for name, value in (
            ("additional_model_request_fields", extra),
            ("guardrail_config", guardrail_config),
        ):
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"must be JSON-serialisable: {exc}", key=name) from None
        if isinstance(drop_unsupported, str) or not all(isinstance(f, str) for f in drop_unsupported):
            raise ConfigError("must be a collection of field names", key="drop_unsupported")
        #: How requests are written (read by tests; the dialect is immutable in use).
        self.request_options = ConverseRequestOptions(
            reasoning_budgets=budgets,
            additional_model_request_fields=extra,
            guardrail_config=dict(guardrail_config) if guardrail_config else None,
            drop_unsupported=frozenset(drop_unsupported),
        )

    # -- request --------------------------------------------------------------------------------

    def path(self, request: Request) -> str:
        """``/model/{modelId}/converse-stream`` (or ``/converse``), the id percent-encoded as
        botocore does (an inference profile ARN's ``:`` and ``/`` included)."""
        model = request.body.model or ""
        operation = "converse-stream" if request.stream else "converse"
        return f"/model/{quote(model, safe='-._~')}/{operation}"

    def auth_headers(self, api_key: str) -> Mapping[str, str]:
        """A Bedrock API key: ``Authorization: Bearer`` (then requests are not SigV4-signed)."""
        return {"authorization": f"Bearer {api_key}"}

    def headers(self, request: Request) -> Mapping[str, str]:
        """``accept`` for the reply Bedrock sends (an event stream, or JSON)."""
        return {"accept": EVENT_STREAM if request.stream else "application/json"}

    def translate(self, request: Request) -> dict[str, Any]:
        """The Converse body for ``request`` as a dict (what :meth:`encode` serialises)."""
        body = request.body
        if request.operation == "compact" or not isinstance(body, CreateResponseBody):
            raise RequestValidationError(
                "bedrock-converse adapter: /responses/compact is not supported",
                [{"loc": (), "msg": "compact is not supported", "type": "unsupported"}],
            )
        return converse_request_body(body, options=self.request_options)

    def encode(self, request: Request) -> bytes:
        """The JSON request body; raises ``RequestValidationError`` before anything is sent."""
        return json.dumps(self.translate(request), ensure_ascii=False, separators=(",", ":")).encode()

    async def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Mapping[str, str]:
        """SigV4 headers for this exact request; nothing when it carries a Bedrock API key."""
        if any(name.lower() == "authorization" for name in headers):
            return {}
        return await self._signer.sign(method, url, headers, body)

    # -- replies --------------------------------------------------------------------------------

    def decoder(self, request: Request, *, provider: str) -> StreamDecoder:
        """A fresh :class:`~._bedrock_stream.BedrockStreamDecoder` for one stream."""
        body = request.body if isinstance(request.body, CreateResponseBody) else None
        return BedrockStreamDecoder(body, summary=self.reasoning_summary)

    def parse_body(self, body: bytes, request: Request, *, provider: str) -> Response | CompactResponse:
        """A whole ``/converse`` body as a ``Response``; a failed one (a context-window stop, a
        malformed tool call) raises ``ResponseFailedError`` as a failed stream does."""
        create = request.body if isinstance(request.body, CreateResponseBody) else None
        response, events = converse_body_to_response(body, create, summary=self.reasoning_summary)
        return translated_reply(response, events, provider)

    def error(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        provider: str,
        reason: str | None = None,
    ) -> APIStatusError:
        """The typed error for a non-2xx Bedrock reply (``{"message"}`` + ``x-amzn-ErrorType``)."""
        return http_error(status, body, headers, provider=provider, reason=reason)

    def __repr__(self) -> str:
        return f"BedrockConverseDialect(region={self.region!r}, signer={self._signer!r})"
