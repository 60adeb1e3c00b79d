"""How layers rewrite an :class:`~openresponses._streaming.EventStream` in place, without
wrapping it in another one: ``patch_responses`` (the ``response`` its lifecycle and terminal
events carry), ``before_terminal`` (work awaited before a successful end is handed over) and
``mirror`` (sharing a wrapped stream's accumulator). A base class of ``EventStream``, which holds
this state in the slots declared here and in ``_stream_source``; split from ``_streaming`` by
concept (its iteration calls ``_run_before_terminal``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Self, cast

from ._stream_end import _StreamEnding
from ._stream_source import _RESPONSES
from .types import StreamEvent

if TYPE_CHECKING:
    from ._streaming import EventStream

__all__ = ["BeforeTerminal"]

logger = logging.getLogger("openresponses")

BeforeTerminal = Callable[[StreamEvent, "EventStream"], Awaitable[None]]


class _StreamRewriting(_StreamEnding):
    """``EventStream``'s in-place rewriting (see the module docstring)."""

    __slots__ = ("_before_terminal",)

    # Set by EventStream.__init__ (documented there).
    _before_terminal: list[BeforeTerminal]

    if TYPE_CHECKING:
        # Provided by EventStream.
        _tapped: bool

    def patch_responses(self, patch: Callable[[StreamEvent], StreamEvent]) -> Self:
        """Replace every lifecycle and terminal event (the ones carrying ``response``) by
        ``patch(event)`` as it is received, before the accumulator and any tap see it. Returns
        this stream.

        For a layer that rewrites what the caller's copy of the response says (``Stateful``:
        ``previous_response_id``, ``store``) without wrapping the stream in another one (a
        generator hop, a batch copy and a second accumulation per network chunk). Events
        already buffered are patched too, and event taps would see the patched events, so it
        needs a stream that is ``patchable``: ``RuntimeError`` otherwise (wrap the stream then).
        ``on_end`` taps get the patched response in ``StreamEnd.response``. Patches installed
        one after another apply in that order.
        """
        if not self.patchable:
            raise RuntimeError(
                "patch_responses: only before the first event is delivered, before any event tap, on a "
                "stream that is not mirroring another (wrap the stream instead)"
            )
        previous = self._patch
        if previous is not None:
            first = previous

            def patch_both(event: StreamEvent) -> StreamEvent:
                return patch(first(event))

            self._patch = patch_both
        else:
            self._patch = patch
        buffer = self._buffer
        for position, event in enumerate(buffer):
            if event.type in _RESPONSES:
                patched = buffer[position] = patch(event)
                # The accumulator took the original: a response event only sets what the
                # response is (its base or its final state), so feeding the patched one replaces it.
                self._acc.feed(patched)
        return self

    @property
    def patchable(self) -> bool:
        """Whether ``patch_responses`` may be called: nothing delivered yet, no event tap
        installed (it would see the patched events instead of the upstream's), and the stream
        feeds its own accumulator (not ``mirroring``)."""
        return not self.delivered and not self._tapped and self._feeds and not self._ended

    def before_terminal(self, hook: BeforeTerminal) -> Self:
        """``await hook(event, stream)`` before a successful end is handed over. Returns this stream.

        Runs once, when the consumer reaches ``response.completed`` or ``response.incomplete``,
        before any tap sees it and before the stream ends; never for a failure or for a stream
        that is cut, closed or dropped before its end. ``stream.snapshot()`` is then the final
        response. For a layer that must finish something first: ``Stateful`` writes the
        response to its store, so that once a caller has seen ``completed`` any process sharing
        the store can continue the chain. Errors are logged and swallowed, as for taps;
        cancellation propagates (the terminal event stays undelivered).
        """
        self._before_terminal.append(hook)
        return self

    async def _run_before_terminal(self, event: StreamEvent) -> None:
        hooks, self._before_terminal = self._before_terminal, []
        for hook in hooks:
            try:
                await hook(event, cast("EventStream", self))  # the only concrete subclass
            except Exception:
                logger.exception("before_terminal hook %r failed", hook)

    def mirror(self, inner: _StreamRewriting) -> Self:
        """Share ``inner``'s accumulator instead of feeding one. Returns this stream.

        For a wrapper whose source yields ``inner.next_batch()`` batches unchanged (Failover
        before any recovery): each event is accumulated once and batches need no scan.
        :meth:`own_accumulator` ends it, before the source yields anything else.
        """
        self._acc = inner._acc
        self._feeds = False
        return self

    @property
    def mirroring(self) -> bool:
        """Whether this stream's accumulator is fed by the stream it mirrors."""
        return not self._feeds

    def own_accumulator(self) -> None:
        """Feed the (shared) accumulator from now on: the stream it mirrored has ended."""
        self._feeds = True
