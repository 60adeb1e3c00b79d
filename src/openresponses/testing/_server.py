"""``ScriptedServer``: a real HTTP/1.1 server on loopback that plays Open Responses scenarios.

The HTTP machinery (keep-alive, chunked bodies, faults, the thread runner) lives in
:class:`~openresponses.testing._loopback.LoopbackServer`; this module only routes ``/responses``
and ``/responses/compact`` to the next scenario's :class:`~openresponses.testing.Wire`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from ..types import CompactResponseBody, CreateResponseBody
from ._loopback import Connection, LoopbackServer
from ._script import Scenario, ScenarioQueue, text
from ._transport import RecordedRequest

__all__ = ["ScriptedServer"]


class ScriptedServer(LoopbackServer):
    """A loopback Open Responses server that answers each request with the next scenario.

    Why a real socket: connection reuse, resets, stalls and early closes only show up on a real
    TCP connection through the real ``httpx`` stack. Use it async or from a thread::

        async with ScriptedServer([text("Hi", reasoning="Greet")]) as server:
            async with AsyncClient(base_url=server.base_url) as client:
                response = await client.responses.create(model="m", input="Hello")
        assert server.requests[0].body["input"] == "Hello"

        with ScriptedServer(default=text("Hi")).run_in_thread() as server:
            print(Client(base_url=server.base_url).responses.create(model="m", input="x").output_text)
    """

    _thread_name = "scripted-server"

    def __init__(
        self,
        scenarios: Iterable[Scenario] = (),
        *,
        default: Scenario | None = None,
        prefix: str = "/v1",
        api_key: str | None = None,
        send_done: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(prefix=prefix, host=host, port=port)
        self._queue = ScenarioQueue(scenarios, default if default is not None else text("Hello"))
        self.api_key = api_key
        self.send_done = send_done

    def push(self, *scenarios: Scenario) -> None:
        """Queue scenarios, consumed one per request in order (then ``default`` serves)."""
        self._queue.push(*scenarios)

    @property
    def pending(self) -> int:
        """Scenarios queued and not yet consumed."""
        return len(self._queue)

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        create_path = self.prefix + "/responses"
        if request.path not in (create_path, create_path + "/compact"):
            return await self._send_error(connection, 404, f"No route for {request.path}.", "not_found")
        if request.method != "POST":
            return await self._send_error(connection, 405, "Use POST.")
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return await self._send_error(
                connection, 401, "Missing or invalid API key.", "authentication_error", "invalid_api_key"
            )
        operation = "compact" if request.path.endswith("/compact") else "create"
        model = CompactResponseBody if operation == "compact" else CreateResponseBody
        try:
            body = model.model_validate(request.body if isinstance(request.body, dict) else None)
        except ValidationError as exc:
            message = f"Invalid request body: {exc.error_count()} problem(s)."
            return await self._send_error(connection, 400, message, "invalid_request")
        wire = self._queue.next().wire(body, operation=operation, send_done=self.send_done)  # type: ignore[arg-type]
        return await self._send_wire(wire, connection)

    async def _send_error(
        self,
        connection: Connection,
        code: int,
        message: str,
        error_type: str = "invalid_request",
        error_code: str | None = None,
    ) -> bool:
        body = {"error": {"message": message, "type": error_type, "param": None, "code": error_code}}
        return await self._send_json(connection, code, body)
