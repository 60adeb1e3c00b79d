"""Shared fixtures: a scripted loopback server, a fake clock and one real redis-server.

``redis_server`` is session-scoped and shared by every package (stores, breakers, the proxy):
one ``redis-server`` process per test run. Tests that share it keep their keys apart with a
unique prefix or breaker name.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

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


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real ``redis-server`` on a free loopback port, for the whole session; yields its URL.

    Fails (never skips) when the binary is missing: the Redis-backed store, breaker and proxy
    tests are part of the suite.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: the Redis store, breaker and proxy tests need it "
            "(apt-get install -y redis-server)",
            pytrace=False,
        )
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _redis_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}", pytrace=False)
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def redis_url(redis_server: str) -> str:
    """The same ``redis-server`` under the name the proxy tests use."""
    return redis_server
