"""The fault table again, every provider sending through ``http_backend="aiohttp"`` and ``"httptools"``.

The same scenarios, stack and expectations as ``test_faults.py`` (``runner.check``: outcome,
time bound, no duplicated or lost events, every connection closed, no task left, every span
ended, nothing reported to the loop, the key nowhere), so a fault the httpx backend survives is
survived the same way through the other backends. ``docs/reliability.md`` stays the httpx run's report.
"""

from __future__ import annotations

import gc
import warnings

import pytest

from .runner import run
from .scenarios import SCENARIOS, FaultScenario


@pytest.mark.parametrize("backend", ["aiohttp", "httptools"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_fault_through_another_backend(scenario: FaultScenario, backend: str) -> None:
    # Garbage of earlier tests in this worker (an unclosed socket of theirs) is collected now,
    # outside the window: only what this scenario leaves behind is counted.
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = await run(scenario, http_backend=backend)
    problems = list(result.problems)
    # aiohttp and asyncio report a session, connector or socket nobody closed as a ResourceWarning.
    problems += [f"ResourceWarning: {w.message}" for w in caught if issubclass(w.category, ResourceWarning)]
    if problems:
        pytest.fail(
            f"{scenario.name} ({scenario.fault}) via {backend}:\n  " + "\n  ".join(problems), pytrace=False
        )
