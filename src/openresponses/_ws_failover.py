"""WebSocket mode over a ``Failover``: one socket per member, the chain kept across providers.

``client.responses.connect()`` on a client built with ``endpoint=Failover([...])`` (or a
``Provider``) builds, per member ``Provider``, a *twin*: the same name, model override and map,
and the member's own middleware objects (so a ``CircuitBreaker`` opened by HTTP calls is open
for the socket too, and the other way round), ending at a
:class:`~openresponses.transports.websocket.WebSocketTransport` to the member's ``base_url``
with its key. A ``Failover`` with the member chain's settings runs over the twins, so a turn
fails over before its first content event exactly as an HTTP stream does.

Why a :class:`Chain`: a ``previous_response_id`` is known only to the provider that produced it.
The connection records, per turn, which member served it and the conversation's items (the
input it sent, the output it got); a twin other than the producer receives the full history as
``input`` instead of the id (reasoning items and item ids dropped: they are the producer's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._decisions import Recorded
from ._errors import ConfigError, RequestValidationError
from ._pipeline import Handler, Request
from ._provider import Provider
from .store._base import output_to_input
from .types import CreateResponseBody, Response

if TYPE_CHECKING:
    from .transports.websocket import WebSocketTransport

__all__ = ["Chain", "SocketTwin", "socket_endpoint"]


@dataclass
class Chain:
    """The connection's conversation as it stands: who produced the last response, and its items.

    ``history`` is ``None`` when the chain did not start on this connection (a turn continued an
    id given explicitly): then the id is sent as given to every member.
    """

    response_id: str | None = None
    producer: str | None = None
    history: list[dict[str, Any]] | None = field(default_factory=list)

    def advance(self, body: CreateResponseBody, response: Response, producer: str | None) -> None:
        """Take in a finished turn: what was sent (``body``, as the connection built it) and got."""
        previous = body.previous_response_id
        if previous is None:
            base: list[dict[str, Any]] | None = []
        elif previous == self.response_id:
            base = self.history
        else:
            base = None  # continued from an id this connection did not make
        if base is not None:
            output = [output_to_input(item.to_dict()) for item in response.output]
            base = [*base, *input_items(body.input), *(item for item in output if item is not None)]
        self.response_id = response.id
        self.producer = producer
        self.history = base

    def rewrite(self, request: Request, member: str) -> Request:
        """``request`` as ``member`` should get it: the full history instead of an id it cannot know."""
        body = request.body
        if not isinstance(body, CreateResponseBody):
            return request
        previous = body.previous_response_id
        if (
            previous is None
            or previous != self.response_id
            or self.producer in (None, member)
            or self.history is None
        ):
            return request
        history = [_portable(item) for item in self.history if item.get("type") != "reasoning"]
        data = body.to_dict()
        data.pop("previous_response_id", None)
        data["input"] = [*history, *input_items(body.input)]
        try:
            rewritten = CreateResponseBody.model_validate(data)
        except ValidationError as exc:  # an output item its input param does not accept
            raise RequestValidationError(
                f"openresponses: the history of this connection cannot be resent to {member!r}: {exc}"
            ) from None
        request.context.record(
            Recorded("websocket.history", {"provider": member, "items": len(history), "instead_of": previous})
        )
        return request.replace(body=rewritten)


def input_items(value: Any) -> list[dict[str, Any]]:
    """A body's ``input`` as JSON item params (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [item.to_dict() if hasattr(item, "to_dict") else dict(item) for item in value]


