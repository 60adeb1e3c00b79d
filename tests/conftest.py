"""Shared fixtures: a scripted loopback server, a fake clock and one real redis-server.

``redis_server`` is session-scoped and shared by every package (stores, breakers, the proxy):
one ``redis-server`` process per test process (per pytest-xdist worker). Tests that share it
keep their keys apart with a unique prefix or breaker name.

The suite runs in parallel by default (``-n auto --dist loadfile``, see ``pytest_cmdline_main``):
each worker has its own redis-server, ports and temporary directories, and a test file never
spans two workers, so a file's module-scoped fixtures (a mypy run, a built site) run once.
"""

from __future__ import annotations

import gc
import itertools
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

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


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Parallel by default: pytest-xdist's "-n auto --dist loadfile" unless the command line says
    # otherwise (-n N, -n 0, --dist, -p no:xdist) or a debugger is wanted. Set here rather than in
    # addopts, where "-n" would be an unknown option under `-p no:xdist` or without the plugin.
    # Runs before xdist's own cmdline hook (this conftest registers later), which reads these.
    # Not in a worker: xdist resets a worker's -n to None, which must not spawn workers again.
    option = config.option
    if not config.pluginmanager.has_plugin("xdist"):
        return
    worker = hasattr(config, "workerinput")
    wanted = option.numprocesses is None and option.dist == "no"
    if not worker and wanted and not option.usepdb and not getattr(option, "trace", False):
        option.numprocesses = "auto"
        option.dist = "loadfile"
    if (worker or option.numprocesses) and hasattr(option, "benchmark_disable"):
        # pytest-benchmark (langchain-tests' test_init_time uses it) cannot time anything in
        # parallel and turns itself off anyway, with a warning per process; the bodies still run.
        option.benchmark_disable = True


def pytest_collection_finish(session: pytest.Session) -> None:
    # Move everything alive after collection (every imported module, the test items) out of the
    # collector's reach: each gc.collect() in a test (several tests force one to prove a stream
    # is finalized) then scans only what tests made since, not the whole heap (~5x faster here).
    # Garbage made by the tests themselves is collected exactly as before.
    gc.collect()
    gc.freeze()


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker_ports() -> range:
    # Below the kernel's ephemeral range (which bind(0) and outgoing connections draw from, in
    # this and every other worker), one slice per pytest-xdist worker: a port picked here is
    # never handed to anyone else between the pick and its use, nor after a server's restart.
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % workers
    start = max(1024, low - 8000)
    size = (low - start) // workers
    return range(start + worker * size, start + (worker + 1) * size)


_ports = itertools.count(random.randrange(1_000_000))


def unused_port() -> int:
    """A loopback port for a server this test starts (and may restart) itself; free a moment ago.

    Outside the ephemeral range and unique to this worker, so no other test can take it in
    between (unlike :func:`free_port`'s, which any ``bind(0)`` may be handed next).
    """
    ports = _worker_ports()
    for _ in range(len(ports)):
        port = ports[next(_ports) % len(ports)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # something else on the machine listens there
            return port
    raise RuntimeError(f"no free loopback port in {ports}")


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``redis-server`` on a loopback port of this worker's, for the session; yields its URL.

    Fails (never skips) when the binary is missing: the Redis-backed store, breaker and proxy
    tests are part of the suite. Its working directory is this worker's own (it persists
    nothing: no RDB, no AOF).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: the Redis store, breaker and proxy tests need it "
            "(apt-get install -y redis-server)",
            pytrace=False,
        )
    workdir = tmp_path_factory.mktemp("redis")
    for _attempt in range(3):
        port = unused_port()
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)]
        process = subprocess.Popen(
            [binary, "--port", str(port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not _redis_answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            else:
                yield f"redis://127.0.0.1:{port}/0"
                return
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    pytest.fail(f"redis-server did not start (3 attempts, last on port {port})", pytrace=False)


@pytest.fixture(scope="session")
def redis_url(redis_server: str) -> str:
    """The same ``redis-server`` under the name the proxy tests use."""
    return redis_server
