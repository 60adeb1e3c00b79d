"""Fixtures for the semantic cache tests: requests, an observer and a cache over a memory store.

``redis_server`` (a real redis-server, session-scoped) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from openresponses import CallContext, Request
from openresponses._decisions import CacheLookup, Decision
from openresponses.types import CreateResponseBody


class Recorder:
    """A ``CallObserver`` keeping every cache decision."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def on_record(self, decision: Decision) -> None:
        self.decisions.append(decision)

    def on_attempt(self, request: Request, number: int) -> None:
        return None

    @property
    def lookups(self) -> list[CacheLookup]:
        return [d for d in self.decisions if isinstance(d, CacheLookup)]

    @property
    def last(self) -> CacheLookup:
        return self.lookups[-1]


def make_request(
    input: Any = "What is the capital of France?",
    *,
    stream: bool = False,
    recorder: Recorder | None = None,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> Request:
    """A ``Request`` for model ``m`` (override any body field by keyword)."""
    body.setdefault("model", "m")
    model = CreateResponseBody(input=input, stream=True if stream else None, **body)
    context = CallContext(observers=[recorder] if recorder is not None else [])
    return Request(body=model, stream=stream, context=context, headers=headers or {})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(name="make_request")
def make_request_fixture() -> Any:
    """``make_request(input, stream=..., recorder=..., headers=..., **body)`` builds a ``Request``."""
    return make_request
