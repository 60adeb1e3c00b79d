"""The 0.1.x API, kept so code written for the old ``openresponses-python`` package keeps running.

This package took over the ``openresponses-python`` name and the ``openresponses`` import name
from an earlier 0.1.x package. Its client lived here::

    from openresponses.client import AsyncOpenResponsesClient

    client = AsyncOpenResponsesClient(base_url="http://localhost:8001")
    stream = await client.create(model="m", input="Why is the sky blue?", stream=True)
    async for event in stream:
        if event.event == "response.reasoning.delta":
            print(event.data["delta"], end="")
        elif event.event == "response.text.delta":
            print(event.data["delta"], end="")

That still works, on top of :class:`openresponses.AsyncClient` (so over the same transport, with
typed errors), with a :class:`DeprecationWarning` naming the new API. What the old clients did
is kept: ``base_url`` is the server root (``/v1/responses`` is appended), a 60 s timeout, a
new connection per call. Stream events keep the old shape (``.event``, ``.data``) and the old
off-spec names (:data:`LEGACY_EVENT_NAMES`); every other event keeps its spec name. The
non-streaming answer is the new :class:`~openresponses.types.Response` (``output``, ``id``,
``model``; ``created`` is now ``created_at``). HTTP errors are the typed
:class:`~openresponses.APIStatusError` family instead of ``httpx.HTTPStatusError``.
docs/migrating.md has the before/after table.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict, PrivateAttr

from ._client import AsyncClient
from ._sync import Client
from .types import Response
from .types.events import StreamEvent as SpecEvent

__all__ = ["LEGACY_EVENT_NAMES", "AsyncOpenResponsesClient", "OpenResponsesClient", "StreamEvent"]

LEGACY_EVENT_NAMES: Mapping[str, str] = {
    "response.output_text.delta": "response.text.delta",
    "response.reasoning_text.delta": "response.reasoning.delta",  # OpenAI's name; the spec's is kept
}
"""Spec event name → the 0.1.x name ``StreamEvent.event`` carries; any other name is unchanged."""

_TIMEOUT_S = 60.0  # what every 0.1.x request used
_MIGRATE = "see docs/migrating.md"


class StreamEvent(BaseModel):
    """One streaming event in the 0.1.x shape: ``event`` (its name) and ``data`` (its JSON payload).

    ``event`` is the spec's event type, except the 0.1.x names of :data:`LEGACY_EVENT_NAMES`
    (``response.text.delta``). ``typed_event`` is the new typed event, for migrating a branch at
    a time (``event.typed_event.delta``).
    """

    model_config = ConfigDict(frozen=True)

    event: str
    data: dict[str, Any]
    _typed: Any = PrivateAttr(default=None)

    @property
    def typed_event(self) -> SpecEvent:
        """The typed event this was made from (what ``openresponses.AsyncClient`` yields)."""
        return self._typed  # type: ignore[no-any-return]

    @classmethod
    def from_event(cls, event: SpecEvent) -> StreamEvent:
        """Wrap a typed event, renaming it per :data:`LEGACY_EVENT_NAMES`."""
        legacy = cls(
            event=LEGACY_EVENT_NAMES.get(event.type, event.type),
            data=event.model_dump(mode="json", exclude_unset=True),
        )
        legacy._typed = event
        return legacy


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"openresponses.client.{old} is the 0.1.x API, kept for compatibility: use {new} ({_MIGRATE})",
        DeprecationWarning,
        stacklevel=3,
    )


def _api_root(base_url: str | None) -> str | None:
    # 0.1.x appended "/v1/responses" to base_url; the new clients append "/responses".
    return None if base_url is None else base_url.rstrip("/") + "/v1"


def _params(model: str, input: Any, max_tool_calls: int | None) -> dict[str, Any]:
    if isinstance(input, list):
        # 0.1.x took its own pydantic item models; their dumps are spec-shaped items.
        input = [
            item.model_dump(exclude_none=True) if isinstance(item, BaseModel) else item for item in input
        ]
    params: dict[str, Any] = {"model": model, "input": input}
    if max_tool_calls is not None:
        params["max_tool_calls"] = max_tool_calls
    return params


class AsyncOpenResponsesClient:
    """0.1.x's async client (deprecated): ``await create(...)``, events as ``.event`` / ``.data``.

    ``base_url`` is the server root, as in 0.1.x (``http://localhost:8001``, not ``.../v1``).
    ``client=`` runs the calls through an :class:`~openresponses.AsyncClient` you configured
    (middleware, failover, ...) instead of a new one per call; ``base_url`` and ``api_key`` are
    then ignored, and you close it.
    """

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, client: AsyncClient | None = None
    ) -> None:
        _warn("AsyncOpenResponsesClient", "openresponses.AsyncClient(base_url='.../v1')")
        self.base_url = base_url.rstrip("/") if base_url is not None else None
        self._api_key = api_key
        self._client = client

    def __repr__(self) -> str:
        return f"AsyncOpenResponsesClient(base_url={self.base_url!r})"

    def _new_client(self) -> AsyncClient:
        if self._client is not None:
            return self._client
        return AsyncClient(base_url=_api_root(self.base_url), api_key=self._api_key, timeout=_TIMEOUT_S)

    @overload
    async def create(
        self, model: str, input: Any, stream: Literal[False] = False, max_tool_calls: int | None = None
    ) -> Response: ...

    @overload
    async def create(
        self, model: str, input: Any, stream: Literal[True], max_tool_calls: int | None = None
    ) -> AsyncIterator[StreamEvent]: ...

    async def create(
        self, model: str, input: Any, stream: bool = False, max_tool_calls: int | None = None
    ) -> Response | AsyncIterator[StreamEvent]:
        """Create a response; with ``stream=True``, an async iterator of :class:`StreamEvent`.

        New API: ``await AsyncClient(...).responses.create(model=..., input=..., stream=...)``.
        As in 0.1.x, a stream sends its request when first iterated.
        """
        params = _params(model, input, max_tool_calls)
        if stream:
            return self._events(params)
        client = self._new_client()
        try:
            response: Response = await client.responses.create(**params)
            return response
        finally:
            if client is not self._client:
                await client.aclose()

    async def _events(self, params: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        client = self._new_client()
        try:
            events = await client.responses.create(stream=True, **params)
            try:
                async for event in events:
                    yield StreamEvent.from_event(event)
            finally:
                await events.close()
        finally:
            if client is not self._client:
                await client.aclose()


class OpenResponsesClient:
    """0.1.x's sync client (deprecated): ``create(...)``, events as ``.event`` / ``.data``.

    Same rules as :class:`AsyncOpenResponsesClient`; ``client=`` takes a sync
    :class:`~openresponses.Client`.
    """

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, client: Client | None = None
    ) -> None:
        _warn("OpenResponsesClient", "openresponses.Client(base_url='.../v1')")
        self.base_url = base_url.rstrip("/") if base_url is not None else None
        self._api_key = api_key
        self._client = client

    def __repr__(self) -> str:
        return f"OpenResponsesClient(base_url={self.base_url!r})"

    def _new_client(self) -> Client:
        if self._client is not None:
            return self._client
        return Client(base_url=_api_root(self.base_url), api_key=self._api_key, timeout=_TIMEOUT_S)

    @overload
    def create(
        self, model: str, input: Any, stream: Literal[False] = False, max_tool_calls: int | None = None
    ) -> Response: ...

    @overload
    def create(
        self, model: str, input: Any, stream: Literal[True], max_tool_calls: int | None = None
    ) -> Iterator[StreamEvent]: ...

    def create(
        self, model: str, input: Any, stream: bool = False, max_tool_calls: int | None = None
    ) -> Response | Iterator[StreamEvent]:
        """Create a response; with ``stream=True``, an iterator of :class:`StreamEvent`.

        New API: ``Client(...).responses.create(model=..., input=..., stream=...)``.
        """
        params = _params(model, input, max_tool_calls)
        if stream:
            return self._events(params)
        client = self._new_client()
        try:
            response: Response = client.responses.create(**params)
            return response
        finally:
            if client is not self._client:
                client.close()

    def _events(self, params: dict[str, Any]) -> Iterator[StreamEvent]:
        client = self._new_client()
        try:
            with client.responses.create(stream=True, **params) as events:
                for event in events:
                    yield StreamEvent.from_event(event)
        finally:
            if client is not self._client:
                client.close()
