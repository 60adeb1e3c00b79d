"""``VendorServer``: what the fake upstreams (Chat Completions, Anthropic, Gemini, Bedrock) share.

Each plays one scenario type, queued per request with a ``default`` when the queue is empty;
the HTTP machinery is :class:`~openresponses.testing._loopback.LoopbackServer`. A subclass says
which scenario type it plays (:attr:`VendorServer._scenario`) and how to build one (for the
``TypeError`` a wrong object gets), then routes, authenticates and checks requests itself.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar, Generic, TypeVar

from ._loopback import LoopbackServer

__all__ = ["VendorServer"]

S = TypeVar("S")


class VendorServer(LoopbackServer, Generic[S]):
    """A loopback vendor upstream answering each request with the next queued scenario.

    Scenarios are checked when queued, so a wrong object fails in the test that passes it, not
    inside the server's connection task.
    """

    #: The scenario type this server plays.
    _scenario: ClassVar[type[Any]]
    #: Names it in the ``TypeError`` for anything else: ``"an AnthropicScenario (build one with ...)"``.
    _scenario_hint: ClassVar[str]

    def __init__(self, scenarios: Iterable[S], *, default: S, prefix: str, host: str, port: int) -> None:
        super().__init__(prefix=prefix, host=host, port=port)
        self._queue: deque[S] = deque()
        self._lock = threading.Lock()
        self._check(default)
        #: What a request gets when the queue is empty.
        self.default = default
        self.push(*scenarios)

    def push(self, *scenarios: S) -> None:
        """Queue scenarios, consumed in order one per request that plays one (then ``default`` serves).

        A refused request and a model listing consume none.
        """
        for scenario in scenarios:
            self._check(scenario)
        with self._lock:
            self._queue.extend(scenarios)

    @property
    def pending(self) -> int:
        """Scenarios queued and not yet consumed."""
        return len(self._queue)

    def _next(self) -> S:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _check(self, scenario: object) -> None:
        if not isinstance(scenario, self._scenario):
            raise TypeError(f"expected {self._scenario_hint}, got {scenario!r}")
