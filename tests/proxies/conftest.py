"""Fixtures for the served-proxy tests: spec validation, SSE parsing, apps and a real uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from importlib import resources
from typing import Any

import httpx
import pytest
import uvicorn
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette

from openresponses.proxies import ProxySettings, create_app_from_settings, http_protocol

SPEC_URI = "urn:openresponses:openapi"
UPSTREAM_KEY = "sk-upstream-SECRET-0123456789"
INBOUND_KEY = "proxy-inbound-key-9876543210"

Validate = Callable[[str, Any], None]


@pytest.fixture(scope="session")
def validate_spec() -> Validate:
    """``validate_spec("ResponseResource", body)`` raises if ``body`` violates the bundled spec."""
    text = resources.files("openresponses").joinpath("spec/openapi.json").read_text(encoding="utf-8")
    spec = json.loads(text)
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    cache: dict[str, Draft202012Validator] = {}

    def validate(name: str, instance: Any) -> None:
        assert name in spec["components"]["schemas"], name
        if name not in cache:
            cache[name] = Draft202012Validator(
                {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}, registry=registry
            )
        cache[name].validate(instance)

    return validate


def parse_sse(body: str) -> tuple[list[dict[str, Any]], bool]:
    """The events of an SSE body (``event:`` must match ``data.type``) and whether ``[DONE]`` ended it."""
    events: list[dict[str, Any]] = []
    done = False
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        assert not done, f"data after [DONE]: {block!r}"
        lines = block.split("\n")
        if lines == ["data: [DONE]"]:
            done = True
            continue
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        event = json.loads(lines[1][len("data: ") :])
        assert lines[0][len("event: ") :] == event["type"]
        events.append(event)
    return events, done


@pytest.fixture
def upstream_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The upstream key, in the proxy's environment as OPENAI_API_KEY (and UPSTREAM_KEY)."""
    monkeypatch.setenv("OPENAI_API_KEY", UPSTREAM_KEY)
    monkeypatch.setenv("UPSTREAM_KEY", UPSTREAM_KEY)
    return UPSTREAM_KEY


@contextlib.asynccontextmanager
async def asgi_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling ``app`` in process (lifespan run); buffers whole bodies."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy", timeout=10) as client:
            yield client


@pytest.fixture
def make_app(upstream_key: str) -> Callable[..., Starlette]:
    """``make_app(base_url, **settings)``: the ``openai`` preset's app (native), pointed at ``base_url``."""

    def make(base_url: str, **changes: Any) -> Starlette:
        options: dict[str, Any] = {"preset": "openai", "base_url": base_url, **changes}
        return create_app_from_settings(ProxySettings(**options))

    return make


class Served:
    """A uvicorn server running an app in a background thread, on a free loopback port, with the
    HTTP protocol ``openresponses proxy`` gives uvicorn (``http_protocol()``)."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, http=http_protocol(), lifespan="on", log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Starlette], Served]]:
    """``with serve(app) as served:`` runs ``app`` on a real uvicorn (``served.base_url``)."""
    started: list[Served] = []

    def start(app: Starlette) -> Served:
        served = Served(app)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.thread.is_alive():
            served.__exit__(None, None, None)


async def start_proxy(
    *args: str, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    """Run ``python *args`` (an ``openresponses proxy`` command); returns it and the URL it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
    except TimeoutError:
        process.kill()
        raise
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if match is None:
        process.kill()
        _, err = await process.communicate()
        raise AssertionError(f"no URL on stdout: {line!r}; stderr: {err.decode()[-2000:]}")
    return process, match.group(1)


async def stop_proxy(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Ctrl-C the proxy started by :func:`start_proxy`; returns its exit code and stderr."""
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    try:
        _, err = await asyncio.wait_for(process.communicate(), 15)
    except TimeoutError:
        process.kill()
        raise
    assert process.returncode is not None
    return process.returncode, err.decode()
