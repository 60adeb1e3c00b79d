"""The closing steps of an :class:`~openresponses._emit.EventBuilder`: items done, terminal events.

``end_item`` closes an item's open parts (``*.done``, ``content_part.done``) and emits
``output_item.done``; ``complete`` / ``incomplete`` / ``fail`` close what is still open the way
each end requires (README §11) and emit the terminal event, whose ``response`` carries the full
``output`` the builder's accumulator assembled. A base class of ``EventBuilder`` (its only
user), kept apart so the builder module holds the opening and streaming steps.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ._emit_state import full_usage
from .types import StreamEvent

if TYPE_CHECKING:
    from ._accumulate import Accumulator
    from ._emit_state import OpenItem

__all__: list[str] = []


class _ClosingSteps:
    """``EventBuilder``'s closing and terminal steps (see the module docstring)."""

    if TYPE_CHECKING:
        # Provided by EventBuilder.
        accumulator: Accumulator
        _open: dict[int, OpenItem]

        def _make(self, etype: str, **fields: Any) -> StreamEvent: ...
        def _response(self, status: str, **changes: Any) -> dict[str, Any]: ...
        def _state(self, index: int) -> OpenItem: ...
        def _end_part(self, state: OpenItem, index: int, final: dict[str, Any] | None = None) -> None: ...
        def _end_summary(self, state: OpenItem, index: int) -> None: ...

    # -- closing --------------------------------------------------------------------------------

    def end_item(
        self, index: int, *, status: str = "completed", encrypted_content: str | None = None
    ) -> None:
        """Close open parts (``*.done``, ``content_part.done``) and emit ``output_item.done``.

        ``encrypted_content`` (a reasoning item's opaque blob) is stored on the final item.
        """
        self._end_item(index, status=status, encrypted_content=encrypted_content)

    def _end_item(
        self,
        index: int,
        *,
        status: str = "completed",
        encrypted_content: str | None = None,
        final: dict[str, Any] | None = None,
    ) -> None:
        state = self._state(index)
        item = state.item
        self._end_part(state, index)
        self._end_summary(state, index)
        if state.kind == "function_call":
            if state.args is not None:
                item["arguments"] = "".join(state.args)
            self._make(
                "response.function_call_arguments.done",
                item_id=state.item_id,
                output_index=index,
                arguments=item.get("arguments", ""),
            )
        item["status"] = status
        if encrypted_content is not None:
            item["encrypted_content"] = encrypted_content
        self._make("response.output_item.done", output_index=index, item=final if final is not None else item)
        del self._open[index]

    def open_items(self) -> list[int]:
        """Output indexes of items not yet closed."""
        return sorted(self._open)

    def _close_all(self, status: str) -> None:
        for index in self.open_items():
            self.end_item(index, status=status)

    def _terminal(self, etype: str, status: str, **changes: Any) -> StreamEvent:
        output = [
            item.model_dump(mode="json", exclude_unset=True, by_alias=True)
            for item in self.accumulator.output()
        ]
        return self._make(etype, response=self._response(status, output=output, **changes))

    def complete(self, *, usage: dict[str, Any] | None = None) -> StreamEvent:
        """Close open items and emit ``response.completed``."""
        self._close_all("completed")
        return self._terminal(
            "response.completed", "completed", usage=full_usage(usage), completed_at=int(time.time())
        )

    def incomplete(
        self, reason: str = "max_output_tokens", *, usage: dict[str, Any] | None = None
    ) -> StreamEvent:
        """Close the last open item as ``incomplete`` and emit ``response.incomplete``."""
        open_items = self.open_items()
        for index in open_items[:-1]:
            self.end_item(index, status="completed")
        if open_items:
            self.end_item(open_items[-1], status="incomplete")
        return self._terminal(
            "response.incomplete",
            "incomplete",
            usage=full_usage(usage),
            incomplete_details={"reason": reason},
        )

    def fail(
        self,
        message: str,
        *,
        code: str | None = "server_error",
        type: str = "server_error",
        param: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> list[StreamEvent]:
        """Open items end ``incomplete``, then ``error`` and ``response.failed``."""
        self._close_all("incomplete")  # items end before the error: error → failed is adjacent
        error = self._make("error", error={"type": type, "code": code, "message": message, "param": param})
        failed = self._terminal(
            "response.failed",
            "failed",
            usage=full_usage(usage),
            error={"code": code or type, "message": message},
        )
        return [error, failed]
