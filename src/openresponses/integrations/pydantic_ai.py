"""pydantic-ai over openresponses: ``Agent(OpenResponsesModel("m", client=client))``.

The model sends every request through one :class:`~openresponses.AsyncClient`, so an agent gets
the client's middleware (retry, failover chains, circuit breaker, cache, tracing) and talks to
any Open Responses server or provider adapter::

    from pydantic_ai import Agent
    from openresponses import AsyncClient
    from openresponses.integrations.pydantic_ai import OpenResponsesModel

    client = AsyncClient.from_config("openresponses.toml")
    agent = Agent(OpenResponsesModel("gpt-5-mini", client=client), instructions="Be brief.")
    result = await agent.run("Hello")

``request`` sends one ``POST /responses``; ``request_stream`` streams it, driving pydantic-ai's
parts manager with text, thinking and tool-call deltas. Tools become function tools (``strict``
only when pydantic-ai decided it), ``NativeOutput`` a ``json_schema`` text format, and
``ThinkingPart``s from this model go back as reasoning items with their ``encrypted_content``.
Errors are ours, unchanged (``except openresponses.RateLimitError`` works around ``agent.run``).
Needs the ``pydantic-ai`` extra.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from .._extras import requires

with requires("OpenResponsesModel", "pydantic-ai"):
    from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse
    from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse, check_allow_model_requests
    from pydantic_ai.profiles import ModelProfile, ModelProfileSpec
    from pydantic_ai.settings import ModelSettings
    from pydantic_ai.tools import RunContext

from .._client import AsyncClient
from .._streaming import AsyncResponseStream
from ..types import Response
from ._pydantic_ai_messages import PROVIDER_NAME, build_body, map_response
from ._pydantic_ai_stream import OpenResponsesStreamedResponse

__all__ = ["OpenResponsesModel", "OpenResponsesStreamedResponse"]


class OpenResponsesModel(Model):
    """A pydantic-ai ``Model`` whose requests run through an openresponses ``AsyncClient``.

    Give ``client`` (shared, not closed by the model), or ``config`` (a TOML file for
    :meth:`AsyncClient.from_config`, ``chain`` picking one of its chains), or ``base_url`` /
    ``api_key`` (default ``OPENRESPONSES_BASE_URL`` / ``OPENRESPONSES_API_KEY``); a client the
    model built is closed by :meth:`aclose`. ``extra_body`` adds body fields to every request
    (``reasoning``, ``store``, provider extensions); per run, ``model_settings={"extra_body": ...}``
    does the same. ``settings`` and ``profile`` are pydantic-ai's.
    """

    def __init__(
        self,
        model_name: str,
        *,
        client: AsyncClient | None = None,
        config: str | os.PathLike[str] | None = None,
        chain: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
        settings: ModelSettings | None = None,
        profile: ModelProfileSpec | None = None,
    ) -> None:
        if not isinstance(model_name, str) or not model_name:
            raise ValueError("OpenResponsesModel needs a model name, e.g. OpenResponsesModel('gpt-5-mini')")
        if sum(x is not None for x in (client, config, base_url)) > 1:
            raise ValueError("pass one of client=, config= or base_url=")
        if client is not None:
            self._client, self._owned = client, False
        elif config is not None:
            self._client, self._owned = AsyncClient.from_config(config, chain=chain), True
        else:
            self._client, self._owned = AsyncClient(base_url=base_url, api_key=api_key), True
        self._model_name = model_name
        self._extra_body = dict(extra_body or {})
        if profile is None:
            profile = ModelProfile(supports_json_schema_output=True, supports_tools=True)
        super().__init__(settings=settings, profile=profile)

    @property
    def client(self) -> AsyncClient:
        """The client every request goes through."""
        return self._client

    @property
    def model_name(self) -> str:
        """The model name sent as ``model``."""
        return self._model_name

    @property
    def system(self) -> str:
        """``gen_ai.system`` for pydantic-ai's own instrumentation."""
        return PROVIDER_NAME

    @property
    def base_url(self) -> str | None:
        """The client's base URL (``None`` with an endpoint such as a ``Failover``)."""
        return self._client.base_url

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """One non-streaming ``POST /responses``."""
        check_allow_model_requests()
        settings, params = self.prepare_request(model_settings, model_request_parameters)
        body = self._body(messages, settings, params)
        request = self._client.build_request(body, stream=False, timeout=(settings or {}).get("timeout"))
        reply = await self._client.responses.deliver(request)
        assert isinstance(reply, Response)
        return map_response(reply, self._model_name)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        """A streamed ``POST /responses``; the connection is released when the block ends."""
        check_allow_model_requests()
        settings, params = self.prepare_request(model_settings, model_request_parameters)
        body = self._body(messages, settings, params)
        request = self._client.build_request(body, stream=True, timeout=(settings or {}).get("timeout"))
        stream = await self._client.responses.deliver(request)
        assert isinstance(stream, AsyncResponseStream)
        try:
            yield OpenResponsesStreamedResponse(
                model_request_parameters=params,
                _model_name=self._model_name,
                _stream=stream,
                _provider_url=self._client.base_url,
            )
        finally:
            await stream.close()

    def _body(
        self, messages: list[ModelMessage], settings: ModelSettings | None, params: ModelRequestParameters
    ) -> dict[str, Any]:
        return build_body(
            self._model_name,
            messages,
            settings,
            params,
            instructions=_instructions(messages, params),
            extra_body=self._extra_body,
        )

    async def aclose(self) -> None:
        """Close the client if this model built it (a client passed in stays open)."""
        if self._owned:
            await self._client.aclose()

    def __repr__(self) -> str:
        return f"OpenResponsesModel({self._model_name!r}, client={self._client!r})"


def _instructions(messages: list[ModelMessage], params: ModelRequestParameters) -> str | None:
    """The joined instructions in force (pydantic-ai's own helper, with a public fallback)."""
    try:
        from pydantic_ai._instrumentation import get_instructions
    except ImportError:  # pragma: no cover - a pydantic-ai that moved the helper
        for message in reversed(messages):
            if isinstance(message, ModelRequest) and message.instructions:
                return message.instructions
        return None
    return get_instructions(messages, params)
