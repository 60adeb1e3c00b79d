"""``ChatCompletionsServer``: the loopback Chat Completions upstream (routes, auth, validation)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from typing import Any

from ._chat_builders import chat_text
from ._chat_scenario import ChatScenario
from ._loopback import Connection
from ._transport import RecordedRequest
from ._vendor_server import VendorServer

__all__ = ["ChatCompletionsServer"]


class ChatCompletionsServer(VendorServer[ChatScenario]):
    """A loopback Chat Completions upstream: ``POST {prefix}/chat/completions``, ``GET {prefix}/models``.

    Each chat request plays the next queued scenario (then ``default``, ``chat_text("Hello")``):
    streamed (``data: {json}`` lines, no ``event:`` names) when the body says ``stream: true``,
    else one ``chat.completion`` body. With ``api_key``, a missing or wrong bearer token gets
    OpenAI's 401, which echoes the received key in its message as OpenAI does, so tests can prove
    nothing downstream leaks it. Request bodies are checked like OpenAI (``model``, ``messages``;
    ``stream_options`` without ``stream`` is a 400 unless ``strict_stream_options=False``; unknown
    models are a 404 with ``reject_unknown_models``). Same API as
    :class:`~openresponses.testing.ScriptedServer`::

        async with ChatCompletionsServer([chat_status(429, retry_after=1)], api_key="sk-up") as up:
            ...
        with ChatCompletionsServer(default=chat_text("Hi")).run_in_thread() as up:
            ...
    """

    _thread_name = "chat-completions-server"
    _scenario = ChatScenario
    _scenario_hint = "a ChatScenario (build one with chat_text(...))"

    def __init__(
        self,
        scenarios: Iterable[ChatScenario] = (),
        *,
        default: ChatScenario | None = None,
        prefix: str = "/v1",
        api_key: str | None = None,
        models: Sequence[str] = ("fake-model",),
        reject_unknown_models: bool = False,
        strict_stream_options: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.models = tuple(models)
        self.reject_unknown_models = reject_unknown_models
        self.strict_stream_options = strict_stream_options
        super().__init__(
            scenarios,
            default=default if default is not None else chat_text("Hello"),
            prefix=prefix,
            host=host,
            port=port,
        )

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        chat, models = self.prefix + "/chat/completions", self.prefix + "/models"
        path, method = request.path, request.method
        if path != chat and path != models and not path.startswith(models + "/"):
            return await self._error(connection, 404, f"Invalid URL ({method} {path})")
        expected = "POST" if path == chat else "GET"
        if method != expected:
            return await self._error(
                connection, 405, f"Method {method} not allowed on {path}; use {expected}."
            )
        if self.api_key is not None:
            denied = self._auth_error(request.headers.get("authorization"))
            if denied is not None:
                return await self._send_json(connection, 401, denied)
        if path == models:
            listing = {"object": "list", "data": [_model(name) for name in self.models]}
            return await self._send_json(connection, 200, listing)
        if path != chat:
            name = path[len(models) + 1 :]
            if name not in self.models:
                return await self._model_not_found(connection, name)
            return await self._send_json(connection, 200, _model(name))
        body = request.body
        problem = self._invalid(body)
        if problem is not None:
            message, param, code = problem
            return await self._error(connection, 400, message, param=param, code=code)
        if self.reject_unknown_models and body["model"] not in self.models:
            return await self._model_not_found(connection, body["model"])
        wire = self._next().wire(body, stream=body.get("stream") is True)
        return await self._send_wire(wire, connection)

    def _auth_error(self, header: str | None) -> dict[str, Any] | None:
        assert self.api_key is not None
        if not header:
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return _openai_error(message, code=None)
        scheme, _, token = header.partition(" ")
        received = token.strip() if scheme.lower() == "bearer" else header
        if hmac.compare_digest(received.encode(), self.api_key.encode()):
            return None
        # Echoed on purpose, as OpenAI does: a test can then prove no layer above repeats it.
        message = (
            f"Incorrect API key provided: {received}. "
            "You can find your API key at https://platform.openai.com/account/api-keys."
        )
        return _openai_error(message, code="invalid_api_key")

    def _invalid(self, body: Any) -> tuple[str, str | None, str | None] | None:
        if not isinstance(body, dict):
            return "We could not parse the JSON body of your request. Expected a JSON object.", None, None
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "you must provide a model parameter", "model", None
        messages = body.get("messages")
        if messages is None:
            return "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        if not isinstance(messages, list):
            return (
                f"Invalid type for 'messages': expected an array, got {type(messages).__name__}.",
                "messages",
                None,
            )
        if not messages:
            return "[] is too short - 'messages'", "messages", "empty_array"
        if (
            self.strict_stream_options
            and body.get("stream_options") is not None
            and body.get("stream") is not True
        ):
            return (
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                None,
            )
        return None

    async def _model_not_found(self, connection: Connection, name: str) -> bool:
        message = f"The model `{name}` does not exist or you do not have access to it."
        return await self._error(connection, 404, message, code="model_not_found")

    async def _error(
        self,
        connection: Connection,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> bool:
        return await self._send_json(connection, status, _openai_error(message, param=param, code=code))


def _openai_error(message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "fake-upstream"}
