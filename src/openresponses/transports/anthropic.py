"""The Anthropic Messages dialect: Open Responses spoken to ``POST /v1/messages``, no SDK needed.

:class:`AnthropicDialect` translates both ways, sans I/O: the request body
(``_anthropic_request`` and ``_anthropic_messages``), streamed events and whole bodies
(``_anthropic_stream``) and error envelopes (``_anthropic_errors``). The HTTP transport does the
I/O with httpx and our SSE decoder; the served proxy's ``anthropic`` preset reuses the same
dialect. docs/anthropic.md has the field-by-field table and the sources of each wire fact.

::

    Provider("claude", adapter="anthropic", api_key_env="ANTHROPIC_API_KEY", model="claude-sonnet-4-5")
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args

from .._errors import APIStatusError, RequestValidationError
from .._sse import DEFAULT_MAX_EVENT_SIZE, check_max_event_size
from ..types import CreateResponseBody
from ._anthropic_errors import error_body_bytes
from ._anthropic_request import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_THINKING_BUDGETS,
    MIN_THINKING_BUDGET,
    AnthropicRequestOptions,
    ThinkingMode,
    anthropic_request_body,
)
from ._anthropic_stream import AnthropicStreamDecoder, ThinkingText, translate_message
from ._reply import status_error_from_body, translated_reply

if TYPE_CHECKING:
    from .._pipeline import Request
    from ..types import CompactResponse, Response
    from ._dialect import StreamDecoder

__all__ = ["DEFAULT_ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicDialect"]

#: The ``anthropic-version`` header the official SDKs send (unchanged since the Messages API).
DEFAULT_ANTHROPIC_VERSION = "2023-06-01"
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_BETA = re.compile(r"[A-Za-z0-9._-]+")


def _choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"AnthropicDialect: {name} must be one of {list(allowed)}, got {value!r}")


class AnthropicDialect:
    """Speak Open Responses to Anthropic's Messages API (``POST {base_url}/messages``).

    Every method is pure. ``encode`` raises :class:`~openresponses.RequestValidationError`
    naming any field Anthropic cannot carry (never a silent drop); streamed and whole replies
    become spec events and ``Response`` objects; Anthropic's error envelope becomes the typed
    ``APIStatusError`` (529 / ``overloaded_error`` retryable, "prompt is too long" as
    ``context_length_exceeded``).

    Options (all keyword-only, all optional):

    - ``version``: the ``anthropic-version`` header (default :data:`DEFAULT_ANTHROPIC_VERSION`,
      the SDKs' own); ``betas``: ``anthropic-beta`` feature names, sent comma-separated.
    - ``auth``: ``x-api-key`` (default) or ``bearer`` (``Authorization: Bearer``, for OAuth
      tokens and gateways in front of Anthropic).
    - ``max_tokens``: ``max_tokens`` when a request has no ``max_output_tokens`` (Anthropic
      requires one; default :data:`DEFAULT_MAX_TOKENS`).
    - ``thinking``: how ``reasoning.effort`` is sent: ``budget`` (default; ``thinking: {type:
      enabled, budget_tokens}`` from ``thinking_budgets``, every thinking-capable model) or
      ``adaptive`` (``thinking: {type: adaptive}`` plus ``output_config.effort``, newer models).
      ``reasoning.budget_tokens`` (an extension field) sets the budget for one request.
    - ``thinking_text``: emit thinking as reasoning ``summary`` text (default; Claude 4 returns
      summarised thinking) or as ``raw`` reasoning text (Claude 3.7).
    - ``extra_body``: fixed fields added to every request (``{"service_tier": "standard_only"}``);
      fields the translation sets win.
    - ``max_event_size``: the bound on one streamed SSE event in bytes (16 MiB; ``None``: none).

    ::

        transport = HTTPTransport("https://api.anthropic.com/v1", api_key=key,
                                  dialect=AnthropicDialect(thinking="adaptive"))
    """

    name = "anthropic"
    #: The vendor's public endpoint: ``Provider(adapter="anthropic")`` without ``base_url`` uses it.
    default_base_url = "https://api.anthropic.com/v1"
    #: ``gen_ai.provider.name`` in traces.
    gen_ai_provider_name = "anthropic"
    #: Response headers carrying Anthropic's request id (``req_...``).
    request_id_headers: tuple[str, ...] = ("request-id", "x-request-id")

    def __init__(
        self,
        *,
        version: str = DEFAULT_ANTHROPIC_VERSION,
        betas: Sequence[str] = (),
        auth: str = "x-api-key",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        thinking: ThinkingMode = "budget",
        thinking_budgets: Mapping[str, int] | None = None,
        thinking_text: ThinkingText = "summary",
        extra_body: Mapping[str, Any] | None = None,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        if not isinstance(version, str) or not _VERSION.fullmatch(version):
            raise ValueError(f"AnthropicDialect: version must be a date like '2023-06-01', got {version!r}")
        if isinstance(betas, str) or not all(isinstance(b, str) and _BETA.fullmatch(b) for b in betas):
            raise ValueError(
                "AnthropicDialect: betas must be a list of feature names like 'context-1m-2025-08-07'"
            )
        _choice("auth", auth, ("x-api-key", "bearer"))
        _choice("thinking", thinking, get_args(ThinkingMode))
        _choice("thinking_text", thinking_text, get_args(ThinkingText))
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ValueError(f"AnthropicDialect: max_tokens must be a positive integer, got {max_tokens!r}")
        budgets = dict(DEFAULT_THINKING_BUDGETS)
        for effort, budget in (thinking_budgets or {}).items():
            if effort not in DEFAULT_THINKING_BUDGETS:
                known = sorted(DEFAULT_THINKING_BUDGETS)
                raise ValueError(f"AnthropicDialect: thinking_budgets keys are {known}, got {effort!r}")
            if not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_THINKING_BUDGET:
                raise ValueError(
                    f"AnthropicDialect: thinking budget for {effort!r} must be an integer >= "
                    f"{MIN_THINKING_BUDGET}, got {budget!r}"
                )
            budgets[effort] = budget
        body = dict(extra_body or {})
        try:
            json.dumps(body)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"AnthropicDialect: extra_body must be JSON-serialisable: {exc}") from None
        #: The bound on one streamed SSE event in bytes (``None``: none); past it, ``ProtocolError``.
        self.max_event_size = check_max_event_size(max_event_size, "AnthropicDialect")
        self.version = version
        self.betas: tuple[str, ...] = tuple(betas)
        self.auth = auth
        self.thinking_text: ThinkingText = thinking_text
        #: How requests are written (read by tests; the dialect is immutable in use).
        self.request_options = AnthropicRequestOptions(
            max_tokens=max_tokens, thinking=thinking, thinking_budgets=budgets, extra_body=body
        )

    # -- request --------------------------------------------------------------------------------

    def path(self, request: Request) -> str:
        """``/messages``, relative to the base URL (which ends in ``/v1``)."""
        return "/messages"

    def auth_headers(self, api_key: str) -> Mapping[str, str]:
        """``x-api-key: <key>`` (or ``Authorization: Bearer <key>`` with ``auth="bearer"``)."""
        if self.auth == "bearer":
            return {"authorization": f"Bearer {api_key}"}
        return {"x-api-key": api_key}

    def headers(self, request: Request) -> Mapping[str, str]:
        """``anthropic-version`` and, when configured, ``anthropic-beta``."""
        headers = {"anthropic-version": self.version}
        if self.betas:
            headers["anthropic-beta"] = ",".join(self.betas)
        return headers

    def translate(self, request: Request) -> dict[str, Any]:
        """The Messages body for ``request`` as a dict (what :meth:`encode` serialises)."""
        body = request.body
        if request.operation == "compact" or not isinstance(body, CreateResponseBody):
            raise RequestValidationError(
                "anthropic adapter: /responses/compact is not supported",
                [{"loc": (), "msg": "compact is not supported", "type": "unsupported"}],
            )
        return anthropic_request_body(body, stream=request.stream, options=self.request_options)

    def encode(self, request: Request) -> bytes:
        """The JSON request body; raises ``RequestValidationError`` before anything is sent."""
        return json.dumps(self.translate(request), ensure_ascii=False, separators=(",", ":")).encode()

    # -- replies --------------------------------------------------------------------------------

    def decoder(self, request: Request, *, provider: str) -> StreamDecoder:
        """A fresh :class:`~openresponses.transports._anthropic_stream.AnthropicStreamDecoder`."""
        body = request.body if isinstance(request.body, CreateResponseBody) else None
        return AnthropicStreamDecoder(
            body, thinking_text=self.thinking_text, max_event_size=self.max_event_size
        )

    def parse_body(self, body: bytes, request: Request, *, provider: str) -> Response | CompactResponse:
        """A whole ``message`` body as a ``Response``, through the stream's own machine.

        A failed translation (an error envelope under HTTP 200, a context-window stop) raises
        ``ResponseFailedError`` rather than returning a failed response as a success.
        """
        create = request.body if isinstance(request.body, CreateResponseBody) else None
        response, events = translate_message(body, create, thinking_text=self.thinking_text)
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
        """The typed error for a non-2xx reply from Anthropic's error envelope.

        ``request_id`` comes from the ``request-id`` header (or the envelope); ``.body`` keeps
        Anthropic's own shape, scrubbed of anything that looks like a credential.
        """
        normalized, original, mapped = error_body_bytes(body, status)
        exc = status_error_from_body(status, normalized, headers, provider=provider, reason=reason)
        exc.body = original
        lowered = {key.lower(): value for key, value in headers.items()}
        request_id = lowered.get("request-id") or (mapped.request_id if mapped is not None else None)
        if request_id:
            exc.request_id = request_id
        return exc

    def __repr__(self) -> str:
        r = self.request_options
        return (
            f"AnthropicDialect(version={self.version!r}, betas={list(self.betas)!r}, auth={self.auth!r}, "
            f"max_tokens={r.max_tokens}, thinking={r.thinking!r}, thinking_text={self.thinking_text!r}, "
            f"extra_body={sorted(r.extra_body)!r})"
        )