def _portable(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item without its id: ids are the producing provider's (and may not be stored there)."""
    return {key: value for key, value in item.items() if key != "id"}


class SocketTwin(Provider):
    """A member ``Provider`` of a Failover, over a WebSocket: its middleware, model map and name.

    Closing it closes only the socket: the middleware objects belong to the member (the client
    closes them).
    """

    def __init__(self, member: Provider, transport: WebSocketTransport, chain: Chain) -> None:
        super().__init__(
            member.name,
            member.base_url,
            model=member.model,
            model_map=member.model_map,
            transport=transport,
            middleware=member.middleware,
        )
        self.chain = chain
        self.socket = transport

    def prepare(self, request: Request) -> Request:
        """The member's model mapping, and the full history when this member did not produce the id."""
        return super().prepare(self.chain.rewrite(request, self.name))

    async def aclose(self) -> None:
        """Close the socket (the member's middleware stays the client's to close)."""
        await self.socket.aclose()


def _socket_for(member: object, where: str) -> WebSocketTransport:
    from .middleware.failover import Failover
    from .transports._dialect import OpenResponsesDialect
    from .transports.http import HTTPTransport
    from .transports.websocket import WebSocketTransport

    name = getattr(member, "name", type(member).__name__)
    if isinstance(member, Failover):
        raise ConfigError(
            f"connect(): {where} member {name!r} is a nested Failover; WebSocket mode fails over between "
            "Providers only: flatten the chain for connect(), or pass connect(base_url=...)",
            key="endpoint",
        )
    if not isinstance(member, Provider):
        raise ConfigError(
            f"connect(): {where} member {name!r} is a {type(member).__name__}, not a Provider: "
            "WebSocket mode needs a Provider with base_url=",
            key="endpoint",
        )
    transport = member.transport
    if member.adapter != "open-responses" or (
        isinstance(transport, HTTPTransport) and not isinstance(transport.dialect, OpenResponsesDialect)
    ):
        raise ConfigError(
            f"connect(): provider {name!r} speaks {member.adapter!r}, which has no WebSocket mode (only "
            "native Open Responses servers do): remove it from the chain for connect(), or reach it "
            "through the served proxy (openresponses proxy), which accepts WebSockets",
            key=f"providers.{name}",
        )
    if not isinstance(transport, HTTPTransport) or not member.base_url:
        raise ConfigError(
            f"connect(): provider {name!r} was built with transport={type(transport).__name__}; WebSocket "
            "mode needs a Provider built from base_url= (its socket goes to <base_url>/responses)",
            key=f"providers.{name}",
        )
    # The member's own key and headers, for its own server only.
    return WebSocketTransport(
        member.base_url, api_key=transport._api_key, provider=name, headers=transport._headers
    )


def socket_endpoint(endpoint: Handler, chain: Chain) -> tuple[Handler, tuple[WebSocketTransport, ...]]:
    """The WebSocket twin of a client's ``Failover`` (or ``Provider``) endpoint, and its sockets.

    ``ConfigError`` naming the member that cannot speak WebSocket mode, before anything opens.
    """
    from .middleware.failover import Failover

    if isinstance(endpoint, Failover):
        sockets = tuple(_socket_for(member, "the Failover") for member in endpoint.providers)
        twins = [
            SocketTwin(member, socket, chain)
            for member, socket in zip(endpoint.providers, sockets, strict=True)
            if isinstance(member, Provider)
        ]
        failover = Failover(
            twins,
            name=endpoint.name,
            first_token_timeout=(
                _default_timeout() if endpoint._first_token_default else endpoint.first_token_timeout
            ),
            hedge_after=endpoint.hedge_after,
            midstream=endpoint.midstream,
            failover_on=endpoint.failover_on,
        )
        return failover, sockets
    if isinstance(endpoint, Provider):
        socket = _socket_for(endpoint, "the endpoint")
        return SocketTwin(endpoint, socket, chain), (socket,)
    raise ConfigError(
        f"connect() needs a base URL: this client's endpoint is a {type(endpoint).__name__}, not a "
        "Failover of Providers; pass connect(base_url=...) or connect(transport=WebSocketTransport(...))",
        key="base_url",
    )


def _default_timeout() -> Any:
    from .middleware.failover import _Default

    return _Default.DEFAULT
