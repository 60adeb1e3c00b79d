"""The Chat Completions dialect: Open Responses spoken to any OpenAI-compatible chat server.

TGI, Ollama, vLLM, LM Studio, llama.cpp, Groq, Together, DeepSeek, OpenRouter and OpenAI itself
all serve ``POST /chat/completions``. :class:`ChatCompletionsDialect` translates both ways, sans
I/O: the request body (``_chat_request``), streamed chunks and whole bodies (``_chat_stream``)
and error bodies (``_chat_errors``). The HTTP transport does the I/O; the served proxy reuses
the same dialect. docs/chat-completions.md has the field-by-field table.

The constructor options are what a provider preset needs to say about its upstream: where
reasoning arrives, whether to send reasoning back, which fields it may drop, the name of the
token-limit parameter, whether it accepts ``stream_options`` and ``reasoning_effort``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, get_args

from pydantic_core import to_json

from .._errors import APIStatusError, RequestValidationError
from .._sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder, check_max_event_size
from ..types import CreateResponseBody
from ._chat_errors import error_body_bytes
from ._chat_request import (
    CallIds,
    ChatRequestOptions,
    JsonSchemaStyle,
    MaxTokensField,
    SendReasoning,
    chat_request_body,
    plain_chat_request,
)
from ._chat_stream import (
    ChatStreamDecoder,
    ChatStreamOptions,
    ReasoningField,
    completion_json,
    plain_completion,
    translate_completion,
)
from ._reply import status_error_from_body, translated_reply

if TYPE_CHECKING:
    from .._pipeline import Request
    from ..types import CompactResponse, Response
    from ._dialect import StreamDecoder

__all__ = ["ChatCompletionsDialect"]


def _choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"ChatCompletionsDialect: {name} must be one of {list(allowed)}, got {value!r}")


class ChatCompletionsDialect:
    """Speak Open Responses to an OpenAI-compatible ``/chat/completions`` server.

    Every method is pure. ``encode`` raises :class:`~openresponses.RequestValidationError`
    naming any field Chat Completions cannot carry (never a silent drop); streamed and whole
    replies become spec events and ``Response`` objects; error bodies of every known shape
    become the typed ``APIStatusError`` with the spec ``code`` filled in.

    Options (a provider preset sets them once):

    - ``reasoning_field``: where reasoning is read: ``auto`` (any of ``reasoning_details``,
      ``reasoning``, ``reasoning_content``, taking one when aliases repeat the text) or one
      field only.
    - ``think_tags``: split ``<think>…</think>`` at the start of ``content`` into reasoning;
      ``think_open``: the chat template opens ``<think>`` in the prompt, so content starts as
      reasoning until ``</think>``.
    - ``send_reasoning``: how reasoning items given back as input are sent: ``drop`` (default),
      or as the assistant message's ``reasoning_content`` (DeepSeek) or ``reasoning`` (Ollama,
      vLLM), or ``reasoning_details`` (OpenRouter: its structured entries, signatures and
      encrypted blocks included, sent back unchanged, which Claude and Gemini models behind it
      need across tool turns). When not ``drop``, raw reasoning is also carried in each
      reasoning item's ``encrypted_content`` so it survives the round trip.
    - ``drop_unsupported``: fields (``"top_logprobs"``, ``"reasoning.summary"``,
      ``"text.verbosity"``, even translatable ones like ``"temperature"``) the preset knows are
      safe to drop for this upstream instead of raising.
    - ``skip_hosted_tools``: skip non-function tools instead of raising.
    - ``max_tokens_field``: ``max_tokens`` (Ollama, LM Studio, most servers) or
      ``max_completion_tokens`` (OpenAI reasoning models).
    - ``stream_usage``: send ``stream_options: {include_usage: true}`` on streams.
    - ``reasoning_effort``: send ``reasoning.effort`` as ``reasoning_effort`` (when ``False``,
      an effort in the request is an unsupported field).
    - ``json_schema_style``: ``openai`` (``response_format.json_schema``) or ``tgi``
      (``response_format.value``: TGI rejects OpenAI's key).
    - ``extra_body``: fixed fields added to every request (``{"reasoning_format": "parsed"}``
      for Groq, ``{"chat_template_kwargs": {...}}`` for vLLM); fields the translation sets win.
    - ``max_event_size``: the bound on one streamed SSE event in bytes (16 MiB; ``None``: none).
    - ``tool_choice_ignored``: the upstream ignores ``tool_choice`` (Ollama): ``auto`` is not
      sent, ``none`` sends no tools, a forced call (``required``, a named function) is refused.
    - ``tools_or_format``: the upstream refuses ``tools`` and a structured-output format in one
      request (TGI): such a request is refused here, naming ``text.format``, before it is sent.
    - ``call_ids``: ``as_is`` (default), or ``mistral``: every call id sent (``tool_calls[].id``,
      ``tool_call_id``) in Mistral's ``[A-Za-z0-9]{9}``, which Mistral's API and vLLM in Mistral
      tokenizer mode require (PROVIDERS.md trap 14); ids of another form are replaced by a
      digest of themselves, so calls and outputs still match, in every turn.
    - ``call_extra_content``: send each tool call's ``extra_content`` back on it. Gemini's
      OpenAI-compatible endpoint puts a call's thought signature there and answers 400 without
      it on the next turn (PROVIDERS.md trap 4); the dialect always keeps it, in our envelope,
      as the function call item's ``encrypted_content``. Off by default: other servers may
      refuse a key they do not know.
    - ``require_done``: the upstream always ends a stream with ``data: [DONE]`` (OpenAI, vLLM,
      TGI, llama.cpp, Ollama, OpenRouter), so a body that ends without it was cut, even after a
      finish chunk (the usage chunk that follows it is then lost): ``response.failed`` with the
      partial output, never ``completed`` (PROVIDERS.md, trap 10). Off: such an end completes.

    ::

        transport = HTTPTransport(base_url="http://localhost:11434/v1",
                                  dialect=ChatCompletionsDialect(send_reasoning="reasoning"))
    """

    name = "chat-completions"

    def __init__(
        self,
        *,
        reasoning_field: ReasoningField = "auto",
        think_tags: bool = True,
        think_open: bool = False,
        send_reasoning: SendReasoning = "drop",
        drop_unsupported: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
        skip_hosted_tools: bool = False,
        max_tokens_field: MaxTokensField = "max_tokens",
        stream_usage: bool = True,
        reasoning_effort: bool = True,
        json_schema_style: JsonSchemaStyle = "openai",
        extra_body: Mapping[str, Any] | None = None,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        require_done: bool = False,
        tool_choice_ignored: bool = False,
        tools_or_format: bool = False,
        call_ids: CallIds = "as_is",
        call_extra_content: bool = False,
    ) -> None:
        #: The bound on one streamed SSE event in bytes (``None``: none); past it, ``ProtocolError``.
        self.max_event_size = check_max_event_size(max_event_size, "ChatCompletionsDialect")
        _choice("reasoning_field", reasoning_field, get_args(ReasoningField))
        _choice("send_reasoning", send_reasoning, get_args(SendReasoning))
        _choice("max_tokens_field", max_tokens_field, get_args(MaxTokensField))
        _choice("json_schema_style", json_schema_style, get_args(JsonSchemaStyle))
        _choice("call_ids", call_ids, get_args(CallIds))
        if isinstance(drop_unsupported, str) or not all(isinstance(f, str) for f in drop_unsupported):
            raise TypeError("ChatCompletionsDialect: drop_unsupported must be a collection of field names")
        body = dict(extra_body or {})
        try:
            json.dumps(body)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"ChatCompletionsDialect: extra_body must be JSON-serialisable: {exc}") from None
        #: How requests are written (read by the proxy and tests; the dialect is immutable in use).
        self.request_options = ChatRequestOptions(
            send_reasoning=send_reasoning,
            drop_unsupported=frozenset(drop_unsupported),
            skip_hosted_tools=skip_hosted_tools,
            max_tokens_field=max_tokens_field,
            stream_usage=stream_usage,
            reasoning_effort=reasoning_effort,
            json_schema_style=json_schema_style,
            extra_body=body,
            tool_choice_ignored=bool(tool_choice_ignored),
            tools_or_format=bool(tools_or_format),
            call_ids=call_ids,
            call_extra_content=bool(call_extra_content),
        )
        #: How replies are read.
        self.stream_options = ChatStreamOptions(
            reasoning_field=reasoning_field,
            think_tags=think_tags,
            think_open=think_open,
            carry_reasoning=send_reasoning != "drop",
            carry_details=send_reasoning == "reasoning_details",
            require_done=bool(require_done),
        )

    # -- request --------------------------------------------------------------------------------

    def path(self, request: Request) -> str:
        """``/chat/completions``, relative to the transport's base URL (which ends in ``/v1``)."""
        return "/chat/completions"

    def auth_headers(self, api_key: str) -> Mapping[str, str]:
        """``Authorization: Bearer <key>``: what every OpenAI-compatible server reads."""
        return {"authorization": f"Bearer {api_key}"}

    def headers(self, request: Request) -> Mapping[str, str]:
        """No extra headers."""
        return {}

    def translate(self, request: Request) -> dict[str, Any]:
        """The Chat Completions body for ``request`` as a dict (what :meth:`encode` serialises)."""
        body = request.body
        if request.operation == "compact" or not isinstance(body, CreateResponseBody):
            raise RequestValidationError(
                "the chat-completions adapter does not support /responses/compact",
                [{"loc": (), "msg": "compact is not supported", "type": "unsupported"}],
            )
        return chat_request_body(body, stream=request.stream, options=self.request_options)

    def encode(self, request: Request) -> bytes:
        """The JSON request body; raises ``RequestValidationError`` before anything is sent."""
        body = request.body
        options = self.request_options
        if (
            request.operation == "create"
            and type(body) is CreateResponseBody
            and not options.extra_body
            and type(self).translate is ChatCompletionsDialect.translate  # a subclass's own is kept
        ):
            plain = plain_chat_request(body, stream=request.stream, options=options)
            if plain is not None:
                # Only strings and flags: pydantic-core's writer gives json.dumps' bytes (tested), in
                # a fifth of the time. Anything it refuses (a lone surrogate) takes json's path.
                with contextlib.suppress(ValueError):
                    return to_json(plain)
        return json.dumps(self.translate(request), ensure_ascii=False, separators=(",", ":")).encode()

    # -- replies --------------------------------------------------------------------------------

    def decoder(self, request: Request, *, provider: str) -> StreamDecoder:
        """A fresh :class:`~openresponses.transports._chat_stream.ChatStreamDecoder` for one stream."""
        body = request.body if isinstance(request.body, CreateResponseBody) else None
        decoder = ChatStreamDecoder(body, options=self.stream_options)
        decoder._sse = SSEDecoder(max_event_size=self.max_event_size)  # nothing fed yet
        return decoder

    def parse_body(self, body: bytes, request: Request, *, provider: str) -> Response | CompactResponse:
        """A whole ``chat.completion`` body as a ``Response``.

        A body reporting a failure under HTTP 200 (OpenRouter's ``error``, DeepSeek's
        ``insufficient_system_resource``) raises ``ResponseFailedError`` rather than returning
        a failed response as a success, so Retry and Failover see it.
        """
        create = request.body if isinstance(request.body, CreateResponseBody) else None
        parsed = completion_json(body)  # once, for the fast path and the machine
        plain = plain_completion(parsed, create, options=self.stream_options)
        if plain is not None:
            return translated_reply(plain, (), provider)
        response, events = translate_completion(parsed, create, options=self.stream_options, raw=body)
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
        """The typed error for a non-2xx reply, whatever shape the server's error body has.

        The body is first rewritten in the spec shape (``error.message``, ``error.code``:
        ``context_length_exceeded``, ``content_filter``, ...); ``.body`` keeps the server's own
        shape, scrubbed of anything that looks like a credential.
        """
        normalized, original = error_body_bytes(body, status)
        exc = status_error_from_body(status, normalized, headers, provider=provider, reason=reason)
        exc.body = original
        return exc

    def __repr__(self) -> str:
        r, s = self.request_options, self.stream_options
        return (
            f"ChatCompletionsDialect(reasoning_field={s.reasoning_field!r}, think_tags={s.think_tags}, "
            f"think_open={s.think_open}, send_reasoning={r.send_reasoning!r}, "
            f"drop_unsupported={sorted(r.drop_unsupported)!r}, skip_hosted_tools={r.skip_hosted_tools}, "
            f"max_tokens_field={r.max_tokens_field!r}, stream_usage={r.stream_usage}, "
            f"reasoning_effort={r.reasoning_effort}, json_schema_style={r.json_schema_style!r}, "
            f"extra_body={sorted(r.extra_body)!r}, require_done={s.require_done}, "
            f"tool_choice_ignored={r.tool_choice_ignored}, tools_or_format={r.tools_or_format}, "
            f"call_ids={r.call_ids!r}, call_extra_content={r.call_extra_content})"
        )
