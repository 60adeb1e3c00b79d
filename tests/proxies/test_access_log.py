"""The proxy's access log: one uvicorn-style line per request, written after the reply is sent."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import sys
from typing import Any

import httpx
import pytest

from openresponses.proxies._access import ACCESS_LOGGER, AccessLog, _AccessHandler, configure_access_log
from openresponses.testing.chat import ChatCompletionsServer, chat_text

from .conftest import start_proxy

INBOUND_KEY = "sk-inbound-access-log-0123456789"


def scope(path: str = "/v1/responses", query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "query_string": query,
        "http_version": "1.1",
        "client": ("127.0.0.1", 5555),
        "headers": [],
    }


async def run(app: Any, the_scope: dict[str, Any], level: int = logging.INFO) -> list[tuple[str, Any]]:
    """Run ``AccessLog(app)``; the messages sent and the log lines, in the order they happened."""
    order: list[tuple[str, Any]] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            order.append(("log", record.getMessage()))

    logger = logging.getLogger(ACCESS_LOGGER)
    handler = Recorder()
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        order.append(("send", message.get("status", message.get("more_body", False))))

    try:
        await AccessLog(app)(the_scope, receive, send)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
    return order


async def test_the_line_comes_after_the_whole_reply() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    order = await run(app, scope(query=b"a=1"))
    assert order == [
        ("send", 201),
        ("send", False),
        ("log", '127.0.0.1:5555 - "POST /v1/responses?a=1 HTTP/1.1" 201'),
    ]


async def test_the_target_is_uvicorns_with_or_without_raw_path() -> None:
    """ASGI makes ``raw_path`` optional; uvicorn's helper needs it since 0.55 (a KeyError once)."""
    from uvicorn.protocols.utils import get_path_with_query_string

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    bare = scope(path="/v1/a b", query=b"x=1")  # no raw_path: the path, quoted
    assert (await run(app, bare))[-1] == ("log", '127.0.0.1:5555 - "POST /v1/a%20b?x=1 HTTP/1.1" 200')
    with_raw = dict(bare, raw_path=b"/v1/a%20b")  # as uvicorn builds it: its own helper's text
    expected = get_path_with_query_string(with_raw)  # type: ignore[arg-type]
    assert (await run(app, with_raw))[-1] == ("log", f'127.0.0.1:5555 - "POST {expected} HTTP/1.1" 200')


async def test_a_stream_is_logged_once_when_it_ends() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            await send({"type": "http.response.body", "body": b"data: x\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    order = await run(app, scope())
    assert [kind for kind, _ in order] == ["send"] * 5 + ["log"]
    assert order[-1][1].endswith('"POST /v1/responses HTTP/1.1" 200')


async def test_an_app_that_fails_before_replying_still_gets_a_line() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    logger = logging.getLogger(ACCESS_LOGGER)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    keep = Keep()
    logger.addHandler(keep)
    saved = logger.level
    logger.setLevel(logging.INFO)
    try:
        with pytest.raises(RuntimeError):
            await AccessLog(app)(scope(), None, None)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(keep)
        logger.setLevel(saved)
    assert lines == ['127.0.0.1:5555 - "POST /v1/responses HTTP/1.1" 500']


async def test_below_info_nothing_is_logged_and_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    assert await run(app, scope(), level=logging.WARNING) == []
    await AccessLog(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["http", "lifespan"]


@pytest.mark.parametrize("colours", [False, True])
def test_the_direct_line_is_exactly_the_formatters_line(colours: bool) -> None:
    from uvicorn.logging import AccessFormatter

    out = io.StringIO()
    handler = _AccessHandler(out)
    handler.fast_formatter = AccessFormatter(handler.fast_formatter._fmt, use_colors=colours)
    handler.setFormatter(handler.fast_formatter)
    cases = [
        ("127.0.0.1:5555", "POST", "/v1/responses", "1.1", 200),
        ("[::1]:80", "GET", "/v1/models?after=a%20b&x=%s", "1.0", 404),
        ("10.0.0.1:1", "POST", "/v1/responses/\x00odd-ünïcode", "1.1", 499),  # no HTTP phrase
        ("127.0.0.1:2", "POST", "/v1/responses", "1.1", 500),
        ("127.0.0.1:3", "GET", "/health", "1.1", 200),  # a cached template again
    ]
    expected = ""
    for client, method, path, version, status in cases:
        assert handler.line(client, method, path, version, status)
        record = logging.LogRecord(
            ACCESS_LOGGER, logging.INFO, __file__, 0, '%s - "%s %s HTTP/%s" %d',
            (client, method, path, version, status), None,
        )  # fmt: skip
        expected += handler.format(record) + "\n"
    assert out.getvalue() == expected
    assert ("\x1b[" in expected) is colours


async def test_a_filter_or_handler_added_later_still_gets_a_record(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    logger = logging.getLogger(ACCESS_LOGGER)
    saved = logger.handlers, logger.level, logger.propagate
    configure_access_log("info")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message: Any) -> None:
        pass

    seen: list[str] = []

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record.getMessage())
        return True

    try:
        await AccessLog(app)(scope(), None, send)  # type: ignore[arg-type]
        assert out.getvalue().endswith('127.0.0.1:5555 - "POST /v1/responses HTTP/1.1" 200 OK\n')
        assert seen == []
        logger.addFilter(keep)
        await AccessLog(app)(scope(), None, send)  # type: ignore[arg-type]
        assert seen == ['127.0.0.1:5555 - "POST /v1/responses HTTP/1.1" 200']
        assert out.getvalue().count("200 OK") == 2  # the record still reached the handler
    finally:
        logger.removeFilter(keep)
        logger.handlers, logger.level, logger.propagate = saved


async def stop(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("level", ["info", "warning"])
async def test_the_served_proxy_writes_one_line_per_request(level: str) -> None:
    async with ChatCompletionsServer([chat_text("One."), chat_text("Two.")]) as upstream:
        process, url = await start_proxy(
            "-m", "openresponses", "proxy", "--preset", "ollama", "--base-url", upstream.base_url,
            "--port", "0", "--model", "m", "--api-key-env", "PROXY_KEY", "--log-level", level,
            env={"PROXY_KEY": INBOUND_KEY},
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                headers = {"authorization": f"Bearer {INBOUND_KEY}"}
                plain = await http.post("/v1/responses", json={"input": "Hi"}, headers=headers)
                async with http.stream(
                    "POST", "/v1/responses", json={"input": "Hi", "stream": True}, headers=headers
                ) as streamed:
                    body = await streamed.aread()
                missing = await http.get("/nowhere")
        finally:
            code, out, err = await stop(process)
    assert code == 0, err
    assert plain.status_code == 200 and streamed.status_code == 200 and b"response.completed" in body
    assert missing.status_code == 404
    lines = [line for line in out.splitlines() if ' - "' in line]
    if level == "warning":
        assert lines == []
        return
    # uvicorn's own format (level prefix, client, request line, status and phrase), each once.
    assert [line.split(" - ", 1)[1] for line in lines] == [
        '"POST /v1/responses HTTP/1.1" 200 OK',
        '"POST /v1/responses HTTP/1.1" 200 OK',
        '"GET /nowhere HTTP/1.1" 404 Not Found',
    ], out
    assert all(line.startswith("INFO:     127.0.0.1:") for line in lines), lines
    assert INBOUND_KEY not in out + err
