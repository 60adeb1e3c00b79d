"""A tool-calling loop: the model asks for a function, we run it, and send the result back.

Runs offline against a scripted server that first asks for ``get_weather`` and then answers
with text; point ``base_url`` at a real endpoint to use it for real. The loop is the same for
any provider: keep the conversation as a list of items, append each ``function_call`` the model
made and a ``function_call_output`` per call, and ask again until no call is left.

    python examples/tool_loop.py
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from openresponses import AsyncClient
from openresponses.testing import ScriptedServer, function_call, text
from openresponses.types import FunctionCall

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]


def get_weather(city: str) -> dict[str, Any]:
    """The tool itself: a real one would call a weather API."""
    return {"city": city, "temperature_c": 14, "sky": "light rain"}


async def run(client: AsyncClient, question: str, *, max_turns: int = 5) -> str:
    """Ask, run every function call the model makes, and return its final text."""
    conversation: list[Any] = [{"role": "user", "content": question}]
    for _ in range(max_turns):
        response = await client.responses.create(model="m", input=conversation, tools=TOOLS)
        calls = [item for item in response.output if isinstance(item, FunctionCall)]
        if not calls:
            return response.output_text
        for call in calls:
            result = get_weather(**json.loads(call.arguments))
            print(f"-> {call.name}({call.arguments}) = {json.dumps(result)}")
            conversation.append(
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
            conversation.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(result)}
            )
    raise RuntimeError(f"no final answer after {max_turns} turns")


async def main() -> None:
    script = [
        function_call("get_weather", {"city": "Lisbon"}, call_id="call_1"),
        text("It is 14 °C with light rain in Lisbon: take an umbrella."),
    ]
    async with ScriptedServer(script) as server, AsyncClient(base_url=server.base_url) as client:
        answer = await run(client, "Do I need an umbrella in Lisbon today?")
        sent = server.requests[1].body["input"]
    print("answer:", answer)
    print("second request carried", [item.get("type", "message") for item in sent])


if __name__ == "__main__":
    asyncio.run(main())
