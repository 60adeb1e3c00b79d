"""``GeminiServer``: the loopback Gemini API / Vertex AI upstream (routes, auth, request checks)."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from typing import Any, Literal

from ._gemini_wire import GeminiReply, GeminiScenario, google_error_body
from ._loopback import Connection
from ._transport import RecordedRequest
from ._vendor_server import VendorServer

__all__ = ["GeminiServer"]

_UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). Please use API "
    "Key or other form of API consumer identity to call this API."
)
_METHODS = ("streamGenerateContent", "generateContent")
_GEMINI_PATH = re.compile(r"^/(?:models|tunedModels)/([^/:]+):(\w+)$")
_VERTEX_PATH = re.compile(r"^/projects/([^/]+)/locations/([^/]+)/publishers/google/models/([^/:]+):(\w+)$")


class GeminiServer(VendorServer[GeminiScenario]):
    """A loopback Gemini upstream speaking the Gemini API (``api="gemini"``, prefix ``/v1beta``,
    ``POST /v1beta/models/{model}:streamGenerateContent``) or Vertex AI (``api="vertex"``, prefix
    ``/v1``, ``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:...``).

    Each request plays the next queued scenario (then ``default``, ``gemini_text("Hello")``):
    ``streamGenerateContent`` streams SSE chunks, ``generateContent`` answers one body. Auth is
    checked as Google does: with ``api_key`` a missing or wrong ``x-goog-api-key`` gets a 400
    ``API_KEY_INVALID`` (echoing the key it received, so tests can prove nothing downstream
    repeats it); with ``access_token`` a missing or wrong bearer token gets a 401
    ``UNAUTHENTICATED``. Bodies are checked like the real API: ``contents`` non-empty, roles
    ``user`` / ``model``, every turn with parts, as many ``functionResponse`` parts as the
    preceding turn had calls and, with ``require_signatures`` (Gemini 3), a
    ``thoughtSignature`` on the first ``functionCall`` of each model turn. ``project`` /
    ``location`` (Vertex) must match when given::

        async with GeminiServer([gemini_status(429, retry_delay="7s")], api_key="AIza-test") as up:
            ...  # Provider("g", base_url=up.base_url, adapter="gemini", api_key="AIza-test")
    """

    _thread_name = "gemini-server"
    _scenario = GeminiScenario
    _scenario_hint = "a GeminiScenario (build one with gemini_text(...))"

    def __init__(
        self,
        scenarios: Iterable[GeminiScenario] = (),
        *,
        default: GeminiScenario | None = None,
        api: Literal["gemini", "vertex"] = "gemini",
        api_key: str | None = None,
        access_token: str | None = None,
        project: str | None = None,
        location: str | None = None,
        require_signatures: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if api not in ("gemini", "vertex"):
            raise ValueError(f"api must be 'gemini' or 'vertex', got {api!r}")
        default = default if default is not None else GeminiScenario(GeminiReply(text="Hello"))
        prefix = "/v1beta" if api == "gemini" else "/v1"
        super().__init__(scenarios, default=default, prefix=prefix, host=host, port=port)
        self.api = api
        self.api_key = api_key
        self.access_token = access_token
        self.project = project
        self.location = location
        self.require_signatures = require_signatures
        #: The model named in each generate request's URL, in order.
        self.models: list[str] = []

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        route = request.path[len(self.prefix) :] if request.path.startswith(self.prefix + "/") else ""
        match = (_GEMINI_PATH if self.api == "gemini" else _VERTEX_PATH).match(route)
        if match is None or match.groups()[-1] not in _METHODS:
            return await self._error(
                connection, 404, "NOT_FOUND", f"Invalid URL ({request.method} {request.path})"
            )
        if request.method != "POST":
            return await self._error(
                connection, 405, "INVALID_ARGUMENT", f"Method {request.method} not allowed"
            )
        denied = self._auth(request.headers)
        if denied is not None:
            code, status, message, reason = denied
            return await self._send_json(
                connection, code, google_error_body(code, status, message, reason=reason)
            )
        if self.api == "vertex":
            project, location, model, method = match.groups()
            for name, want, got in (
                ("project", self.project, project),
                ("location", self.location, location),
            ):
                if want is not None and got != want:
                    return await self._error(
                        connection, 403, "PERMISSION_DENIED", f"Permission denied on {name} {got}"
                    )
        else:
            model, method = match.groups()
        problem = self._invalid(request.body)
        if problem is not None:
            return await self._error(connection, 400, "INVALID_ARGUMENT", problem)
        self.models.append(model)
        return await self._send_wire(self._next().wire(stream=method == "streamGenerateContent"), connection)

    def _auth(self, headers: Any) -> tuple[int, str, str, str | None] | None:
        if self.api_key is not None:
            received = headers.get("x-goog-api-key")
            if not received:
                return (
                    403,
                    "PERMISSION_DENIED",
                    _UNREGISTERED,
                    None,
                )
            if not hmac.compare_digest(received.encode(), self.api_key.encode()):
                # Echoed on purpose: a test can then prove no layer above repeats it.
                return (
                    400,
                    "INVALID_ARGUMENT",
                    f"API key not valid ({received}). Please pass a valid API key.",
                    "API_KEY_INVALID",
                )
        if self.access_token is not None:
            scheme, _, token = (headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), self.access_token.encode()
            ):
                return (
                    401,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                    "login cookie or other valid authentication credential.",
                    "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                )
        return None

    def _invalid(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "Invalid JSON payload received."
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return "* GenerateContentRequest.contents: contents is not specified"
        calls = 0
        for index, content in enumerate(contents):
            if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
                return f"Please use a valid role: user, model (contents[{index}])."
            parts = content.get("parts")
            if not isinstance(parts, list) or not parts:
                return f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty."
            answers = sum(1 for part in parts if isinstance(part, dict) and "functionResponse" in part)
            if content["role"] == "user" and (answers or calls) and answers != calls:
                return (
                    "Please ensure that the number of function response parts is equal to the number of "
                    "function call parts of the function call turn."
                )
            own = [part for part in parts if isinstance(part, dict) and "functionCall" in part]
            if content["role"] == "model":
                if self.require_signatures and own and "thoughtSignature" not in own[0]:
                    name = own[0]["functionCall"].get("name")
                    return (
                        f"Function call `{name}` in the {index + 1}. content block is missing a "
                        "`thought_signature`."
                    )
                calls = len(own)
            else:
                calls = 0
        return None

    async def _error(self, connection: Connection, code: int, status: str, message: str) -> bool:
        return await self._send_json(connection, code, google_error_body(code, status, message))
