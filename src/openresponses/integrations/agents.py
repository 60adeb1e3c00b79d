"""The OpenAI Agents SDK over openresponses: a ``Model`` and a ``ModelProvider``.

Every model call runs through one :class:`~openresponses.AsyncClient`, so an ``Agent`` gets the
client's providers, failover chains, retry, circuit breaker, cache and tracing::

    from agents import Agent, RunConfig, Runner
    from openresponses import AsyncClient
    from openresponses.integrations.agents import OpenResponsesProvider

    provider = OpenResponsesProvider(client=AsyncClient.from_config("openresponses.toml"))
    agent = Agent(name="helper", instructions="Be brief.", model="gpt-5-mini")
    result = await Runner.run(agent, "Hello", run_config=RunConfig(model_provider=provider))

``get_response`` sends one ``POST /responses``; ``stream_response`` yields the SDK's
``openai.types.responses`` stream events, converted from our typed events by their JSON.
``get_retry_advice`` reports our own retry decision (``retryable``, ``Retry-After``) to the SDK's
retry policies. Errors are ours, unchanged (``except openresponses.RateLimitError`` works around
``Runner.run``). Needs the ``agents`` extra.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from .._extras import requires

with requires("the Agents SDK integration", "agents"):
    from agents import Model, ModelProvider, ModelResponse, ModelSettings, ModelTracing
    from agents.agent_output import AgentOutputSchemaBase
    from agents.handoffs import Handoff
    from agents.items import TResponseInputItem, TResponseStreamEvent
    from agents.retry import ModelRetryAdvice, ModelRetryAdviceRequest
    from agents.tool import Tool
    from agents.tracing import ResponseSpanData, Span, response_span

from .._client import AsyncClient
from .._streaming import AsyncResponseStream
from ..types import Response
from ._agents_convert import build_body, retry_advice, sdk_event, sdk_response, sdk_usage

__all__ = ["OpenResponsesModel", "OpenResponsesProvider"]


class OpenResponsesModel(Model):
    """An Agents SDK ``Model`` whose calls run through an openresponses ``AsyncClient``.

    ``extra_body`` adds body fields to every call; per agent, ``ModelSettings(extra_body=...,
    extra_headers=..., timeout=...)`` do the same for that agent's calls. The model does not own
    the client (close it, or use :class:`OpenResponsesProvider`, which closes what it built).
    """

    def __init__(
        self, model: str, *, client: AsyncClient, extra_body: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(
                "OpenResponsesModel needs a model name, e.g. OpenResponsesModel('gpt-5-mini', ...)"
            )
        self.model = model
        self.client = client
        self._extra_body = dict(extra_body or {})

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff[Any, Any]],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> ModelResponse:
        """One non-streaming call; the SDK's ``response`` span records it when tracing is on."""
        async with self._call(
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            prompt=prompt,
            stream=False,
        ) as (reply, span):
            assert isinstance(reply, Response)
            response = sdk_response(reply.to_dict())
            span.span_data.response = response
        return ModelResponse(
            output=list(response.output),
            usage=sdk_usage(response),
            response_id=response.id,
            request_id=None,
        )

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff[Any, Any]],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """A streamed call: the SDK's Responses events, ending with ``response.completed``."""
        async with self._call(
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            prompt=prompt,
            stream=True,
        ) as (stream, span):
            assert isinstance(stream, AsyncResponseStream)
            try:
                async for event in stream:
                    converted = sdk_event(event.to_dict())
                    if converted.type in ("response.completed", "response.incomplete"):
                        span.span_data.response = converted.response
                    yield converted
            finally:
                await stream.close()

    def get_retry_advice(self, request: ModelRetryAdviceRequest) -> ModelRetryAdvice | None:
        """Our retry decision for a failed call (``None`` for an error that is not ours)."""
        return retry_advice(request.error)

    @asynccontextmanager
    async def _call(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff[Any, Any]],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: Any,
        stream: bool,
    ) -> AsyncIterator[tuple[Response | AsyncResponseStream, Span[ResponseSpanData]]]:
        """Send the call inside the SDK's ``response`` span; yields the reply and the open span.

        The body is built before the span opens: a request the SDK handed us wrong is not a traced
        model call.
        """
        body = build_body(
            self.model,
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            prompt=prompt,
        )
        with response_span(disabled=tracing.is_disabled()) as span:
            request = self._request(body, model_settings, stream=stream)
            yield await self.client.responses.deliver(request), span

    def _request(self, body: dict[str, Any], settings: ModelSettings, *, stream: bool) -> Any:
        extra: dict[str, Any] = {**self._extra_body, **(settings.extra_body or {})}  # type: ignore[dict-item]
        headers = {k: str(v) for k, v in (settings.extra_headers or {}).items() if v is not None}
        return self.client.build_request(
            {**body, **extra}, stream=stream, extra_headers=headers or None, timeout=settings.timeout
        )

    def __repr__(self) -> str:
        return f"OpenResponsesModel({self.model!r}, client={self.client!r})"


class OpenResponsesProvider(ModelProvider):
    """An Agents SDK ``ModelProvider``: every agent's model name runs through one client.

    Give ``client`` (shared: not closed by :meth:`aclose`), or ``config`` (a TOML file for
    :meth:`AsyncClient.from_config`, ``chain`` picking a chain), or ``base_url`` / ``api_key``.
    ``default_model`` serves agents that name none. Use it per run
    (``RunConfig(model_provider=provider)``) or for a whole ``MultiProvider`` prefix.
    """

    def __init__(
        self,
        *,
        client: AsyncClient | None = None,
        config: str | os.PathLike[str] | None = None,
        chain: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        default_model: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if sum(x is not None for x in (client, config, base_url)) > 1:
            raise ValueError("pass one of client=, config= or base_url=")
        if client is not None:
            self.client, self._owned = client, False
        elif config is not None:
            self.client, self._owned = AsyncClient.from_config(config, chain=chain), True
        else:
            self.client, self._owned = AsyncClient(base_url=base_url, api_key=api_key), True
        self.default_model = default_model
        self._extra_body = dict(extra_body or {})

    def get_model(self, model_name: str | None) -> Model:
        """An :class:`OpenResponsesModel` for ``model_name`` (else ``default_model``)."""
        name = model_name or self.default_model
        if not name:
            raise ValueError("the agent names no model and OpenResponsesProvider has no default_model")
        return OpenResponsesModel(name, client=self.client, extra_body=self._extra_body)

    async def aclose(self) -> None:
        """Close the client if this provider built it."""
        if self._owned:
            await self.client.aclose()
