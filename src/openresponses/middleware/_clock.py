"""The injectable clock the resilience middleware wait with.

Retry backoff, retry budgets and hedging delays read time and sleep through a :class:`Clock`
instead of ``time.monotonic`` / ``asyncio.sleep`` directly, so tests can run them instantly
and assert exactly how long the code would have waited (``openresponses.testing.FakeClock``
satisfies the protocol structurally).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time in seconds and a way to wait."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (non-positive values return at once)."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    __slots__ = ()

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep(seconds)``."""
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"
