"""Failover across two providers with retries, a breaker, hedging and mid-stream restart.

Runs against two local scripted servers so it works offline: the first is rate-limited, then
breaks mid-stream; the second serves. Point the providers at real endpoints to use it for real.

    python examples/failover.py
"""

from __future__ import annotations

import asyncio

from openresponses import AsyncClient, Provider
from openresponses.middleware import CircuitBreaker, Failover, Retry, RetryPolicy, Timeout
from openresponses.testing import ScriptedServer, reset_mid_stream, status, text


async def main() -> None:
    async with (
        ScriptedServer([status(429, retry_after=0.2), reset_mid_stream(after_events=6)]) as primary,
        ScriptedServer(default=text("A complete answer from the backup provider.")) as backup,
    ):
        client = AsyncClient(
            endpoint=Failover(
                [
                    Provider(
                        "primary",
                        primary.base_url,
                        middleware=[
                            Retry(RetryPolicy(attempts=2)),
                            CircuitBreaker(fail_max=5, reset_timeout=30),
                            Timeout(first_event=10, idle=30),
                        ],
                    ),
                    Provider("backup", backup.base_url, model="backup-model"),
                ],
                first_token_timeout=15,
                hedge_after=5,
                midstream="restart",
            )
        )
        async with client, client.responses.stream(model="m", input="Tell me something") as stream:
            async for event in stream:
                if event.type == "openresponses:stream.restarted":
                    print("\n[restarted: discard the text above]")
                elif event.type == "response.output_text.delta":
                    print(event.delta, end="", flush=True)
            final = await stream.get_final_response()
        print(f"\n\nserved by {stream.provider}: {final.output_text!r}")
        print("recovery:", (final.model_extra or {}).get("openresponses:recovery"))


if __name__ == "__main__":
    asyncio.run(main())
