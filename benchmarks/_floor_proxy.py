"""The floor for a CPython proxy on this stack: uvicorn (httptools, uvloop) + a bare ASGI app +
this library's httptools connection pool, forwarding one canned Chat Completions request and
answering the upstream's JSON as it came. No validation, no translation, no store, no
middleware, no access log: what ``benchmarks/proxy.py --floor`` measures as the latency any
proxy built on these parts adds before doing any work.

    python benchmarks/_floor_proxy.py --port 8100 --base-url http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx
import uvicorn

from openresponses.transports._h1 import Origin, request_head
from openresponses.transports._h1_pool import Pool

MODEL = "fake-model"
TIMEOUT = {"connect": 5.0, "read": 60.0, "write": 5.0, "pool": 5.0}


def make_app(base_url: str) -> Any:
    url = httpx.URL(base_url)
    port = url.port or 80
    origin = Origin(
        "http",
        url.host,
        port,
        url.raw_path.rstrip(b"/") + b"/chat/completions",
        f"{url.host}:{port}".encode(),
    )
    body = json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "Tell me a long story."}]}
    ).encode()
    payload = request_head(origin, {"content-type": "application/json"}, len(body)) + body
    pool: Pool | None = None
    json_type = [(b"content-type", b"application/json")]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal pool
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            if pool is not None:
                await pool.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["method"] == "GET":  # /health
            await send({"type": "http.response.start", "status": 200, "headers": json_type})
            await send({"type": "http.response.body", "body": b'{"status": "ok"}'})
            return
        message = await receive()
        json.loads(message["body"])  # the request is at least read and parsed
        if pool is None:
            pool = Pool(httpx.Limits(max_connections=100), httpx.create_ssl_context)
        exchange = await pool.send(origin, payload, TIMEOUT, whole=True, error_limit=1 << 20)
        data = await exchange.whole()
        exchange.close()
        await send({"type": "http.response.start", "status": 200, "headers": json_type})
        await send({"type": "http.response.body", "body": data})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--base-url", required=True, help="the upstream, e.g. http://127.0.0.1:8000/v1")
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.base_url), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
