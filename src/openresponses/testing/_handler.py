"""``Script``: a scripted ``Handler`` for testing middleware without HTTP (tower-test style)."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import TypeAlias

from .._pipeline import Reply, Request
from .._streaming import EventStream
from ..types import CompactResponse, Response, StreamEvent
from ._script import Scenario
from ._transport import play

__all__ = ["Outcome", "Script", "stream_of"]

Outcome: TypeAlias = (
    "Response | CompactResponse | EventStream | Scenario | Sequence[StreamEvent] | BaseException"
)
"""What one call to a :class:`Script` does: return a reply, play a scenario, stream events, or raise."""


def stream_of(
    *events: StreamEvent,
    raises: BaseException | type[BaseException] | None = None,
    provider: str | None = None,
) -> EventStream:
    """An ``EventStream`` yielding ``events`` (one batch each), then raising ``raises`` if given.

    ``raises`` may be an exception class (instantiated with a short message) or an instance::

        stream_of(*text_events("Hi")[:3], raises=APIConnectionError("reset"))
    """
    error = raises("scripted stream failure") if isinstance(raises, type) else raises

    async def source() -> AsyncIterator[list[StreamEvent]]:
        for event in events:
            yield [event]
        if error is not None:
            raise error

    return EventStream(source(), provider=provider)


class Script:
    """A ``Handler`` that answers each call with the next scripted outcome.

    Why: middleware is a function of ``(request, call_next)``; a script as ``call_next`` makes
    retry, failover and cache tests exact about how often and with what the upstream was called::

        upstream = Script(status_error(429), text("Hi"))
        reply = await Retry(RetryPolicy(attempts=3), clock=FakeClock())(request, upstream)
        assert upstream.calls == 2

    Outcomes: a ``Response``/``CompactResponse`` (returned), an ``EventStream`` (returned once), a
    :class:`Scenario` (played like ``ScriptedTransport``: streams, status errors, faults), a list
    of events (streamed, one batch each) or an exception instance (raised). Calling past the end
    raises ``AssertionError``, unless ``repeat_last=True``.
    """

    def __init__(self, *outcomes: Outcome, repeat_last: bool = False, provider: str = "scripted") -> None:
        self._outcomes: deque[Outcome] = deque(outcomes)
        self._last: Outcome | None = None
        self.repeat_last = repeat_last
        self.provider = provider
        #: Every request received, in order.
        self.requests: list[Request] = []

    @property
    def calls(self) -> int:
        """How many times the script was called."""
        return len(self.requests)

    @property
    def remaining(self) -> int:
        """Outcomes not yet used."""
        return len(self._outcomes)

    def push(self, *outcomes: Outcome) -> None:
        """Append outcomes."""
        self._outcomes.extend(outcomes)

    async def __call__(self, request: Request, /) -> Reply:
        self.requests.append(request)
        if self._outcomes:
            outcome = self._last = self._outcomes.popleft()
        elif self.repeat_last and self._last is not None:
            outcome = self._last
        else:
            raise AssertionError(f"Script exhausted: unexpected call #{self.calls} with {request!r}")
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, Scenario):
            return await play(outcome, request, provider=self.provider)
        if isinstance(outcome, Response | CompactResponse | EventStream):
            return outcome
        return stream_of(*outcome, provider=self.provider)

    def __repr__(self) -> str:
        return f"Script(calls={self.calls}, remaining={self.remaining})"
