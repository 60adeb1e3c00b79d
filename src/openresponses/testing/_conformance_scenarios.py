"""The conformance scenarios: what each check sends, and what it accepts back.

They follow the spec project's acceptance scenarios (basic, streaming, system prompt, tool
calling, image input, multi-turn, compaction) and add what a gate in CI also needs: the R7
``[DONE]`` sentinel on its own (so it can be filtered), a streamed tool call, the
``previous_response_id`` chain, and the error body. Prompts are short and neutral: the checks
run against real models, where every request costs tokens, and they judge shapes and order,
never what the model says.
"""

from __future__ import annotations

import os
from typing import Any

from ._conformance_checks import (
    IMAGE_DATA_URL,
    TOOL,
    Check,
    CheckContext,
    CheckFailure,
    StreamCapture,
    as_input,
    describe_status,
    expect_completed,
    expect_json,
    judge_tool_output,
    summarise,
)
from ._conformance_rules import validate_compaction, validate_error_body

__all__ = ["CHECKS"]

_STREAM_BODY: dict[str, Any] = {"input": "Count from one to five, separated by commas."}
_TOOL_PROMPT = "What is the weather in Paris right now? Use the get_weather tool."


async def _basic(ctx: CheckContext) -> str:
    data = await ctx.create({"input": "Say hello in one short sentence."})
    output = expect_completed(data, "POST /responses")
    return f"200 OK, completed: {summarise(output)}"


async def _text_stream(ctx: CheckContext) -> StreamCapture:
    capture: StreamCapture = await ctx.shared("text-stream", lambda: ctx.stream(_STREAM_BODY))
    return capture


async def _streaming(ctx: CheckContext) -> str:
    capture = await _text_stream(ctx)
    problems = capture.problems()
    if problems:
        raise CheckFailure(f"the stream breaks {len(problems)} rule(s)", problems)
    terminal = capture.terminal or {}
    output = expect_completed(terminal.get("response") or {}, f"terminal {terminal.get('type')!r}")
    notes = ""
    if any(event.id is not None for event in capture.events):
        notes = "; note: the server sends SSE id: fields (R9: should not)"
    return f"{len(capture.events)} SSE events in order, completed: {summarise(output)}{notes}"


async def _streaming_done(ctx: CheckContext) -> str:
    capture = await _text_stream(ctx)
    if not capture.events:
        raise CheckFailure("the stream has no events")
    last = capture.events[-1]
    if last.data.strip() != b"[DONE]":
        raise CheckFailure(f"the last data is not [DONE] (R7): {last.data[:80]!r}")
    if any(event.data.strip() == b"[DONE]" for event in capture.events[:-1]):
        raise CheckFailure("[DONE] was sent before the end of the stream (R7)")
    return "the stream ends with data: [DONE]"


async def _system_prompt(ctx: CheckContext) -> str:
    instructions = "You are a terse assistant. Answer in at most five words."
    data = await ctx.create(
        {
            "instructions": instructions,
            "input": [
                {"type": "message", "role": "system", "content": "Prefer lowercase words."},
                {"type": "message", "role": "user", "content": "Say hello."},
            ],
        }
    )
    output = expect_completed(data, "POST /responses")
    if data.get("instructions") != instructions:
        raise CheckFailure(f"instructions not echoed: response.instructions is {data.get('instructions')!r}")
    return f"instructions echoed, system message accepted; {summarise(output)}"


async def _tool_round_trip(ctx: CheckContext, output: list[Any]) -> str:
    calls, problems = judge_tool_output(output)
    if problems:
        raise CheckFailure(f"the tool call is malformed ({summarise(output)})", problems)
    if not calls:
        return f"answered without calling the tool ({summarise(output)}); shapes valid"
    # R81: send each call's output back with the history; the server must take it.
    history: list[Any] = [{"type": "message", "role": "user", "content": _TOOL_PROMPT}]
    history += [as_input(item) for item in output if isinstance(item, dict)]
    history += [
        {
            "type": "function_call_output",
            "call_id": call["call_id"],
            "output": '{"temperature_c": 18, "sky": "clear"}',
            "status": "completed",
        }
        for call in calls
    ]
    follow_up = await ctx.create({"input": history, "tools": [TOOL]}, what="the function_call_output turn")
    final = expect_completed(follow_up, "the function_call_output turn")
    return f"{len(calls)} valid function_call(s), round trip completed: {summarise(final)}"


async def _tool_calling(ctx: CheckContext) -> str:
    data = await ctx.create({"input": _TOOL_PROMPT, "tools": [TOOL]})
    output = expect_completed(data, "POST /responses")
    tools = data.get("tools") or []
    if not any(isinstance(tool, dict) and tool.get("name") == TOOL["name"] for tool in tools):
        raise CheckFailure(f"response.tools does not echo the get_weather tool (R19): {tools!r:.200}")
    return await _tool_round_trip(ctx, output)


async def _tool_calling_streaming(ctx: CheckContext) -> str:
    capture = await ctx.stream({"input": _TOOL_PROMPT, "tools": [TOOL]})
    problems = capture.problems()
    if problems:
        raise CheckFailure(f"the stream breaks {len(problems)} rule(s)", problems)
    terminal = capture.terminal or {}
    output = expect_completed(terminal.get("response") or {}, f"terminal {terminal.get('type')!r}")
    calls, problems = judge_tool_output(output)
    if problems:
        raise CheckFailure("the streamed tool call is malformed", problems)
    what = f"{len(calls)} function_call(s)" if calls else f"no call ({summarise(output)})"
    return f"{len(capture.events)} SSE events in order; {what}, shapes valid"


