"""The offline demo: a scripted Open Responses server on loopback, streamed through the client.

Everything runs in this process on 127.0.0.1; nothing leaves the machine. Sections are added as
capabilities land (resilience, tracing).
"""

from __future__ import annotations

from collections.abc import Callable

from .._client import AsyncClient
from ..testing import ScriptedServer, text
from ..types import OutputTextDeltaEvent, ReasoningSummaryTextDeltaEvent

_REASONING = (
    "The user asks what Open Responses is. Explain it in one or two sentences, then mention streaming."
)
_ANSWER = (
    "Open Responses is an open, provider-neutral specification for LLM APIs, derived from the "
    "OpenAI Responses API: typed items in, typed items out, and semantic streaming events."
)


def _style(color: bool) -> tuple[Callable[[str], str], Callable[[str], str], Callable[[str], str]]:
    def wrap(code: str) -> Callable[[str], str]:
        return (lambda s: f"\033[{code}m{s}\033[0m") if color else (lambda s: s)

    return wrap("2;3"), wrap("1"), wrap("36")


async def stream_section(server: ScriptedServer, color: bool) -> None:
    """Stream a reasoning + message answer: reasoning deltas and text deltas printed distinctly."""
    dim, bold, cyan = _style(color)
    server.push(text(_ANSWER, reasoning=_REASONING, event_delay=0.004))
    async with AsyncClient(base_url=server.base_url, api_key="demo-key") as client:
        print(bold("1. Streaming a reasoning model's answer") + f"  ({server.base_url})")
        async with client.responses.stream(
            model="demo-reasoner",
            input="What is Open Responses?",
            reasoning={"effort": "low", "summary": "auto"},
        ) as stream:
            section = None
            async for event in stream:
                if isinstance(event, ReasoningSummaryTextDeltaEvent):
                    if section != "reasoning":
                        section = "reasoning"
                        print(cyan("\n[reasoning] "), end="")
                    print(dim(event.delta), end="", flush=True)
                elif isinstance(event, OutputTextDeltaEvent):
                    if section != "answer":
                        section = "answer"
                        print(cyan("\n[answer]    "), end="")
                    print(event.delta, end="", flush=True)
            final = await stream.get_final_response()
    usage = final.usage
    print()
    if usage is not None:
        print(
            cyan("[usage]     ")
            + f"{usage.input_tokens} input, {usage.output_tokens} output "
            + f"({usage.output_tokens_details.reasoning_tokens} reasoning), {usage.total_tokens} total tokens"
        )
    print(cyan("[final]     ") + f"status={final.status} id={final.id} served by {final.provider!r}\n")


async def run_demo(*, color: bool = False) -> int:
    """Run every demo section against one scripted loopback server."""
    async with ScriptedServer() as server:
        await stream_section(server, color)
    return 0
