"""LangChain chat model over an openresponses client: ``ChatOpenResponses`` (extra ``langchain``).

Every call runs through the client's middleware stack (retry, failover, circuit breaker, cache,
tracing), so a chain gets them without rewriting::

    from openresponses import AsyncClient, Client
    from openresponses.integrations.langchain import ChatOpenResponses

    llm = ChatOpenResponses(model="gpt-5", base_url="http://localhost:8001/v1")
    llm = ChatOpenResponses(model="gpt-5", config="openresponses.toml", chain="default")
    llm = ChatOpenResponses(model="gpt-5", client=AsyncClient(...), sync_client=Client(...))

``ainvoke`` / ``astream`` run natively on the ``AsyncClient``; ``invoke`` / ``stream`` on the sync
``Client``. Given only one of them, the other side is derived from the same options when
possible (a base URL or config file), and otherwise refused with a clear error (an
``AsyncClient`` cannot serve a sync call) or, for async calls over a sync ``Client`` only, run in
LangChain's thread executor. Request building and result parsing are pure functions in
``_langchain_messages``, ``_langchain_output`` and ``_langchain_tools``, assembled per call in
``_langchain_call``; structured output is built in ``_langchain_structured``. See
docs/integrations/langchain.md.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._extras import MissingExtraError

try:
    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.language_models.base import LangSmithParams
    from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from langchain_core.runnables import Runnable
    from langchain_core.utils import from_env, secret_from_env
    from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by tests/test_extras_missing.py
    if (exc.name or "").split(".")[0] not in ("langchain_core",):
        raise
    raise MissingExtraError("ChatOpenResponses", "langchain", missing=exc.name) from None

from .._client import AsyncClient
from .._errors import ConfigError
from .._streaming import AsyncResponseStream
from .._sync import Client, ResponseStream
from ..types import Response
from ._langchain_call import call_params, chat_result
from ._langchain_messages import SystemMode
from ._langchain_output import PROVIDER_TAG, ChunkBuilder, text_of
from ._langchain_structured import JSON_MODE_FORMAT as JSON_MODE_FORMAT
from ._langchain_structured import structured_output
from ._langchain_tools import to_tool, to_tool_choice
from ._loop_clients import LoopClients

if TYPE_CHECKING:
    from .._pipeline import Request

__all__ = ["ChatOpenResponses"]

_SOURCE_FIELDS = ("base_url", "api_key", "timeout", "max_retries")


class ChatOpenResponses(BaseChatModel):
    """A LangChain ``BaseChatModel`` for any Open Responses server, through openresponses' client.

    Build it from clients (``client=AsyncClient(...)`` and/or ``sync_client=Client(...)``), a
    config file (``config="openresponses.toml"``, ``chain=...``) or a base URL (``base_url=...``,
    ``api_key=...``, ``timeout=...``, ``max_retries=...``; they default to
    ``OPENRESPONSES_BASE_URL`` / ``OPENRESPONSES_API_KEY``). Exactly one of these sources.

    Request fields: ``model``, ``temperature``, ``top_p``, ``max_output_tokens`` (alias
    ``max_tokens``), ``reasoning`` (e.g. ``{"effort": "low", "summary": "auto"}``), ``store``,
    ``include`` and ``extra_body`` (provider-specific fields); any of them, and any other body
    field (``tools``, ``text``, ``metadata``, ...), can be given per call or with ``bind``.
    ``stop`` is accepted for LangChain's standard parameters and reported to tracing, but not
    sent: the Open Responses spec has no stop sequences (put ``stop`` in ``extra_body`` if your
    server takes one).
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=())

    model: str | None = None
    """Model name sent as ``model`` (``None``: the server or ``Provider(model=...)`` chooses)."""
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = Field(default=None, alias="max_tokens")
    reasoning: dict[str, Any] | None = None
    """The spec's ``reasoning`` object: ``{"effort": ..., "summary": ...}``."""
    store: bool | None = None
    """``store=False`` makes the call stateless; reasoning is then requested with its
    ``encrypted_content`` so it can be given back on the next turn."""
    include: list[str] | None = None
    extra_body: dict[str, Any] | None = None
    """Provider-specific body fields, merged into every request (per-call ``extra_body`` wins)."""
    stop: list[str] | None = None
    streaming: bool = False
    """``invoke`` streams underneath and returns the aggregate (callbacks see each token)."""
    system_message_mode: SystemMode = "instructions"
    """Leading ``SystemMessage``\\ s go to ``instructions`` (default), or stay ``system`` /
    ``developer`` message items."""

    client: AsyncClient | None = Field(default=None, exclude=True)
    sync_client: Client | None = Field(default=None, exclude=True)
    config: str | Path | None = None
    chain: str | None = None
    base_url: str | None = Field(default_factory=from_env("OPENRESPONSES_BASE_URL", default=None))
    api_key: SecretStr | None = Field(default_factory=secret_from_env("OPENRESPONSES_API_KEY", default=None))
    timeout: float | None = None
    max_retries: int | None = None

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _own_sync: Client | None = PrivateAttr(default=None)
    _own_async: LoopClients = PrivateAttr(default_factory=LoopClients)

    @model_validator(mode="after")
    def _check_source(self) -> ChatOpenResponses:
        given = self.model_fields_set
        clients = self.client is not None or self.sync_client is not None
        url = [name for name in _SOURCE_FIELDS if name in given and getattr(self, name) is not None]
        if clients and (self.config is not None or url):
            extra = ", ".join(["config"] * (self.config is not None) + url)
            raise ConfigError(
                f"ChatOpenResponses got client=/sync_client= and {extra}: configure those on the "
                "client (or drop the client and let the model build one)",
                key="client",
            )
        if self.config is not None and url:
            raise ConfigError(f"pass config=... or {', '.join(url)}, not both", key="config")
        if self.chain is not None and self.config is None:
            raise ConfigError("chain= picks a chain of a config file: pass config=... too", key="chain")
        if not clients and self.config is None and not self.base_url:
            raise ConfigError(
                "ChatOpenResponses needs a client=AsyncClient(...) / sync_client=Client(...), a "
                "config='openresponses.toml', or a base_url=... (or OPENRESPONSES_BASE_URL)",
                key="base_url",
            )
        if self.client is not None and not isinstance(self.client, AsyncClient):
            raise ConfigError(
                f"client must be an AsyncClient, not {type(self.client).__name__}", key="client"
            )
        if self.sync_client is not None and not isinstance(self.sync_client, Client):
            raise ConfigError(
                f"sync_client must be a Client, not {type(self.sync_client).__name__}", key="sync_client"
            )
        return self

    # -- LangChain's identity hooks -----------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "openresponses"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_output_tokens": self.max_output_tokens,
            "reasoning": self.reasoning,
            "store": self.store,
            "config": str(self.config) if self.config is not None else None,
            "chain": self.chain,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=PROVIDER_TAG,
            ls_model_name=str(kwargs.get("model") or self.model or ""),
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_output_tokens", kwargs.get("max_tokens", self.max_output_tokens))
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = list(stop or self.stop or [])
        return params

    # -- clients ------------------------------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "api_key": self.api_key.get_secret_value() if self.api_key is not None else None,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }

    def _async(self) -> AsyncClient | None:
        """The ``AsyncClient`` for this event loop (``None``: only a sync ``Client`` was given)."""
        if self.client is not None:
            return self.client
        if self.sync_client is not None:
            return None
        # One client per event loop (an httpx pool cannot move between loops: two asyncio.run()s),
        # closed when its loop shuts down.
        return self._own_async.get(self._new_async)

    def _new_async(self) -> AsyncClient:
        if self.config is not None:
            return AsyncClient.from_config(self.config, chain=self.chain)
        return AsyncClient(**self._client_options())

    def _sync(self) -> Client:
        if self.sync_client is not None:
            return self.sync_client
        if self.client is not None:
            raise ConfigError(
                "ChatOpenResponses was given only an AsyncClient: use ainvoke()/astream(), or pass "
                "sync_client=Client(...) for invoke()/stream()",
                key="sync_client",
            )
        with self._lock:
            if self._own_sync is None:
                if self.config is not None:
                    self._own_sync = Client.from_config(self.config, chain=self.chain)
                else:
                    self._own_sync = Client(**self._client_options())
            return self._own_sync

    def close(self) -> None:
        """Close the sync client this model built (clients you passed in are yours to close)."""
        with self._lock:
            own, self._own_sync = self._own_sync, None
        if own is not None:
            own.close()

    async def aclose(self) -> None:
        """Close the clients this model built: the sync one, and the async one of this loop (each
        loop's is also closed when that loop shuts down, e.g. at the end of ``asyncio.run``)."""
        self.close()
        await self._own_async.aclose_current()

    # -- the request --------------------------------------------------------------------------------

    def _params(
        self, messages: list[BaseMessage], kwargs: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(body fields, extra_body)`` for a call: model fields, then per-call overrides."""
        return call_params(self, messages, kwargs)

    def _prepare_async(
        self, client: AsyncClient, messages: list[BaseMessage], kwargs: Mapping[str, Any], *, stream: bool
    ) -> Request:
        params, extra = self._params(messages, kwargs)
        return client.responses.prepare(
            "create",
            params,
            stream=stream,
            extra_headers=None,
            extra_body=extra or None,
            timeout=None,
            idempotency_key=None,
        )

    # -- async --------------------------------------------------------------------------------------

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        client = self._async()
        if client is None:  # only a sync Client: LangChain's executor runs it off the loop
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        request = self._prepare_async(client, messages, kwargs, stream=False)
        response = await client.responses.deliver(request)
        assert isinstance(response, Response)
        return chat_result(response, request.context.attempts)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        client = self._async()
        if client is None:
            async for fallback in super()._astream(messages, stop, run_manager, **kwargs):
                yield fallback
            return
        request = self._prepare_async(client, messages, kwargs, stream=True)
        stream = await client.responses.deliver(request)
        assert isinstance(stream, AsyncResponseStream)
        builder = ChunkBuilder()
        try:
            async for event in stream:
                for chunk in builder.feed(event):
                    generation = ChatGenerationChunk(message=chunk)
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(text_of(chunk), chunk=generation)
                    yield generation
            final = await stream.get_final_response()
        finally:
            await stream.close()
        yield ChatGenerationChunk(message=builder.finish(final, attempts=request.context.attempts))

    # -- sync ---------------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        client = self._sync()
        request = self._prepare_async(client.async_client, messages, kwargs, stream=False)
        # The sync facade's own loop runs the call (what Client.responses.create does), keeping
        # the Request so its context reports the attempts and the provider that served.
        runner, aclient = client._ensure()
        response = runner.run(lambda: aclient.responses.deliver(request))
        assert isinstance(response, Response)
        return chat_result(response, request.context.attempts)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        client = self._sync()
        request = self._prepare_async(client.async_client, messages, kwargs, stream=True)
        runner, aclient = client._ensure()
        reply = runner.run(lambda: aclient.responses.deliver(request))
        assert isinstance(reply, AsyncResponseStream)
        runner.track(reply.events)
        stream = ResponseStream(reply, runner)
        builder = ChunkBuilder()
        try:
            for event in stream:
                for chunk in builder.feed(event):
                    generation = ChatGenerationChunk(message=chunk)
                    if run_manager is not None:
                        run_manager.on_llm_new_token(text_of(chunk), chunk=generation)
                    yield generation
            final = stream.get_final_response()
        finally:
            stream.close()
        yield ChatGenerationChunk(message=builder.finish(final, attempts=request.context.attempts))

    # -- tools and structured output ----------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any LangChain tool shape) as the spec's function tools.

        ``tool_choice``: ``"auto"``, ``"none"``, ``"required"``, ``"any"`` (→ ``"required"``),
        ``True`` (→ ``"required"``), or a tool's name (→ that function). ``strict`` sets every
        function's ``strict`` flag (a boolean; left out when ``None``).
        """
        formatted = [to_tool(tool, strict=strict) for tool in tools]
        choice = to_tool_choice(tool_choice, formatted)
        if choice is not None:
            kwargs["tool_choice"] = choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Answers parsed into ``schema`` (a pydantic model, a TypedDict or a JSON schema).

        ``method="json_schema"`` (default) sends ``text.format`` ``json_schema``;
        ``"function_calling"`` forces a call of a tool shaped like the schema; ``"json_mode"``
        asks for any JSON object (the spec has no ``json_object`` format, so it is sent as a
        ``json_schema`` format named ``json_object`` with the schema ``{"type": "object"}``;
        say in the prompt which keys you want). With
        ``include_raw=True`` the result is ``{"raw", "parsed", "parsing_error"}``.
        """
        if kwargs:
            raise TypeError(f"with_structured_output() got unexpected arguments {sorted(kwargs)}")
        return structured_output(self, schema, include_raw=include_raw, method=method, strict=strict)
