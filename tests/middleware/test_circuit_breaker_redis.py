"""CircuitBreaker with Redis unavailable: never started, killed, restarted, frozen (SIGSTOP).

A real ``redis-server`` per test on a free loopback port, which the test starts, kills, freezes
and thaws. Wanted each time: calls keep being served from local state within a bounded time,
one WARNING per outage (no ERROR tracebacks), the event loop never blocked, and the shared
state used again once Redis answers.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pybreaker
import pytest
import redis

from openresponses import CircuitOpenError, InternalServerError
from openresponses.middleware import CircuitBreaker
from openresponses.testing import Script, status_error, text

from ..conftest import unused_port

RETRY_AFTER = 0.3  # the breaker's redis_retry_after here: short, so resuming is quick to see


class RedisProcess:
    """One ``redis-server`` on a fixed loopback port that can be started, killed, frozen, thawed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install -y redis-server)", pytrace=False)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {self.port}", pytrace=False)
            time.sleep(0.01)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    # A port of this worker's, outside the ephemeral range: still free when the test restarts
    # the server on it after a kill, whatever the other workers bind or connect meanwhile.
    server = RedisProcess(unused_port())
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def warnings_of(logs: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in logs.records if r.levelno == logging.WARNING]


def errors_of(logs: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in logs.records if r.levelno >= logging.ERROR]


def make_breaker(url: str, name: str, **options: Any) -> CircuitBreaker:
    return CircuitBreaker(
        name=name, fail_max=2, reset_timeout=60, redis_url=url, redis_retry_after=RETRY_AFTER, **options
    )


async def serve(breaker: CircuitBreaker, make_request: Any, calls: int = 10) -> None:
    for _ in range(calls):
        reply = await breaker(make_request(), Script(text("ok")))
        assert reply.output_text == "ok"  # type: ignore[union-attr]


async def until(condition: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def shared_state(server: RedisProcess, name: str) -> str | None:
    value = server.client().get(f"openresponses:{name}:pybreaker:state")
    return value.decode() if isinstance(value, bytes) else None


async def trip(breaker: CircuitBreaker, make_request: Any) -> None:
    for _ in range(breaker.fail_max):
        with pytest.raises(InternalServerError):
            await breaker(make_request(), Script(status_error(503)))


async def test_redis_never_started_serves_locally_then_shares_once_it_starts(
    redis_process: RedisProcess, make_request: Any, logs: pytest.LogCaptureFixture
) -> None:
    name = f"never-{uuid.uuid4().hex[:8]}"
    breaker = make_breaker(redis_process.url, name)
    started = time.monotonic()
    await serve(breaker, make_request, calls=20)
    assert time.monotonic() - started < 1.0
    assert breaker.degraded
    assert len(warnings_of(logs)) == 1 and name in warnings_of(logs)[0]
    assert errors_of(logs) == []
    # Local state is a real breaker: it opens and fails fast.
    await trip(breaker, make_request)
    with pytest.raises(CircuitOpenError):
        await breaker(make_request(), Script(text("never")))

    redis_process.start()
    await until(lambda: breaker.state is not None and not breaker.degraded)
    # Shared again: the (empty, fresh) Redis wins, so it is closed; a trip here is seen elsewhere.
    assert breaker.state == "closed"
    await trip(breaker, make_request)
    assert shared_state(redis_process, name) == "open"
    assert make_breaker(redis_process.url, name).state == "open"
    assert len(warnings_of(logs)) == 1 and errors_of(logs) == []


async def test_redis_killed_mid_way_then_restarted(
    redis_process: RedisProcess, make_request: Any, logs: pytest.LogCaptureFixture
) -> None:
    name = f"killed-{uuid.uuid4().hex[:8]}"
    redis_process.start()
    breaker = make_breaker(redis_process.url, name)
    await trip(breaker, make_request)
    assert shared_state(redis_process, name) == "open"
    breaker.close()

    redis_process.kill()
    started = time.monotonic()
    await serve(breaker, make_request, calls=30)
    assert time.monotonic() - started < 1.0
    assert breaker.degraded
    assert len(warnings_of(logs)) == 1  # one per outage, not one per call
    assert errors_of(logs) == []  # no pybreaker tracebacks

    redis_process.start()  # restarted empty, on the same port
    await until(lambda: breaker.state is not None and not breaker.degraded)
    assert any("resumed" in r.getMessage() for r in logs.records if r.levelno == logging.INFO)
    other = make_breaker(redis_process.url, name)
    await trip(other, make_request)  # another breaker object (as another process would)
    with pytest.raises(CircuitOpenError):
        await breaker(make_request(), Script(text("never")))  # this one sees the shared state

    redis_process.kill()  # a second outage: a second warning
    breaker.close()
    await serve(breaker, make_request, calls=5)
    assert len(warnings_of(logs)) == 2 and errors_of(logs) == []


async def test_redis_frozen_is_bounded_and_never_blocks_the_loop(
    redis_process: RedisProcess, make_request: Any, logs: pytest.LogCaptureFixture
) -> None:
    test_started = time.monotonic()
    name = f"frozen-{uuid.uuid4().hex[:8]}"
    redis_process.start()
    breaker = make_breaker(redis_process.url, name)
    await serve(breaker, make_request, calls=2)
    assert not breaker.degraded
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:  # how long the loop ever went without running us
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            lags.append(now - last)
            last = now

    async def caller() -> int:
        for _ in range(5):
            assert (await breaker(make_request(), Script(text("ok")))).output_text == "ok"  # type: ignore[union-attr]
        return 5

    redis_process.freeze()
    try:
        watch = asyncio.create_task(ticker())
        started = time.monotonic()
        done = await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(20))), timeout=3)
        elapsed = time.monotonic() - started
        stop.set()
        await watch
        assert sum(done) == 100
        assert elapsed < 1.5, elapsed  # one 0.25 s Redis timeout, not one per step
        assert max(lags) < 0.2, max(lags)
        assert breaker.degraded
        assert len(warnings_of(logs)) == 1 and errors_of(logs) == []
        # Still frozen past the back-off: the background probe times out, calls stay fast.
        await asyncio.sleep(RETRY_AFTER + 0.05)
        started = time.monotonic()
        await serve(breaker, make_request, calls=20)
        assert time.monotonic() - started < 0.2
    finally:
        redis_process.close()  # SIGCONT + kill, whatever happened
    assert len(warnings_of(logs)) == 1
    assert time.monotonic() - test_started < 5


