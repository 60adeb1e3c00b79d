"""An injectable clock: the real one, and a fake one that sleeps instantly.

Middleware that wait (retry backoff, circuit-breaker cool-downs, hedging delays) take a
:class:`Clock` instead of calling ``time.monotonic`` / ``asyncio.sleep`` directly, so tests run
in microseconds and can assert exactly how long the code *would* have slept.
"""

from __future__ import annotations

import asyncio

from ..middleware._clock import Clock, SystemClock

__all__ = ["Clock", "FakeClock", "SystemClock"]


class FakeClock:
    """A clock whose ``sleep`` advances time instantly and records every wait.

    Why: backoff and cool-down tests should neither be slow nor flaky. ``sleep`` still yields
    to the event loop once, so concurrent tasks interleave as they would for real.

    ::

        clock = FakeClock()
        await Retry(RetryPolicy(attempts=3), clock=clock)(request, upstream)
        assert clock.sleeps == [0.5, 1.0]
    """

    __slots__ = ("_now", "sleeps")

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        #: Every ``sleep`` duration requested, in order (negative values recorded as 0).
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The fake monotonic time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping (e.g. to expire a breaker's cool-down)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the wait, advance time by it, and yield to the loop once."""
        seconds = max(0.0, float(seconds))
        self.sleeps.append(seconds)
        self._now += seconds
        await asyncio.sleep(0)

    @property
    def slept(self) -> float:
        """Total seconds slept so far."""
        return sum(self.sleeps)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now:g}, sleeps={len(self.sleeps)})"
