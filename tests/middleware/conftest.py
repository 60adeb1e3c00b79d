"""Fixtures for the resilience middleware tests: requests and an observer.

``redis_server`` (a real redis-server, session-scoped) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from openresponses import CallContext, Request
from openresponses._decisions import Decision
from openresponses.types import CreateResponseBody


class Recorder:
    """A ``CallObserver`` keeping every recorded decision (typed, and as ``kind`` + attributes)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.decisions: list[Decision] = []

    def on_record(self, decision: Decision) -> None:
        self.decisions.append(decision)
        self.records.append((decision.kind, dict(decision.attributes())))

    def on_attempt(self, request: Request, number: int) -> None:
        return None

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.records]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [attrs for k, attrs in self.records if k == kind]


def make_request(
    *, stream: bool = False, model: str = "m", input: Any = "Hello", recorder: Recorder | None = None
) -> Request:
    body = CreateResponseBody(model=model, input=input, stream=True if stream else None)
    context = CallContext(observers=[recorder] if recorder is not None else [])
    return Request(body=body, stream=stream, context=context)


@pytest.fixture(name="make_request")
def make_request_fixture() -> Any:
    """``make_request(stream=..., model=..., input=..., recorder=...)`` builds a ``Request``."""
    return make_request


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
