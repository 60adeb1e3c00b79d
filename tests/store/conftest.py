"""Fixtures for the store tests: a fake wall clock, a real redis-server, record builders."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from openresponses.store import StoredResponse


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    return free_port()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real ``redis-server`` on a free loopback port; yields its URL. Fails if not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: the RedisStore tests need it (apt-get install -y redis-server)",
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
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
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
