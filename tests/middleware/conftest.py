"""Fixtures for the resilience middleware tests: requests, an observer, a fake clock, Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real ``redis-server`` on a free loopback port; yields its URL. Fails if not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: the CircuitBreaker Redis tests need it "
            "(apt-get install -y redis-server)",
            pytrace=False,
        )
    port = _free_port()
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
