"""A production-style web service: one shared AsyncClient with Tracing, a cache and Failover.

The service (Starlette; ``pip install 'openresponses-python[proxy,otel]'``) answers
``POST /ask {"question": "..."}`` by streaming the model's text as it arrives, and
``GET /health``. One ``AsyncClient`` is built at start-up and shared by every request: its
connection pool, breaker state and retry budget are per process, which is what you want.

- ``python examples/web_service.py`` runs offline: a failing and a healthy scripted provider
  on loopback, the service on a free port, three requests through it (the repeat answered by
  the semantic cache), then the trace tree.
- ``python examples/web_service.py --serve --config examples/openresponses.toml`` serves for
  real (port 8080) with the providers of a config file, exporting traces over OTLP to
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (Jaeger: ``http://localhost:4318``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from openresponses import AsyncClient, OpenResponsesError, Provider, exporters
from openresponses.middleware import Failover, Retry, SemanticCache, Timeout, Tracing
from openresponses.types import OutputTextDeltaEvent


def build_app(client: AsyncClient, *, model: str) -> Starlette:
    """The service around one shared client (closed when the app shuts down)."""

    async def ask(request: Request) -> Response:
        try:
            payload = await request.json()
            question = payload["question"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"question": "..."}'}, status_code=400)
        manager = client.responses.stream(model=model, input=question)
        try:
            stream = await manager.__aenter__()  # fail before the 200 if no provider answers
        except OpenResponsesError as exc:
            return JSONResponse({"error": type(exc).__name__}, status_code=502)

        async def body() -> AsyncIterator[str]:
            try:
                async for event in stream:
                    if isinstance(event, OutputTextDeltaEvent):
                        yield event.delta
            finally:
                await manager.__aexit__(None, None, None)

        return StreamingResponse(body(), media_type="text/plain; charset=utf-8")

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with client:  # closes the pool on shutdown
            yield

    return Starlette(
        routes=[Route("/ask", ask, methods=["POST"]), Route("/health", health)], lifespan=lifespan
    )


def production_client(config: str, tracing: Tracing) -> AsyncClient:
    """Providers and chains from a config file, with tracing outermost, then a semantic cache
    (in memory here; ``SemanticCache(RedisStore(url))`` to share it between processes)."""
    return AsyncClient.from_config(config, middleware=[tracing, SemanticCache()])


async def offline_demo() -> None:
    from openresponses.testing import ScriptedServer, status, text

    telemetry = exporters.memory()
    async with (
        ScriptedServer(default=status(503)) as broken,
        ScriptedServer(default=text("Served by the backup, streamed to your browser.")) as backup,
    ):
        client = AsyncClient(
            middleware=[Tracing(tracer_provider=telemetry.tracer_provider), SemanticCache()],
            endpoint=Failover(
                [
                    Provider(
                        "primary", broken.base_url, middleware=[Retry(), Timeout(first_event=10, idle=30)]
                    ),
                    Provider("backup", backup.base_url, middleware=[Timeout(first_event=10, idle=30)]),
                ]
            ),
        )
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(build_app(client, model="m"), host="127.0.0.1", port=port, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn exposes a flag only
            await asyncio.sleep(0.01)
        if serving.done():
            raise RuntimeError("the service did not start")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            answer = await http.post("/ask", json={"question": "Hello?"})
            again = await http.post("/ask", json={"question": "Hello?"})  # answered by the cache
            bad = await http.post("/ask", content=b"not json")
        server.should_exit = True
        await serving
    print(f"POST /ask -> {answer.status_code}: {answer.text}")
    print(f"POST /ask again -> {again.status_code}: {again.text} (from the cache)")
    print(f"POST /ask (bad body) -> {bad.status_code}: {json.loads(bad.text)}")
    print(f"the broken primary saw {len(broken.requests)} requests, the backup {len(backup.requests)}")
    spans = telemetry.spans()
    first = min(spans, key=lambda span: span.start_time or 0).context.trace_id  # the failed-over call
    print(exporters.render_trace([span for span in spans if span.context.trace_id == first]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help="serve for real instead of the offline demo")
    parser.add_argument("--config", default="examples/openresponses.toml", help="providers and chains (TOML)")
    parser.add_argument("--model", default="fast", help="model name sent to the chain")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if not args.serve:
        asyncio.run(offline_demo())
        return
    telemetry = exporters.setup(service_name="ask-service")
    try:
        client = production_client(args.config, Tracing())
        uvicorn.run(build_app(client, model=args.model), host="127.0.0.1", port=args.port)
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
