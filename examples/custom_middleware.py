"""Writing your own middleware: a per-tenant usage ledger that works for streams and non-streams.

A middleware is any object with ``async __call__(request, call_next) -> Reply``. This one stamps
each request with the tenant's safety identifier, and records the tokens each call used once it
ends, whether the reply is a whole ``Response`` or a stream that the caller reads later (the
``on_end`` tap fires when the caller finishes, breaks out or the stream fails). Runs offline
against a scripted server.

    python examples/custom_middleware.py
"""

from __future__ import annotations

import asyncio
from collections import Counter

from openresponses import AsyncClient, EventStream, Handler, Reply, Request, Response, StreamEnd
from openresponses.middleware import Retry
from openresponses.testing import ScriptedServer, status, text


class UsageLedger:
    """Middleware: count input and output tokens per tenant."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.tokens: Counter[str] = Counter()
        self.calls = 0

    def _add(self, response: Response | None) -> None:
        self.calls += 1
        if response is not None and response.usage is not None:
            self.tokens["input"] += response.usage.input_tokens
            self.tokens["output"] += response.usage.output_tokens

    async def __call__(self, request: Request, call_next: Handler) -> Reply:
        body = request.body.model_copy(update={"safety_identifier": self.tenant})
        reply = await call_next(request.replace(body=body))
        if isinstance(reply, EventStream):

            def on_end(end: StreamEnd) -> None:
                self._add(end.response)  # the partial response if the stream failed

            return reply.tap(on_end=on_end)
        if isinstance(reply, Response):  # not a CompactResponse (from responses.compact)
            self._add(reply)
        return reply


async def main() -> None:
    ledger = UsageLedger("tenant-42")
    async with (
        ScriptedServer([status(503), text("First answer."), text("A streamed second answer.")]) as server,
        # Outermost first: the ledger sees one call however many attempts Retry makes inside it.
        AsyncClient(base_url=server.base_url, middleware=[ledger, Retry()]) as client,
    ):
        first = await client.responses.create(model="m", input="Hello")
        async with client.responses.stream(model="m", input="And again") as stream:
            async for _ in stream:
                pass
        print("answers:", first.output_text, "|", stream.response.output_text if stream.response else None)
        print(
            "the server saw",
            len(server.requests),
            "requests, tenant",
            server.requests[-1].body["safety_identifier"],
        )
    print(f"ledger: {ledger.calls} calls, tokens {dict(ledger.tokens)}")


if __name__ == "__main__":
    asyncio.run(main())
