"""A fast fake Chat Completions upstream for the proxy benchmark, run as its own process.

``POST /v1/chat/completions`` (also ``/chat/completions``) answers ``"stream": true`` with an
OpenAI-shaped stream of ``--deltas`` content chunks (a role chunk first, then one
``chat.completion.chunk`` per token, the finish chunk, the usage chunk, ``data: [DONE]``) and any
other request with one ``chat.completion`` body holding the same text. ``GET /v1/models`` lists
the model. Everything is framed once at start-up, so serving costs only writes:

- raw asyncio ``Protocol`` (no streams layer), HTTP/1.1 keep-alive, ``TCP_NODELAY``;
- one HTTP chunk and one ``transport.write`` per chat chunk (``--flush-every K`` groups K), as a
  server flushing every token does; no ``drain`` per chunk: the transport buffers when the
  reader is slower, so a slow proxy sees coalesced reads, never a slow upstream.

Run::

    python benchmarks/_chat_upstream.py --port 0 --deltas 500   # prints "listening on http://..."

The stream's text is ``text(deltas)``; the benchmark checks what each proxy returns against it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
from collections.abc import Sequence

__all__ = ["MODEL", "chat_body", "chat_stream", "main", "text", "tokens"]

MODEL = "fake-model"
_CREATED = 1_760_000_000
_ID = "chatcmpl-bench0000000000000000000000"
_WORDS = ("the", "keeper", "climbed", "narrow", "stairs", "each", "night", "counting", "steps", "lamp")


def tokens(deltas: int) -> list[str]:
    """The ``deltas`` content pieces of the answer (one per chat chunk)."""
    return [f" {_WORDS[i % len(_WORDS)]}{i}" for i in range(deltas)]


def text(deltas: int) -> str:
    """The whole answer: what every proxy's output text must equal."""
    return "".join(tokens(deltas))


def _chunk(delta: dict[str, object], finish: str | None = None, usage: object = None) -> bytes:
    data: dict[str, object] = {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        if usage is None
        else [],
    }
    if usage is not None:
        data["usage"] = usage
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _usage(deltas: int) -> dict[str, object]:
    return {
        "prompt_tokens": 12,
        "completion_tokens": deltas,
        "total_tokens": 12 + deltas,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def chat_stream(deltas: int) -> list[bytes]:
    """The SSE events of a streamed answer, in order, ``[DONE]`` last."""
    events = [_chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [_chunk({"content": piece}) for piece in tokens(deltas)]
    events.append(_chunk({}, finish="stop"))
    events.append(_chunk({}, usage=_usage(deltas)))
    events.append(b"data: [DONE]\n\n")
    return events


def chat_body(deltas: int) -> bytes:
    """The ``chat.completion`` body of a non-streamed answer."""
    body = {
        "id": _ID,
        "object": "chat.completion",
        "created": _CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text(deltas), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(deltas),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _head(status: str, content_type: str, length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"content-type: {content_type}"]
    lines.append(f"content-length: {length}" if length is not None else "transfer-encoding: chunked")
    if length is None:
        lines.append("cache-control: no-cache")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Canned:
    """Every reply, framed once."""

    def __init__(self, deltas: int, flush_every: int) -> None:
        events = chat_stream(deltas)
        groups = [b"".join(events[i : i + flush_every]) for i in range(0, len(events), flush_every)]
        self.stream_head = _head("200 OK", "text/event-stream; charset=utf-8")
        self.frames: Sequence[bytes] = [b"%x\r\n%b\r\n" % (len(g), g) for g in groups] + [b"0\r\n\r\n"]
        body = chat_body(deltas)
        self.body = _head("200 OK", "application/json", len(body)) + body
        models = json.dumps(
            {"object": "list", "data": [{"id": MODEL, "object": "model", "created": _CREATED}]}
        )
        self.models = _head("200 OK", "application/json", len(models)) + models.encode()
        missing = b'{"error":{"message":"no such route","type":"invalid_request_error"}}'
        self.not_found = _head("404 Not Found", "application/json", len(missing)) + missing


class _Upstream(asyncio.Protocol):
    """One keep-alive connection: parse each request head and body, write the canned reply."""

    def __init__(self, canned: _Canned) -> None:
        self.canned = canned
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            request_line, _, header_text = head.partition("\r\n")
            headers = {}
            for line in header_text.split("\r\n"):
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body_end = self.buffer.find(b"\r\n0\r\n\r\n", end + 4)
                if body_end < 0:
                    return
                body = _dechunk(self.buffer[end + 4 : body_end + 7])
                self.buffer = self.buffer[body_end + 7 :]
            else:
                length = int(headers.get("content-length") or 0)
                if len(self.buffer) < end + 4 + length:
                    return
                body = self.buffer[end + 4 : end + 4 + length]
                self.buffer = self.buffer[end + 4 + length :]
            self._answer(request_line, body)
            if headers.get("connection", "").lower() == "close" and self.transport is not None:
                self.transport.close()
                return

    def _answer(self, request_line: str, body: bytes) -> None:
        assert self.transport is not None
        method, _, rest = request_line.partition(" ")
        path = rest.partition(" ")[0].split("?", 1)[0]
        write = self.transport.write
        if method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            if _wants_stream(body):
                write(self.canned.stream_head)
                for frame in self.canned.frames:
                    write(frame)
            else:
                write(self.canned.body)
        elif method == "GET" and path in ("/v1/models", "/models"):
            write(self.canned.models)
        else:
            write(self.canned.not_found)


def _dechunk(raw: bytes) -> bytes:
    parts: list[bytes] = []
    position = 0
    while True:
        line_end = raw.index(b"\r\n", position)
        size = int(raw[position:line_end].split(b";")[0], 16)
        if size == 0:
            return b"".join(parts)
        parts.append(raw[line_end + 2 : line_end + 2 + size])
        position = line_end + 4 + size


def _wants_stream(body: bytes) -> bool:
    if b'"stream"' not in body:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("stream") is True


async def _serve(host: str, port: int, deltas: int, flush_every: int) -> None:
    canned = _Canned(deltas, flush_every)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Upstream(canned), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://{host}:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until killed; prints ``listening on http://HOST:PORT`` once bound."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--deltas", type=int, default=500, help="content chunks per stream (default 500)")
    parser.add_argument("--flush-every", type=int, default=1, help="chat chunks per HTTP chunk (default 1)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.deltas, max(1, args.flush_every)))


if __name__ == "__main__":
    main()
