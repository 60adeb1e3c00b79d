"""Shared fixtures: a scripted loopback server and a fake clock (see ``openresponses.testing``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from openresponses.testing import FakeClock, ScriptedServer


@pytest.fixture
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    """A started ``ScriptedServer`` on 127.0.0.1 (default reply: ``text("Hello")``); push scenarios."""
    async with ScriptedServer() as server:
        yield server


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock whose ``sleep`` returns at once and records the wait."""
    return FakeClock()
