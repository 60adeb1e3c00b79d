"""``ImitatingServer``: a ``ScriptedServer`` whose default answer is chosen from each request.

Queued scenarios still come first (``push``), so a test can script one turn exactly; when the
queue is empty the server asks ``choose(body)`` (by default :func:`~._lc_model.imitate`) instead
of replaying one fixed default. Every request body is validated against the bundled OpenAPI
schema when ``validate=True``, so a client under test that sends anything off-spec gets a 400
naming the problem (and the test sees it in :attr:`spec_problems`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from ..types import CreateResponseBody
from ._loopback import Connection
from ._script import Scenario
from ._server import ScriptedServer
from ._transport import RecordedRequest

__all__ = ["ImitatingServer"]


class ImitatingServer(ScriptedServer):
    """A loopback server that answers each request as :func:`imitate` (or ``choose``) decides."""

    _thread_name = "imitating-server"

    def __init__(
        self,
        scenarios: Iterable[Scenario] = (),
        *,
        choose: Callable[[CreateResponseBody], Scenario] | None = None,
        validate: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(scenarios, **options)
        from ._lc_model import imitate

        self.choose = choose or imitate
        self.validate = validate
        #: Spec problems found in request bodies (``validate=True``), one list per bad request.
        self.spec_problems: list[list[str]] = []

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        if request.path != self.prefix + "/responses" or request.method != "POST" or self.pending:
            return await super()._respond(request, connection)
        if self.validate and isinstance(request.body, dict):
            from ._spec_schema import spec_schemas

            problems = spec_schemas().problems("CreateResponseBody", request.body)
            if problems:
                self.spec_problems.append(problems)
                return await self._send_error(connection, 400, "Off-spec request: " + "; ".join(problems[:3]))
        try:
            body = CreateResponseBody.model_validate(request.body if isinstance(request.body, dict) else None)
        except ValidationError as exc:
            return await self._send_error(
                connection, 400, f"Invalid request body: {exc.error_count()} problem(s)."
            )
        scenario = self.choose(body).with_(ledger=self._queue.ledger)
        return await self._send_wire(
            scenario.wire(body, operation="create", send_done=self.send_done), connection
        )