async def test_a_frozen_redis_at_first_use_serves_within_one_timeout(
    redis_process: RedisProcess, make_request: Any, logs: pytest.LogCaptureFixture
) -> None:
    redis_process.start()
    redis_process.freeze()
    try:
        breaker = make_breaker(redis_process.url, f"cold-{uuid.uuid4().hex[:8]}")
        started = time.monotonic()
        await asyncio.wait_for(serve(breaker, make_request, calls=10), timeout=3)
        assert time.monotonic() - started < 1.0
        assert breaker.degraded and len(warnings_of(logs)) == 1
    finally:
        redis_process.close()


async def test_an_open_shared_state_stays_open_locally_when_redis_goes(
    redis_process: RedisProcess, make_request: Any
) -> None:
    name = f"seeded-{uuid.uuid4().hex[:8]}"
    redis_process.start()
    breaker = make_breaker(redis_process.url, name)
    await trip(make_breaker(redis_process.url, name), make_request)  # tripped elsewhere
    with pytest.raises(CircuitOpenError):  # seen here through Redis
        await breaker(make_request(), Script(text("never")))
    redis_process.kill()
    with pytest.raises(CircuitOpenError) as info:  # the last shared state seen seeds the local one
        await breaker(make_request(), Script(text("never")))
    assert breaker.degraded
    assert info.value.reopens_in is not None and info.value.reopens_in > 55


async def test_caller_mistakes_leave_the_shared_state_alone(redis_server: str, make_request: Any) -> None:
    name = f"mistakes-{uuid.uuid4().hex[:8]}"
    breaker = make_breaker(redis_server, name)
    for _ in range(5):
        with pytest.raises(TypeError):
            await breaker(make_request(), Script(TypeError("bad header")))  # type: ignore[arg-type]
    assert make_breaker(redis_server, name).state == "closed"
    assert breaker.fail_counter == 0


def test_state_written_by_pybreakers_own_redis_storage_is_shared(redis_server: str) -> None:
    # Processes on older releases (or plain pybreaker) use CircuitRedisStorage: same keys.
    name = f"compat-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_server)
    theirs = pybreaker.CircuitRedisStorage("closed", client, namespace=f"openresponses:{name}")
    theirs.opened_at = datetime.now(UTC)
    theirs.state = "open"
    breaker = make_breaker(redis_server, name)
    assert breaker.state == "open"
    assert 58 <= breaker.reopens_in() <= 60
    breaker.close()
    assert theirs.state == "closed"
