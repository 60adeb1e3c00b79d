"""One rule for a response the server reports as failed, streamed or not.

A stream ending in ``error`` / ``response.failed`` raises ``ResponseFailedError`` (see
``_streaming``). A whole ``Response`` with ``status == "failed"`` raises the same error, with
the response attached, so ``except ResponseFailedError`` covers both and a failure is never
returned as if it were an answer. ``incomplete`` is not a failure in either mode: the response
is returned (``status == "incomplete"``, ``incomplete_details.reason``).

:class:`RaiseOnFailed` applies the rule right at the transport, inside the attempt boundary, so
Retry, Failover and CircuitBreaker see a failed non-streaming reply exactly as they see a failed
stream; the client applies :func:`raise_if_failed` once more to replies that did not come from a
transport (a middleware's short circuit, a custom endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import ResponseFailedError
from ._pipeline import Reply, Request, Target, Transport
from .types import Response

__all__ = ["RaiseOnFailed", "raise_if_failed"]


def raise_if_failed(reply: Reply, provider: str | None = None) -> Reply:
    """``reply`` unchanged, unless it is a ``Response`` whose status is ``failed``: then raise
    ``ResponseFailedError`` (``.response`` the response, ``.code`` its error code)."""
    if not isinstance(reply, Response) or reply.status != "failed":
        return reply
    error = reply.error
    detail = f"{error.code}: {error.message}" if error is not None else "the response failed"
    exc = ResponseFailedError(f"Response failed: {detail}", event=None, response=reply)
    exc.provider = reply.provider or provider
    raise exc


@dataclass(frozen=True, slots=True)
class RaiseOnFailed:
    """A transport wrapper applying :func:`raise_if_failed` to every whole-response reply."""

    transport: Transport

    @property
    def target(self) -> Target:
        """The wrapped transport's target."""
        return self.transport.target

    async def __call__(self, request: Request, /) -> Reply:
        reply = await self.transport(request)
        return raise_if_failed(reply, self.transport.target.provider)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.transport.aclose()

    def __repr__(self) -> str:
        return repr(self.transport)
