"""The pytest plugin: a ``scripted_server`` fixture for testing code that uses openresponses.

Installed with the package (the ``pytest11`` entry point ``openresponses``), so a project gets
it without a ``conftest.py``; ``-p no:openresponses`` turns it off. Nothing here needs
pytest-asyncio: the server runs on its own event loop in a daemon thread, so the fixture is a
plain sync fixture that serves sync tests, ``asyncio.run`` in a test, and async tests under
pytest-asyncio in ``strict`` or ``auto`` mode (or anyio) alike::

    from openresponses import Client
    from openresponses.testing import ScriptedServer, text

    def test_answer(scripted_server: ScriptedServer) -> None:
        scripted_server.push(text("Hi"))
        with Client(base_url=scripted_server.base_url) as client:
            assert client.responses.create(model="m", input="Hello").output_text == "Hi"

    @pytest.mark.scripted(status(429, retry_after=0), text("Hi"))   # queued before the test
    def test_retry(scripted_server: ScriptedServer) -> None: ...

``scripted_server_factory(*scenarios, **options)`` starts more servers (a primary and a backup
for failover tests); every server is stopped at the end of the test. docs/testing.md has more.

pytest loads entry-point plugins in every run of the environment: loading this one imports
``openresponses.testing`` (the package, as any plugin's), and the server only when a fixture is
first used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._script import Scenario
    from ._server import ScriptedServer

__all__ = ["scripted_server", "scripted_server_factory"]

ServerFactory = Callable[..., "ScriptedServer"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``scripted`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        "scripted(*scenarios, **options): scenarios queued on the scripted_server fixture before the test; "
        "options go to ScriptedServer (default=, api_key=, prefix=, send_done=)",
    )


@pytest.fixture
def scripted_server_factory() -> Iterator[ServerFactory]:
    """``factory(*scenarios, **options)``: a started :class:`ScriptedServer` on 127.0.0.1.

    ``options`` are ``ScriptedServer``'s (``default=``, ``api_key=``, ``prefix=``, ...). Each
    server serves from a daemon thread until the test ends.
    """
    from ._server import ScriptedServer

    with ExitStack() as stack:

        def factory(*scenarios: Scenario, **options: Any) -> ScriptedServer:
            return stack.enter_context(ScriptedServer(scenarios, **options).run_in_thread())

        yield factory


@pytest.fixture
def scripted_server(request: pytest.FixtureRequest, scripted_server_factory: ServerFactory) -> ScriptedServer:
    """A started :class:`ScriptedServer` on 127.0.0.1 (``base_url`` ends in ``/v1``).

    It answers each request with the next queued scenario (``push(...)``, or the test's
    ``@pytest.mark.scripted(...)``), then with its default, ``text("Hello")``. ``requests``
    records what your code sent.
    """
    marker = request.node.get_closest_marker("scripted")
    if marker is None:
        return scripted_server_factory()
    return scripted_server_factory(*marker.args, **marker.kwargs)
