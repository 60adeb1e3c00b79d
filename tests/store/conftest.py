"""Fixtures for the store tests: a fake wall clock, record builders, a dead port.

``redis_server`` (a real redis-server, session-scoped) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from openresponses.store import StoredResponse

from ..conftest import unused_port


class WallClock:
    """A settable Unix clock for the stores' ``clock=`` (they compare expiries to wall time)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


def record(response_id: str = "resp_1", text: str = "Hi", **changes: Any) -> StoredResponse:
    """A small stored response: one user message in, one assistant message out."""
    fields: dict[str, Any] = {
        "id": response_id,
        "model": "m",
        "created_at": 1_700_000_000,
        "status": "completed",
        "input": ({"type": "message", "role": "user", "content": f"say {text}"},),
        "output": (
            {
                "type": "message",
                "id": f"msg_{response_id}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            },
        ),
    }
    fields.update(changes)
    return StoredResponse(**fields)


@pytest.fixture(name="make_record")
def make_record_fixture() -> Any:
    """``make_record(response_id, text, **changes)`` builds a ``StoredResponse``."""
    return record


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on (connections are refused at once).

    Outside the ephemeral range and this worker's own: no other worker's server is handed it.
    """
    return unused_port()
