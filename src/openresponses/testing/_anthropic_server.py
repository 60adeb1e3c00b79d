"""``AnthropicServer``: the loopback Anthropic Messages upstream (routes, auth, request checks)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._anthropic_scenario import AnthropicScenario, anthropic_text
from ._anthropic_wire import error_envelope, new_request_id, sign_thinking
from ._loopback import Connection
from ._transport import RecordedRequest
from ._vendor_server import VendorServer

__all__ = ["AnthropicServer"]


class AnthropicServer(VendorServer[AnthropicScenario]):
    """A loopback Anthropic upstream: ``POST {prefix}/messages`` and ``GET {prefix}/models``.

    Each Messages request plays the next queued scenario (then ``default``,
    ``anthropic_text("Hello")``): SSE (``event:`` + ``data:`` per event) when the body says
    ``stream: true``, else one ``message`` body. It checks requests as Anthropic does, answering
    with Anthropic's error envelope: ``x-api-key`` (or ``Authorization: Bearer`` when
    ``accept_bearer``) against ``api_key``; the ``anthropic-version`` header; ``model``,
    ``max_tokens`` and a non-empty ``messages``; non-empty text blocks; every ``tool_result``
    answering a ``tool_use`` of the message right before it, and every ``tool_use`` answered;
    a thinking budget below ``max_tokens``; and every ``thinking`` block sent back carrying the
    signature this server issued for exactly its text (Anthropic rejects edited thinking)::

        async with AnthropicServer([anthropic_status(529)], api_key="sk-ant-test") as upstream:
            ...  # Provider("claude", upstream.base_url, adapter="anthropic", api_key="sk-ant-test")
    """

    _thread_name = "anthropic-server"
    _scenario = AnthropicScenario
    _scenario_hint = "an AnthropicScenario (build one with anthropic_text(...))"

    def __init__(
        self,
        scenarios: Iterable[AnthropicScenario] = (),
        *,
        default: AnthropicScenario | None = None,
        prefix: str = "/v1",
        api_key: str | None = None,
        accept_bearer: bool = True,
        models: Sequence[str] = ("claude-fake",),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        default = default if default is not None else anthropic_text("Hello")
        super().__init__(scenarios, default=default, prefix=prefix, host=host, port=port)
        self.api_key = api_key
        self.accept_bearer = accept_bearer
        self.models = tuple(models)

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        messages, models = self.prefix + "/messages", self.prefix + "/models"
        path, method = request.path, request.method
        if path not in (messages, models):
            return await self._error(connection, 404, "not_found_error", f"Not found: {method} {path}")
        expected = "POST" if path == messages else "GET"
        if method != expected:
            return await self._error(connection, 405, "invalid_request_error", f"Method {method} not allowed")
        if self.api_key is not None:
            problem = self._auth_problem(request.headers)
            if problem is not None:
                return await self._error(connection, 401, "authentication_error", problem)
        if not request.headers.get("anthropic-version"):
            return await self._error(
                connection, 400, "invalid_request_error", "anthropic-version: header is required"
            )
        if path == models:
            data = [{"type": "model", "id": name, "display_name": name} for name in self.models]
            return await self._send_json(connection, 200, {"data": data, "has_more": False})
        problem = _invalid(request.body)
        if problem is not None:
            return await self._error(connection, 400, "invalid_request_error", problem)
        wire = self._next().wire(request.body, stream=request.body.get("stream") is True)
        return await self._send_wire(wire, connection)

    def _auth_problem(self, headers: Mapping[str, str]) -> str | None:
        assert self.api_key is not None
        received = headers.get("x-api-key")
        if received is None and self.accept_bearer:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            received = token.strip() if scheme.lower() == "bearer" and token.strip() else None
        if received is None:
            return "x-api-key header is required"
        if hmac.compare_digest(received.encode(), self.api_key.encode()):
            return None
        return "invalid x-api-key"  # Anthropic does not echo the key it rejected

    async def _error(self, connection: Connection, status: int, error_type: str, message: str) -> bool:
        request_id = new_request_id()
        body = error_envelope(error_type, message, request_id=request_id)
        return await self._send_json(connection, status, body, headers={"request-id": request_id})


def _invalid(body: Any) -> str | None:
    """Anthropic's 400 message for a body it would reject, else ``None``."""
    if not isinstance(body, dict):
        return "There was an issue with your request body: it is not a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Field required"
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if budget >= max_tokens:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        return "system: Input should be a valid string or list"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return (
            "messages: Field required" if messages is None else "messages: at least one message is required"
        )
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "assistant":
        content = last.get("content")
        tail = (
            content
            if isinstance(content, str)
            else (content[-1] if isinstance(content, list) and content else {})
        )
        text = tail if isinstance(tail, str) else (tail.get("text") if isinstance(tail, dict) else None)
        if isinstance(text, str) and text != text.rstrip():
            return "messages: final assistant content cannot end with trailing whitespace"
    return _invalid_messages(messages)


def _invalid_messages(messages: list[Any]) -> str | None:
    pending: set[str] = set()  # tool_use ids of the previous assistant message
    for number, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{number}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            return f"messages.{number}: all messages must have non-empty content"
        results = {
            b.get("tool_use_id") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"
        }
        if message["role"] == "user":
            unexpected = sorted(str(r) for r in results - pending)
            if unexpected:
                return (
                    f"messages.{number}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{', '.join(unexpected)}. Each `tool_result` block must have a corresponding `tool_use` "
                    "block in the previous message."
                )
        if pending and (message["role"] != "user" or pending - results):
            missing = ", ".join(sorted(pending - results))
            return (
                f"messages.{number - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {missing}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )
        pending = set()
        for position, block in enumerate(blocks):
            where = f"messages.{number}.content.{position}"
            if not isinstance(block, dict):
                return f"{where}: Input should be an object"
            kind = block.get("type")
            if kind == "text" and not block.get("text"):
                return "messages: text content blocks must be non-empty"
            if kind == "tool_use" and message["role"] == "assistant":
                if not isinstance(block.get("input"), dict):
                    return f"{where}.tool_use.input: Input should be a valid dictionary"
                pending.add(str(block.get("id")))
            if kind == "thinking":
                thinking, signature = block.get("thinking"), block.get("signature")
                if not isinstance(thinking, str) or signature != sign_thinking(thinking):
                    return f"{where}: Invalid `signature` in `thinking` block"
            if kind == "redacted_thinking" and not isinstance(block.get("data"), str):
                return f"{where}.redacted_thinking.data: Field required"
    if pending:
        return (
            f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` blocks "
            f"immediately after: {', '.join(sorted(pending))}."
        )
    return None
