"""The fake Chat Completions upstream, read with httpx over loopback: each vendor's exact wire shape."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from openresponses.testing import ChatCompletionsServer
from openresponses.testing.chat import (
    ChatCall,
    ChatScenario,
    chat_content_policy,
    chat_context_length_exceeded,
    chat_cut,
    chat_delay,
    chat_error_in_stream,
    chat_malformed,
    chat_raw,
    chat_refusal,
    chat_stall,
    chat_status,
    chat_text,
    chat_tool_calls,
)

MESSAGES = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hello there you"}]
PROMPT_TOKENS = 5  # words in MESSAGES


def chat_body(*, stream: bool = False, usage: bool = False, model: str = "fake-model") -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": MESSAGES}
    if stream:
        body["stream"] = True
    if usage:
        body["stream_options"] = {"include_usage": True}
    return body


@pytest.fixture
async def server() -> AsyncIterator[ChatCompletionsServer]:
    async with ChatCompletionsServer() as upstream:
        yield upstream


async def raw_stream(server: ChatCompletionsServer, body: dict[str, Any]) -> tuple[httpx.Response, bytes]:
    """POST and read the whole body as raw bytes (after HTTP de-chunking)."""
    async with (
        httpx.AsyncClient(base_url=server.base_url) as client,
        client.stream("POST", "/chat/completions", json=body) as response,
    ):
        data = b"".join([part async for part in response.aiter_raw()])
    return response, data


def frames(data: bytes) -> list[bytes]:
    """The SSE frames, each checked to be a bare ``data:`` line or a comment (no ``event:`` field)."""
    assert data.endswith(b"\n\n"), data[-40:]
    out = data[:-2].split(b"\n\n")
    for frame in out:
        assert b"\n" not in frame, frame
        assert frame.startswith(b"data: ") or frame.startswith(b": "), frame
    return out


def chunks_of(data: bytes) -> list[dict[str, Any]]:
    """Every JSON chunk (comments and ``[DONE]`` skipped)."""
    return [
        json.loads(frame[6:])
        for frame in frames(data)
        if frame.startswith(b"data: ") and frame != b"data: [DONE]"
    ]


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]


async def play(server: ChatCompletionsServer, scenario: ChatScenario, **body: Any) -> list[dict[str, Any]]:
    server.push(scenario)
    response, data = await raw_stream(server, chat_body(stream=True, **body))
    assert response.status_code == 200
    return chunks_of(data)


async def complete(server: ChatCompletionsServer, scenario: ChatScenario) -> httpx.Response:
    server.push(scenario)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        return await client.post("/chat/completions", json=chat_body())


# -- text streams ---------------------------------------------------------------------------------


async def test_openai_text_stream_exact_shape(server: ChatCompletionsServer) -> None:
    server.push(chat_text("Hello brave world"))
    response, data = await raw_stream(server, chat_body(stream=True, model="gpt-x"))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    assert b"event:" not in data
    assert frames(data)[-1] == b"data: [DONE]"
    chunks = chunks_of(data)
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and chunks[0]["id"].startswith("chatcmpl-")
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-x" for c in chunks)
    assert all("usage" not in c for c in chunks)  # no include_usage: OpenAI sends no usage key at all
    assert deltas(chunks) == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "Hello"},
        {"content": " brave"},
        {"content": " world"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, None, "stop"]
    # Compact JSON on one line per chunk, as the vendors write it.
    assert frames(data)[1].startswith(b'data: {"id":"chatcmpl-')


async def test_usage_after_the_finish_chunk_only_when_asked(server: ChatCompletionsServer) -> None:
    scenario = chat_text("one two three", reasoning="think first", cached_tokens=2)
    chunks = await play(server, scenario, usage=True)
    assert all("usage" in c for c in chunks)
    assert all(c["usage"] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": 5,  # 2 reasoning pieces + 3 text pieces
        "total_tokens": PROMPT_TOKENS + 5,
        "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 2,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in await play(server, scenario))


async def test_usage_styles(server: ChatCompletionsServer) -> None:
    together = await play(server, chat_text("a b", usage="on_finish", usage_details="none"))
    assert [c["usage"] for c in together[:-1]] == [None, None, None]
    assert together[-1]["choices"][0]["finish_reason"] == "stop"
    assert together[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}

    groq = await play(server, chat_text("a b", usage="groq", role_every_delta=True))
    assert all("usage" not in c for c in groq)
    assert groq[0]["x_groq"] == {"id": groq[-1]["x_groq"]["id"]}
    assert groq[-1]["choices"][0]["finish_reason"] == "stop"
    assert groq[-1]["x_groq"]["usage"]["completion_tokens"] == 2
    assert "queue_time" in groq[-1]["x_groq"]["usage"]
    assert all(d["role"] == "assistant" for d in deltas(groq))
    groq_asked = await play(server, chat_text("a b", usage="groq"), usage=True)
    assert groq_asked[-1]["choices"] == [] and groq_asked[-1]["usage"]["total_tokens"] == 7

    vllm = await play(server, chat_text("a b c", usage="continuous"))
    assert [c["usage"]["completion_tokens"] for c in vllm] == [0, 1, 2, 3, 3, 3]
    assert vllm[-1]["choices"] == [] and "completion_tokens_details" in vllm[-1]["usage"]

    router = await play(server, chat_text("a b", usage="openrouter"))
    assert router[-2]["choices"][0]["finish_reason"] == "stop"
    assert router[-1]["choices"][0]["finish_reason"] is None  # a chunk after the finish chunk
    assert router[-1]["usage"]["cost"] > 0

    assert all("usage" not in c for c in await play(server, chat_text("a b", usage="none"), usage=True))


async def test_deepseek_cache_usage_and_finish_reason(server: ChatCompletionsServer) -> None:
    scenario = chat_text(
        "cut short", usage_details="deepseek", cached_tokens=3, finish_reason="insufficient_system_resource"
    )
    chunks = await play(server, scenario, usage=True)
    usage = chunks[-1]["usage"]
    assert usage["prompt_cache_hit_tokens"] == 3 and usage["prompt_cache_miss_tokens"] == PROMPT_TOKENS - 3
    assert "prompt_tokens_details" not in usage  # only DeepSeek's own names: the adapter must read them
    assert chunks[-2]["choices"][0]["finish_reason"] == "insufficient_system_resource"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_fields(server: ChatCompletionsServer, field: str) -> None:
    chunks = await play(server, chat_text("Answer", reasoning="Let me think"))
    assert deltas(chunks)[1:3] == [{"reasoning_content": "Let"}, {"reasoning_content": " me"}]
    chunks = await play(server, chat_text("Answer", reasoning="Let me think", reasoning_field=field))  # type: ignore[arg-type]
    reasoning = [d[field] for d in deltas(chunks) if field in d]
    assert "".join(reasoning) == "Let me think"
    assert [d for d in deltas(chunks) if d.get("content")] == [{"content": "Answer"}]
    message = (await complete(server, chat_text("Answer", reasoning="Why", reasoning_field=field))).json()  # type: ignore[arg-type]
    assert message["choices"][0]["message"][field] == "Why"


async def test_openrouter_reasoning_details_duplicate_the_text(server: ChatCompletionsServer) -> None:
    scenario = chat_text(
        "Hi", reasoning="a b", reasoning_field="reasoning_details", reasoning_signature="sig"
    )
    reasoning = [d for d in deltas(await play(server, scenario)) if "reasoning" in d]
    assert [d["reasoning"] for d in reasoning] == ["a", " b"]
    assert [d["reasoning_details"][0]["text"] for d in reasoning] == ["a", " b"]
    assert reasoning[0]["reasoning_details"][0]["type"] == "reasoning.text"
    assert "signature" not in reasoning[0]["reasoning_details"][0]
    assert reasoning[-1]["reasoning_details"][0]["signature"] == "sig"
    message = (await complete(server, scenario)).json()["choices"][0]["message"]
    assert message["reasoning"] == "a b"
    assert message["reasoning_details"] == [
        {"type": "reasoning.text", "text": "a b", "format": "unknown", "index": 0, "signature": "sig"}
    ]


async def test_think_tags_split_across_chunks(server: ChatCompletionsServer) -> None:
    scenario = chat_text("Hi there", reasoning="Plan it", reasoning_field="think_tags", chunks=[4, 3, 5])
    content = [d["content"] for d in deltas(await play(server, scenario)) if d.get("content")]
    assert content[:3] == ["<thi", "nk>", "Plan "]
    assert "".join(content) == "<think>Plan it</think>Hi there"
    assert not any("reasoning_content" in d for d in deltas(await play(server, scenario)))
    body = (await complete(server, scenario)).json()
    assert body["choices"][0]["message"]["content"] == "<think>Plan it</think>Hi there"

    close_only = chat_text(
        "Hi", reasoning="Plan", reasoning_field="think_close_only", chunks=["Pl", "an</", "think>Hi"]
    )
    content = [d["content"] for d in deltas(await play(server, close_only)) if d.get("content")]
    assert content == ["Pl", "an</", "think>Hi"]


async def test_tgi_style_text_quirks(server: ChatCompletionsServer) -> None:
    scenario = chat_text("a b", empty_id=True, role_every_delta=True, finish_on_last_delta=True)
    chunks = await play(server, scenario)
    assert {c["id"] for c in chunks} == {""}
    assert deltas(chunks) == [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": " b"}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"  # on the last token, no empty finish chunk


async def test_no_finish_reason_and_no_done(server: ChatCompletionsServer) -> None:
    server.push(chat_text("a b", finish_reason=None, send_done=False))
    _, data = await raw_stream(server, chat_body(stream=True))
    assert b"[DONE]" not in data
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks_of(data))


async def test_refusal(server: ChatCompletionsServer) -> None:
    refusals = [
        d["refusal"] for d in deltas(await play(server, chat_refusal("No can do"))) if d.get("refusal")
    ]
    assert refusals == ["No", " can", " do"]
    message = (await complete(server, chat_refusal("No"))).json()["choices"][0]["message"]
    assert message == {"role": "assistant", "content": None, "refusal": "No"}


# -- tool calls -----------------------------------------------------------------------------------

CALLS = [("get_weather", '{"city":"Paris"}', "call_a"), ("get_time", '{"tz":"UTC"}', "call_b")]


def calls_by_index(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for d in deltas(chunks) for call in d.get("tool_calls", [])]


async def test_openai_fragments(server: ChatCompletionsServer) -> None:
    chunks = await play(server, chat_tool_calls(CALLS, text="Checking"))
    entries = calls_by_index(chunks)
    heads = [e for e in entries if "id" in e]
    assert heads == [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        },
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]
    fragments = [e for e in entries if "id" not in e]
    assert all(set(e) == {"index", "function"} and set(e["function"]) == {"arguments"} for e in fragments)
    for index, (_, arguments, _) in enumerate(CALLS):
        assert "".join(e["function"]["arguments"] for e in fragments if e["index"] == index) == arguments
    assert [e["index"] for e in entries] == [0, 0, 0, 1, 1, 1]  # one call after the other
    assert deltas(chunks)[1] == {"content": "Checking"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    message = (await complete(server, chat_tool_calls(CALLS))).json()["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][1] == {
        "id": "call_b",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"tz":"UTC"}'},
    }


async def test_interleaved_whole_batched_and_index0(server: ChatCompletionsServer) -> None:
    interleaved = calls_by_index(await play(server, chat_tool_calls(CALLS, style="interleaved")))
    assert [e["index"] for e in interleaved] == [0, 1, 0, 1, 0, 1]

    whole = await play(server, chat_tool_calls(CALLS, style="whole", role_every_delta=True))
    assert [d["tool_calls"] for d in deltas(whole) if "tool_calls" in d] == [
        [
            {
                "id": "call_a",
                "index": 0,
                "type": "function",
                "function": {"name": "get_weather", "arguments": CALLS[0][1]},
            }
        ],
        [
            {
                "id": "call_b",
                "index": 1,
                "type": "function",
                "function": {"name": "get_time", "arguments": CALLS[1][1]},
            }
        ],
    ]

    batched = [
        d for d in deltas(await play(server, chat_tool_calls(CALLS, style="batched"))) if "tool_calls" in d
    ]
    assert len(batched) == 1 and [e["index"] for e in batched[0]["tool_calls"]] == [0, 1]

    index0 = calls_by_index(await play(server, chat_tool_calls(CALLS, style="ollama_index0")))
    assert [(e["index"], e["id"]) for e in index0] == [(0, "call_a"), (0, "call_b")]


async def test_tgi_tool_call(server: ChatCompletionsServer) -> None:
    scenario = chat_tool_calls([ChatCall("get_weather", '{"city":"Paris"}', "tgi-1")], style="tgi")
    chunks = await play(server, scenario)
    assert {c["id"] for c in chunks} == {""}
    assert all(d["role"] == "assistant" for d in deltas(chunks))
    entries = calls_by_index(chunks)
    assert all(
        e["id"] == "tgi-1" and e["index"] == 0 and e["function"]["description"] is None for e in entries
    )
    assert [e["function"]["name"] for e in entries] == ["get_weather", None]
    assert "".join(e["function"]["arguments"] for e in entries) == '{"city":"Paris"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"  # TGI never says tool_calls
    assert "tool_calls" in chunks[-1]["choices"][0]["delta"]
    message = (await complete(server, scenario)).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["id"] == "0"


def test_mapping_arguments_and_generated_ids() -> None:
    scenario = chat_tool_calls([("f", {"x": 1})])
    entries = [c for d in deltas(scenario.chunks()) for c in d.get("tool_calls", [])]
    assert (
        entries[0]["id"].startswith("call_")
        and "".join(e["function"]["arguments"] for e in entries) == '{"x":1}'
    )


# -- HTTP errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "code", "expected"),
    [
        ("openai", 429, {"error": {"message": "Rate limit reached for requests. Please try again in 1s.",
                                   "type": "requests", "param": None, "code": "rate_limit_exceeded"}}),
        ("tgi", 422, {"error": "Input validation error", "error_type": "validation"}),
        ("tgi", 429, {"error": "Model is overloaded", "error_type": "overloaded"}),
        ("vllm_flat", 400, {"object": "error", "message": "bad", "type": "BadRequestError", "param": None,
                            "code": 400}),
        ("openrouter", 402, {"error": {"code": 402, "message": "Insufficient credits"}}),
    ],
)  # fmt: skip
async def test_status_styles(server: ChatCompletionsServer, style: str, code: int, expected: Any) -> None:
    message = None if style == "openai" else (expected.get("message") or expected["error"])
    if isinstance(message, dict):
        message = message["message"]
    response = await complete(server, chat_status(code, style=style, message=message, retry_after=2))  # type: ignore[arg-type]
    assert response.status_code == code
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


async def test_text_html_and_raw_body_errors(server: ChatCompletionsServer) -> None:
    text = await complete(server, chat_status(503, style="text", message="upstream down"))
    assert (text.status_code, text.text, text.headers["content-type"]) == (
        503,
        "upstream down",
        "text/plain; charset=utf-8",
    )
    html = await complete(server, chat_status(502, style="html"))
    assert html.status_code == 502 and "<h1>502 Bad Gateway</h1>" in html.text
    custom = await complete(server, chat_status(500, body=b"oops", headers={"X-Trace": "t1"}))
    assert custom.content == b"oops" and custom.headers["x-trace"] == "t1"
    router_200 = await complete(server, chat_status(200, style="openrouter", error_code=502, message="boom"))
    assert router_200.status_code == 200 and router_200.json() == {"error": {"code": 502, "message": "boom"}}


async def test_context_length_and_content_policy(server: ChatCompletionsServer) -> None:
    error = (await complete(server, chat_context_length_exceeded(limit=8192, requested=9000))).json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
    assert "maximum context length is 8192 tokens" in error["message"]
    policy = await complete(server, chat_content_policy())
    assert policy.status_code == 400 and policy.json()["error"]["code"] == "invalid_prompt"
    azure = (await complete(server, chat_content_policy(style="azure"))).json()["error"]
    assert azure["code"] == "content_filter"
    assert azure["innererror"]["content_filter_result"]["violence"]["filtered"] is True


# -- errors inside a 200 stream -------------------------------------------------------------------


async def test_openrouter_error_chunk(server: ChatCompletionsServer) -> None:
    server.push(chat_error_in_stream(2, style="openrouter", code=502, message="Provider disconnected"))
    response, data = await raw_stream(server, chat_body(stream=True))
    assert response.status_code == 200
    chunks = chunks_of(data)
    assert len(chunks) == 3 and frames(data)[-1] == b"data: [DONE]"
    last = chunks[-1]
    assert last["id"] == chunks[0]["id"] and last["object"] == "chat.completion.chunk"
    assert last["error"] == {"code": 502, "message": "Provider disconnected"}
    assert last["choices"][0]["finish_reason"] == "error"
    non_stream = await complete(server, chat_error_in_stream(style="openrouter"))
    assert non_stream.status_code == 200
    assert non_stream.json() == {
        "error": {"code": "server_error", "message": non_stream.json()["error"]["message"]}
    }


@pytest.mark.parametrize(
    ("style", "expected_error", "done"),
    [
        ("tgi", {"message": "boom", "http_status_code": 422}, True),
        ("vllm", {"message": "boom", "type": "InternalServerError", "param": None, "code": 500}, True),
        ("openai", {"message": "boom", "type": "server_error", "param": None, "code": None}, False),
    ],
)
async def test_error_chunk_shapes(
    server: ChatCompletionsServer, style: str, expected_error: Any, done: bool
) -> None:
    server.push(chat_error_in_stream(3, style=style, message="boom"))  # type: ignore[arg-type]
    _, data = await raw_stream(server, chat_body(stream=True))
    chunks = chunks_of(data)
    assert len(chunks) == 4 and chunks[-1] == {"error": expected_error}
    assert (frames(data)[-1] == b"data: [DONE]") is done
    if style == "tgi":
        response = await complete(server, chat_error_in_stream(style="tgi", message="boom"))
        assert response.status_code == 422 and response.json() == {
            "error": "boom",
            "error_type": "validation",
        }


# -- network faults -------------------------------------------------------------------------------


async def test_cut_close_ends_cleanly_without_finish_or_done(server: ChatCompletionsServer) -> None:
    server.push(chat_cut(3, how="close"))
    response, data = await raw_stream(server, chat_body(stream=True))
    chunks = chunks_of(data)
    assert len(chunks) == 3 and b"[DONE]" not in data
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert response.headers["connection"] == "close"
    await server.wait_until(lambda s: s.open_connections == 0)


async def test_cut_truncate_and_reset_break_the_read(server: ChatCompletionsServer) -> None:
    server.push(chat_cut(2, how="truncate"))
    with pytest.raises(httpx.RemoteProtocolError):
        await raw_stream(server, chat_body(stream=True))
    server.push(chat_cut(2, how="reset"))
    with pytest.raises(httpx.ReadError):
        await raw_stream(server, chat_body(stream=True))
    with pytest.raises(httpx.ReadError):
        await complete(server, chat_cut(how="reset"))


async def test_stall_holds_the_stream_until_the_client_leaves(server: ChatCompletionsServer) -> None:
    server.push(chat_stall(2))
    received: list[bytes] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=httpx.Timeout(5, read=0.3)) as client:
        with pytest.raises(httpx.ReadTimeout):
            async with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
                async for part in response.aiter_raw():
                    received.append(part)
    assert len(chunks_of(b"".join(received))) == 2
    await server.wait_until(lambda s: s.active_streams == 0 and s.open_connections == 0)
    assert server.client_disconnects == 1


async def test_stall_for_seconds_then_resume(server: ChatCompletionsServer) -> None:
    server.push(chat_stall(1, seconds=0.2))
    started = time.monotonic()
    _, data = await raw_stream(server, chat_body(stream=True))
    assert time.monotonic() - started >= 0.2
    assert frames(data)[-1] == b"data: [DONE]"


async def test_malformed_line_then_the_rest(server: ChatCompletionsServer) -> None:
    server.push(chat_malformed(2, b'{"choices": [oops'))
    _, data = await raw_stream(server, chat_body(stream=True))
    lines = frames(data)
    assert lines[2] == b'data: {"choices": [oops'
    assert lines[-1] == b"data: [DONE]" and json.loads(lines[3][6:])["object"] == "chat.completion.chunk"


async def test_raw_frames_are_sent_exactly(server: ChatCompletionsServer) -> None:
    exact = [b": OPENROUTER PROCESSING\n\n", b'data: {"weird": true}\n\n', b"data: [DONE]\n\n"]
    server.push(chat_raw(exact, headers={"content-type": "text/event-stream", "x-generation-id": "gen-1"}))
    response, data = await raw_stream(server, chat_body(stream=True))
    assert data == b"".join(exact) and response.headers["x-generation-id"] == "gen-1"
    json_raw = await complete(
        server, chat_raw([b'{"a":', b"1}"], headers={"content-type": "application/json"}, chunked=False)
    )
    assert json_raw.json() == {"a": 1} and json_raw.headers["content-length"] == "7"


# -- pacing and framing quirks --------------------------------------------------------------------


async def test_delays(server: ChatCompletionsServer) -> None:
    server.push(chat_delay(chat_text("a b"), 0.1))
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        started = time.monotonic()
        async with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
            headers_at = time.monotonic() - started
            await response.aread()
    assert headers_at >= 0.1

    scenario = chat_text("a b c", keepalive="OPENROUTER PROCESSING", first_chunk_delay=0.2, event_delay=0.03)
    server.push(scenario)
    arrivals: list[tuple[float, bytes]] = []
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        started = time.monotonic()
        async with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
            async for part in response.aiter_raw():
                arrivals.append((time.monotonic() - started, part))
    # The comment is flushed alone before the wait; the first data chunk only after it.
    assert arrivals[0][1] == b": OPENROUTER PROCESSING\n\n" and arrivals[0][0] < 0.15
    assert next(at for at, part in arrivals if part.startswith(b"data: {")) >= 0.2
    # 4 more data chunks and [DONE], each after its own 0.03 s pause.
    assert arrivals[-1][0] >= 0.2 + 5 * 0.03
    assert len(chunks_of(b"".join(part for _, part in arrivals))) == 5


async def test_deepseek_blank_lines_before_the_json_body(server: ChatCompletionsServer) -> None:
    response = await complete(server, chat_text("Hi", leading_blank_lines=3, keepalive=True))
    assert response.content.startswith(b"\n\n\n{")
    assert json.loads(response.content)["choices"][0]["message"]["content"] == "Hi"
    chunks_frames = frames((await raw_stream(server, chat_body(stream=True)))[1])
    assert chunks_frames[0].startswith(b"data: ")  # the default scenario has no keep-alive comment
    server.push(chat_text("Hi", keepalive=True))
    assert frames((await raw_stream(server, chat_body(stream=True)))[1])[0] == b": keep-alive"


async def test_long_stream_is_fast(server: ChatCompletionsServer) -> None:
    text = " ".join(f"w{i}" for i in range(500))
    server.push(chat_text(text))
    started = time.monotonic()
    _, data = await raw_stream(server, chat_body(stream=True))
    elapsed = time.monotonic() - started
    chunks = chunks_of(data)
    assert len(chunks) == 502 and "".join(d.get("content", "") for d in deltas(chunks)) == text
    assert elapsed < 1.0, elapsed


# -- the server: routes, auth, recording ----------------------------------------------------------


async def test_non_stream_completion_body(server: ChatCompletionsServer) -> None:
    response = await complete(server, chat_text("Hello you", model="served-model"))
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "served-model"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello you", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"]["prompt_tokens"] == PROMPT_TOKENS and body["usage"]["completion_tokens"] == 2


async def test_requests_are_recorded_and_the_queue_then_default(server: ChatCompletionsServer) -> None:
    server.push(chat_text("one"), chat_text("two"))
    assert server.pending == 2
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        answers = []
        for _ in range(3):
            reply = await client.post("/chat/completions", json=chat_body(), headers={"X-Custom": "Yes"})
            answers.append(reply.json()["choices"][0]["message"]["content"])
    assert answers == ["one", "two", "Hello"]
    assert server.pending == 0 and server.connections_opened == 1  # keep-alive reused one connection
    first = server.requests[0]
    assert (first.method, first.path, first.headers["x-custom"]) == ("POST", "/v1/chat/completions", "Yes")
    assert first.body == chat_body() and first.stream is False


async def test_api_key_401_echoes_the_received_key() -> None:
    async with (
        ChatCompletionsServer(api_key="sk-right") as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        wrong = await client.post(
            "/chat/completions", json=chat_body(), headers={"Authorization": "Bearer sk-wrong-123"}
        )
        missing = await client.get("/models")
        ok = await client.post(
            "/chat/completions", json=chat_body(), headers={"Authorization": "Bearer sk-right"}
        )
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert "sk-wrong-123" in error["message"] and error["code"] == "invalid_api_key"
    assert error["type"] == "invalid_request_error"
    assert missing.status_code == 401 and "didn't provide an API key" in missing.json()["error"]["message"]
    assert ok.status_code == 200
    assert server.requests[0].headers["authorization"] == "Bearer sk-wrong-123"


async def test_models_routes_and_404_405(server: ChatCompletionsServer) -> None:
    async with (
        ChatCompletionsServer(models=("a", "b"), prefix="/api/v1") as custom,
        httpx.AsyncClient(base_url=custom.base_url) as client,
    ):
        listing = (await client.get("/models")).json()
        one = await client.get("/models/b")
        unknown = await client.get("/models/zzz")
        wrong_path = await client.post("/responses", json={})
        wrong_method = await client.get("/chat/completions")
        assert custom.base_url.endswith("/api/v1")
    assert listing["object"] == "list" and [m["id"] for m in listing["data"]] == ["a", "b"]
    assert listing["data"][0]["object"] == "model"
    assert one.json()["id"] == "b"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert (
        wrong_path.status_code == 404
        and wrong_path.json()["error"]["message"] == "Invalid URL (POST /api/v1/responses)"
    )
    assert wrong_method.status_code == 405


async def test_request_validation() -> None:
    async with (
        ChatCompletionsServer(reject_unknown_models=True) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        no_messages = await client.post("/chat/completions", json={"model": "fake-model"})
        empty = await client.post("/chat/completions", json={"model": "fake-model", "messages": []})
        not_json = await client.post("/chat/completions", content=b"{oops")
        options = await client.post(
            "/chat/completions", json={**chat_body(), "stream_options": {"include_usage": True}}
        )
        unknown = await client.post("/chat/completions", json=chat_body(model="gpt-9"))
    assert no_messages.status_code == 400 and no_messages.json()["error"]["param"] == "messages"
    assert empty.json()["error"]["code"] == "empty_array"
    assert not_json.status_code == 400
    assert options.status_code == 400 and options.json()["error"]["param"] == "stream_options"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert server.pending == 0 and len(server.requests) == 5
    async with (
        ChatCompletionsServer(strict_stream_options=False) as lenient,
        httpx.AsyncClient(base_url=lenient.base_url) as client,
    ):
        body = {**chat_body(), "stream_options": {"include_usage": True}}
        assert (await client.post("/chat/completions", json=body)).status_code == 200


def test_run_in_thread_with_a_sync_client() -> None:
    server = ChatCompletionsServer([chat_text("From a thread")])
    with server.run_in_thread(), httpx.Client(base_url=server.base_url) as client:
        with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
            data = response.read()
        assert "".join(d.get("content") or "" for d in deltas(chunks_of(data))) == "From a thread"
        server.push(chat_status(503))
        assert client.post("/chat/completions", json=chat_body()).status_code == 503
    assert len(server.requests) == 2


async def test_early_close_is_counted_and_released(server: ChatCompletionsServer) -> None:
    server.push(chat_text(" ".join(["word"] * 100), event_delay=0.01))
    async with (
        httpx.AsyncClient(base_url=server.base_url) as client,
        client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response,
    ):
        async for _ in response.aiter_raw():
            break
    await server.wait_until(lambda s: s.open_connections == 0 and s.active_streams == 0)
    assert server.client_disconnects == 1
    assert "ChatCompletionsServer(" in repr(server)


# -- builders check their arguments -------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: chat_text("Hello", chunks=["He", "lo"]), ValueError),
        (lambda: chat_text("Hi", chunks=[5]), ValueError),
        (lambda: chat_text("Hi", chunks=[1, "i"]), TypeError),  # type: ignore[list-item]
        (lambda: chat_text("Hi", chunks="Hi"), TypeError),
        (lambda: chat_text("Hi", usage="sometimes"), ValueError),  # type: ignore[arg-type]
        (lambda: chat_text("Hi", reasoning_field="thoughts"), ValueError),  # type: ignore[arg-type]
        (lambda: chat_text("Hi", delay=-1), ValueError),
        (lambda: chat_tool_calls([]), ValueError),
        (lambda: chat_tool_calls(CALLS, style="tgi"), ValueError),
        (lambda: chat_tool_calls([("", "{}")]), ValueError),
        (lambda: chat_tool_calls([("f",)]), TypeError),  # type: ignore[list-item]
        (lambda: chat_status(99), ValueError),
        (lambda: chat_status(500, style="xml"), ValueError),  # type: ignore[arg-type]
        (lambda: chat_cut(-1), ValueError),
        (lambda: chat_cut(how="explode"), ValueError),  # type: ignore[arg-type]
        (lambda: chat_malformed(payload="text"), TypeError),  # type: ignore[arg-type]
        (lambda: chat_raw(["text"]), TypeError),  # type: ignore[list-item]
        (lambda: ChatCompletionsServer(["nope"]), TypeError),  # type: ignore[list-item]
    ],
)
def test_bad_arguments_fail_early(build: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        build()


def test_scenarios_are_frozen_data() -> None:
    scenario = chat_text("Hi")
    assert scenario == chat_text("Hi")
    assert scenario.with_(event_delay=0.5).event_delay == 0.5 and scenario.event_delay == 0
    with pytest.raises(AttributeError):
        scenario.delay = 1  # type: ignore[misc]
    assert asyncio.iscoroutinefunction(ChatCompletionsServer.start)


async def test_faults_apply_to_any_scenario_and_non_stream_bodies(server: ChatCompletionsServer) -> None:
    tools = chat_tool_calls(CALLS)
    server.push(chat_cut(3, scenario=tools))
    _, data = await raw_stream(server, chat_body(stream=True))
    entries = calls_by_index(chunks_of(data))
    assert [e.get("id") for e in entries] == ["call_a", None]  # cut inside the first call's arguments
    with pytest.raises(httpx.RemoteProtocolError):
        await complete(server, chat_cut(how="truncate"))
    malformed = await complete(server, chat_malformed(payload=b"{half"))
    assert malformed.content == b"{half"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=httpx.Timeout(5, read=0.2)) as client:
        server.push(chat_stall())
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/chat/completions", json=chat_body())


async def test_scenario_headers_replace_the_defaults(server: ChatCompletionsServer) -> None:
    server.push(chat_text("Hi", headers={"Content-Type": "application/json", "X-Generation-Id": "gen-9"}))
    response, _ = await raw_stream(server, chat_body(stream=True))
    assert response.headers.get_list("content-type") == ["application/json"]
    assert response.headers["x-generation-id"] == "gen-9"
