"""``OpenResponsesStreamedResponse``: our typed events driving pydantic-ai's parts manager.

One part per output item, keyed by ``output_index``: text and refusal deltas grow a
``TextPart``, argument deltas a ``ToolCallPart`` (its name and ``call_id`` come with
``response.output_item.added``), summary and raw reasoning deltas a ``ThinkingPart``
whose ``signature`` is the item's ``encrypted_content`` (known at ``output_item.done``). The
terminal event sets usage, the finish reason and the response id. ``response.failed`` and
``error`` raise our typed error from the stream itself (``ResponseFailedError``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic_ai.messages import ModelResponseStreamEvent
from pydantic_ai.models import StreamedResponse

from .._streaming import AsyncResponseStream
from ._pydantic_ai_messages import PROVIDER_NAME, finish_reason, map_usage

__all__ = ["OpenResponsesStreamedResponse"]

_TEXT = frozenset({"response.output_text.delta", "response.refusal.delta"})
_THINKING = frozenset({"response.reasoning_summary_text.delta", "response.reasoning.delta"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


@dataclass
class OpenResponsesStreamedResponse(StreamedResponse):
    """A pydantic-ai ``StreamedResponse`` over an :class:`~openresponses.AsyncResponseStream`."""

    _model_name: str
    _stream: AsyncResponseStream
    _provider_url: str | None = None
    _timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        async for event in self._stream:
            for out in self._map(event):
                yield out

    def _map(self, event: Any) -> list[ModelResponseStreamEvent]:
        kind = event.type
        parts = self._parts_manager
        index = getattr(event, "output_index", None)
        if kind in _TEXT:
            return list(parts.handle_text_delta(vendor_part_id=("text", index), content=event.delta))
        if kind in _THINKING:
            return list(
                parts.handle_thinking_delta(
                    vendor_part_id=("thinking", index),
                    content=event.delta,
                    id=getattr(event, "item_id", None),
                    provider_name=PROVIDER_NAME,
                )
            )
        if kind == "response.function_call_arguments.delta":
            return list(parts.handle_tool_call_delta_events(vendor_part_id=("call", index), args=event.delta))
        if kind in ("response.output_item.added", "response.output_item.done"):
            return self._item(event.item.to_dict(), index, done=kind.endswith("done"))
        if kind == "response.created":
            self.provider_response_id = event.response.id
        if kind in _TERMINAL:
            response = event.response
            self.provider_response_id = response.id
            self._usage = map_usage(response)
            self.finish_reason = finish_reason(response)
            if response.model:
                self._model_name = response.model
        return []

    def _item(self, item: dict[str, Any], index: int | None, *, done: bool) -> list[ModelResponseStreamEvent]:
        parts = self._parts_manager
        if item.get("type") == "function_call" and not done:
            return list(
                parts.handle_tool_call_delta_events(
                    vendor_part_id=("call", index),
                    tool_name=item.get("name"),
                    tool_call_id=item.get("call_id"),
                    args=item.get("arguments") or None,
                )
            )
        if item.get("type") == "reasoning" and done and item.get("encrypted_content"):
            return list(
                parts.handle_thinking_delta(
                    vendor_part_id=("thinking", index),
                    id=item.get("id"),
                    signature=item["encrypted_content"],
                    provider_name=PROVIDER_NAME,
                )
            )
        return []

    async def close_stream(self) -> None:
        """Release the connection (a cancelled or abandoned run)."""
        await self._stream.close()

    @property
    def model_name(self) -> str:
        """The model that answered (the response's ``model`` once known)."""
        return self._model_name

    @property
    def provider_name(self) -> str:
        """Always ``"openresponses"``: the serving provider is in the client's telemetry."""
        return PROVIDER_NAME

    @property
    def provider_url(self) -> str | None:
        """The client's base URL, when it has one."""
        return self._provider_url

    @property
    def timestamp(self) -> datetime:
        """When the stream was opened."""
        return self._timestamp