async def _image_input(ctx: CheckContext) -> str:
    content = [
        {"type": "input_text", "text": "What colour is this image? One word."},
        {"type": "input_image", "image_url": IMAGE_DATA_URL, "detail": "low"},
    ]
    data = await ctx.create({"input": [{"type": "message", "role": "user", "content": content}]})
    output = expect_completed(data, "POST /responses")
    return f"data: URL image accepted; {summarise(output)}"


async def _multi_turn(ctx: CheckContext) -> str:
    items = [
        {"type": "message", "role": "user", "content": "My name is Ada."},
        {
            "type": "message",
            "role": "assistant",
            "content": "Nice to meet you, Ada.",
            "phase": "final_answer",
        },
        {"type": "message", "role": "user", "content": "What is my name?"},
    ]
    data = await ctx.create({"input": items})
    output = expect_completed(data, "POST /responses")
    return f"history of 3 messages accepted; {summarise(output)}"


async def _previous_response_id(ctx: CheckContext) -> str:
    first = await ctx.create({"input": "Remember the number 42.", "store": True}, what="the first turn")
    expect_completed(first, "the first turn")
    first_id = first["id"]
    second = await ctx.create(
        {"input": "Which number did I ask you to remember?", "previous_response_id": first_id},
        what="the continued turn",
    )
    expect_completed(second, "the continued turn")
    if second.get("previous_response_id") != first_id:
        raise CheckFailure(
            f"the continued turn echoes previous_response_id {second.get('previous_response_id')!r}, "
            f"expected {first_id!r}"
        )
    bogus = f"resp_openresponses_check_missing_{os.urandom(6).hex()}"
    reply = await ctx.post(
        "/responses", {"model": ctx.model, "input": "Hello.", "previous_response_id": bogus}
    )
    if reply.status < 400:
        raise CheckFailure(
            f"HTTP {reply.status} for a previous_response_id that does not exist; expected an error "
            "(R87: the server loads the previous response)"
        )
    if reply.status >= 500:
        raise CheckFailure(f"an unknown previous_response_id caused a server error: {describe_status(reply)}")
    try:
        body = reply.json()
    except ValueError:
        raise CheckFailure(f"HTTP {reply.status} for an unknown id, but the body is not JSON") from None
    problems = validate_error_body(body)
    if problems:
        raise CheckFailure(
            f"HTTP {reply.status} for an unknown id, but not the spec error body (R48)", problems
        )
    code = body["error"].get("code")
    if code != "previous_response_not_found" and reply.status != 404:
        raise CheckFailure(
            f"an unknown id got HTTP {reply.status} with code {code!r}; "
            "expected code previous_response_not_found or HTTP 404"
        )
    return f"continued {first_id}; an unknown id got HTTP {reply.status} ({code or 'no code'})"


async def _compaction(ctx: CheckContext) -> str:
    items = [
        {"type": "message", "role": "user", "content": "Plan a small birthday party for a seven-year-old."},
        {"type": "message", "role": "assistant", "content": "Sure: a garden picnic with games and cake."},
        {"type": "message", "role": "user", "content": "Add one indoor activity in case it rains."},
    ]
    reply = await ctx.post("/responses/compact", {"model": ctx.model, "input": items})
    data = expect_json(reply, "POST /responses/compact")
    problems = validate_compaction(data)
    if problems:
        raise CheckFailure("POST /responses/compact: not a valid CompactResource (R70)", problems)
    output = data["output"]
    # R66: the compacted window becomes the base input of a new chain (no previous_response_id).
    window = [as_input(item) for item in output if isinstance(item, dict)]
    window.append({"type": "message", "role": "user", "content": "Now list the activities."})
    follow_up = await ctx.create({"input": window}, what="the turn after compaction")
    expect_completed(follow_up, "the turn after compaction")
    return f"compacted to {summarise(output) or 'no items'}; the next turn from the window completed"


async def _error_shape(ctx: CheckContext) -> str:
    reply = await ctx.post("/responses", {"model": ctx.model, "input": 42})
    if reply.status < 400 or reply.status >= 500:
        raise CheckFailure(
            f"input: 42 got HTTP {reply.status}, expected a 4xx (R49): {describe_status(reply)}"
        )
    if reply.content_type != "application/json":
        raise CheckFailure(
            f"HTTP {reply.status} with Content-Type {reply.content_type!r}, expected application/json"
        )
    try:
        body = reply.json()
    except ValueError:
        raise CheckFailure(f"HTTP {reply.status}, but the error body is not JSON") from None
    problems = validate_error_body(body)
    if problems:
        raise CheckFailure(f"HTTP {reply.status}, but not the spec error body (R48)", problems)
    return f"HTTP {reply.status} with error type {body['error']['type']!r}"


CHECKS: tuple[Check, ...] = (
    Check("basic", "Non-streaming text response", _basic, ("R5", "R18", "R21")),
    Check("streaming", "Streamed text: every event valid and in order", _streaming, ("R6", "R8", "R35-R46")),
    Check("streaming-done", "Stream ends with data: [DONE]", _streaming_done, ("R7",)),
    Check("system-prompt", "instructions and a system message", _system_prompt, ("R13", "R18")),
    Check("tool-calling", "Function tool call and its output round trip", _tool_calling, ("R19", "R81")),
    Check("tool-calling-streaming", "Streamed function tool call", _tool_calling_streaming, ("R38", "R81")),
    Check("image-input", "input_image as a data: URL", _image_input, ("R13", "R34")),
    Check("multi-turn", "Prior assistant message and a follow-up", _multi_turn, ("R13", "R16")),
    Check("previous-response-id", "Continue with previous_response_id", _previous_response_id, ("R87",)),
    Check("compaction", "POST /responses/compact and the next turn", _compaction, ("R66", "R70")),
    Check("error-shape", "Malformed request gets the spec error body", _error_shape, ("R48", "R49")),
)
