"""The pytest plugin works out of the box in a new project: strict asyncio mode, or no pytest-asyncio."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PROJECT_TESTS = """
import asyncio

import pytest

from openresponses import AsyncClient, Client, RateLimitError
from openresponses.middleware import Failover
from openresponses import Provider
from openresponses.testing import ScriptedServer, reset_before_headers, status, text


def test_sync(scripted_server: ScriptedServer) -> None:
    scripted_server.push(text("Hi", reasoning="Greet"))
    with Client(base_url=scripted_server.base_url) as client:
        assert client.responses.create(model="m", input="Hello").output_text == "Hi"
    assert scripted_server.requests[0].body["input"] == "Hello"


def test_asyncio_run_inside_a_sync_test(scripted_server: ScriptedServer) -> None:
    async def main() -> str:
        async with AsyncClient(base_url=scripted_server.base_url) as client:
            async with client.responses.stream(model="m", input="x") as stream:
                return (await stream.get_final_response()).output_text

    assert asyncio.run(main()) == "Hello"


@pytest.mark.scripted(status(429, retry_after=0), text("Second"))
def test_marker_queues_scenarios(scripted_server: ScriptedServer) -> None:
    with Client(base_url=scripted_server.base_url) as client:
        with pytest.raises(RateLimitError):
            client.responses.create(model="m", input="x")
        assert client.responses.create(model="m", input="x").output_text == "Second"


@pytest.mark.scripted(api_key="sk-test")
def test_marker_options(scripted_server: ScriptedServer) -> None:
    assert scripted_server.api_key == "sk-test"


def test_factory(scripted_server_factory) -> None:
    primary = scripted_server_factory(reset_before_headers())
    backup = scripted_server_factory(default=text("From backup"))
    failover = Failover([Provider("a", primary.base_url), Provider("b", backup.base_url)])
    with Client(endpoint=failover) as client:
        assert client.responses.create(model="m", input="x").output_text == "From backup"
    assert len(primary.requests) == 1
"""

ASYNC_TESTS = """
import pytest

from openresponses import AsyncClient
from openresponses.testing import ScriptedServer, text


@pytest.mark.asyncio
async def test_async_in_strict_mode(scripted_server: ScriptedServer) -> None:
    scripted_server.push(text("Async hi"))
    async with AsyncClient(base_url=scripted_server.base_url) as client:
        async with client.responses.stream(model="m", input="x") as stream:
            final = await stream.get_final_response()
    assert final.output_text == "Async hi"
"""


@pytest.fixture(autouse=True)
def plain_project(monkeypatch: pytest.MonkeyPatch) -> None:
    # The inner runs are a user's own project, not a pytest-xdist worker of this suite (whose
    # PYTEST_XDIST_WORKER they would inherit: pytest-benchmark then warns it is disabled).
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def test_fixture_in_a_strict_mode_project(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        "addopts = --strict-markers\n"
    )
    pytester.makepyfile(test_project=PROJECT_TESTS, test_async=ASYNC_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=6)


def test_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    pytester.makepyfile(test_project=PROJECT_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:asyncio", "-q")
    result.assert_outcomes(passed=5)


def test_the_plugin_comes_from_the_entry_point(pytester: pytest.Pytester) -> None:
    # Turning off the plugin by its entry-point name removes the fixture: that is where it comes from.
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_project=PROJECT_TESTS)
    off = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:openresponses", "-q", "-k", "sync")
    off.stdout.fnmatch_lines(["*fixture 'scripted_server' not found*"])
