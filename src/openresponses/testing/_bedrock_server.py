"""``BedrockServer``: the loopback Bedrock Runtime upstream (routes, SigV4, request checks)."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ._bedrock_builders import bedrock_text
from ._bedrock_scenario import BedrockHTTPError, BedrockScenario, _error_wire
from ._bedrock_sigv4 import TEST_CREDENTIALS, StaticCredentials, check_sigv4
from ._loopback import Connection
from ._transport import RecordedRequest
from ._vendor_server import VendorServer

__all__ = ["BedrockRequest", "BedrockServer"]

_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<operation>converse|converse-stream)$")


@dataclass(frozen=True, slots=True)
class BedrockRequest(RecordedRequest):
    """A request as the fake Bedrock upstream received it: also the exact ``raw`` body bytes
    (SigV4 signs them), the decoded ``model_id``, and how it authenticated (``sigv4``,
    ``bearer`` or ``None`` when refused)."""

    raw: bytes = b""
    model_id: str | None = None
    auth: str | None = None

    @property
    def stream(self) -> bool:
        """Whether it went to ``/converse-stream`` (Converse has no ``stream`` body field)."""
        return self.path.endswith("/converse-stream")


class BedrockServer(VendorServer[BedrockScenario]):
    """A loopback Bedrock Runtime: ``POST /model/{modelId}/converse-stream`` and ``/converse``.

    Each request plays the next queued scenario (then ``default``, ``bedrock_text("Hello")``)
    as an event stream or a whole ``ConverseResponse``. Requests must be SigV4-signed with
    ``credentials`` for ``region`` (the signature is recomputed with botocore), or carry
    ``Authorization: Bearer <api_key>`` when ``api_key`` is set; otherwise the reply is AWS's
    403. Bodies are checked as Bedrock checks them (roles start with ``user`` and alternate, no
    blank text, ``toolConfig`` whenever tool blocks appear): a 400 ``ValidationException``.
    A rejected bearer token is echoed in the 403 message on purpose, so tests can prove no
    layer above repeats it. ``bedrock_requests`` are the :class:`BedrockRequest` records::

        async with BedrockServer([bedrock_status(429, "ThrottlingException")]) as upstream:
            dialect = BedrockConverseDialect(credentials=TEST_CREDENTIALS)
            ...  # Provider("b", upstream.base_url, dialect=dialect, model="anthropic.claude-x")
    """

    _thread_name = "bedrock-server"
    _scenario = BedrockScenario
    _scenario_hint = "a BedrockScenario (build one with bedrock_text(...))"

    def __init__(
        self,
        scenarios: Iterable[BedrockScenario] = (),
        *,
        default: BedrockScenario | None = None,
        credentials: StaticCredentials | None = TEST_CREDENTIALS,
        region: str = "us-east-1",
        api_key: str | None = None,
        validate: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        default = default if default is not None else bedrock_text("Hello")
        super().__init__(scenarios, default=default, prefix="", host=host, port=port)
        self.credentials = credentials
        self.region = region
        self.api_key = api_key
        self.validate = validate

    @property
    def bedrock_requests(self) -> list[BedrockRequest]:
        """``requests`` typed as :class:`BedrockRequest` (with ``raw``, ``model_id``, ``auth``)."""
        return [request for request in self.requests if isinstance(request, BedrockRequest)]

    # -- requests -------------------------------------------------------------------------------

    async def _read_request(self, connection: Connection) -> RecordedRequest | None:
        # As the base class, but keeping the exact body bytes: SigV4 signs them, not their JSON.
        received = await self._read_raw(connection)
        if received is None:
            return None
        route = _ROUTE.match(received.path)
        auth = self._authenticate(received.method, received.target, received.headers, received.raw)
        recorded = BedrockRequest(
            method=received.method,
            path=received.path,
            headers=received.headers,
            body=received.body,
            raw=received.raw,
            model_id=unquote(route["model"]) if route else None,
            auth=auth if isinstance(auth, str) else None,
        )
        self.requests.append(recorded)
        if not isinstance(auth, str):
            await self._send_error(auth, connection)
            return None
        return recorded

    def _authenticate(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> str | BedrockHTTPError:
        header = headers.get("authorization", "")
        if not header:
            return BedrockHTTPError(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer":
            if self.api_key is not None and hmac.compare_digest(
                token.strip().encode(), self.api_key.encode()
            ):
                return "bearer"
            # Echoed on purpose: a test can then prove no layer above repeats it.
            return BedrockHTTPError(403, "UnrecognizedClientException", f"Invalid API key: {token.strip()}")
        if self.credentials is None:
            return BedrockHTTPError(
                403, "UnrecognizedClientException", "SigV4 is not accepted by this server."
            )
        problem = check_sigv4(method, target, headers, raw, credentials=self.credentials, region=self.region)
        if problem is not None:
            return BedrockHTTPError(403, problem.error_type, problem.message)
        return "sigv4"

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        route = _ROUTE.match(request.path)
        if route is None or request.method != "POST":
            error = BedrockHTTPError(
                404, "UnknownOperationException", f"Unknown operation {request.method} {request.path}"
            )
            return await self._send_error(error, connection)
        if self.validate:
            problem = validation_problem(request.body)
            if problem is not None:
                return await self._send_error(
                    BedrockHTTPError(400, "ValidationException", problem), connection
                )
        wire = self._next().wire(stream=route["operation"] == "converse-stream")
        return await self._send_wire(wire, connection)

    async def _send_error(self, error: BedrockHTTPError, connection: Connection) -> bool:
        return await self._send_wire(_error_wire(error, 0.0, ()), connection)


def validation_problem(body: Any) -> str | None:
    """What Bedrock's ``ValidationException`` would say about this Converse body, else ``None``."""
    if not isinstance(body, dict):
        return "Malformed input request, please reformat your input and try again."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "The model returned the following errors: messages: at least one message is required"
    if "modelId" in body:
        return "Unexpected field: modelId belongs in the path"
    tool_blocks = False
    for position, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        expected = "user" if position % 2 == 0 else "assistant"
        if role != expected:
            return (
                "A conversation must start with a user message and alternate between user and "
                f"assistant roles (messages.{position} has role {role!r})."
            )
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return f"The content field in the Message object at messages.{position} is empty."
        for index, block in enumerate(content):
            if not isinstance(block, dict) or len(block) != 1:
                return f"messages.{position}.content.{index} must have exactly one member."
            text = block.get("text")
            if text is not None and (not isinstance(text, str) or not text.strip()):
                where = f"messages.{position}.content.{index}"
                return f"The text field in the ContentBlock object at {where} is blank."
            tool_blocks = tool_blocks or "toolUse" in block or "toolResult" in block
    if tool_blocks and "toolConfig" not in body:
        return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
    return None
