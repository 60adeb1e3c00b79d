"""``Stateful``: ``previous_response_id`` that works on stateless backends.

Chat-Completions bridges and many "Responses-compatible" servers accept ``previous_response_id``
and silently drop it. This middleware keeps the responses itself (a
:class:`~openresponses.store.ResponseStore`) and expands the chain before the request leaves:
the upstream gets the full history and no ``previous_response_id``; the caller gets a response
that still says ``previous_response_id: X``, as if the backend were stateful.

The expansion follows the spec: previous input, then previous output, then the new input, in that
order (README §8 "previous_response_id", RULES R87-R89). Only the *items* carry over:
``instructions`` are "additional instructions to guide the model for this request"
(``CreateResponseBody.instructions`` in openapi.json), and, as in OpenAI's API, the instructions
(and tools, and settings) of the previous response are not carried over; send them again.

What is stored: responses that ended ``completed`` or ``incomplete``, when ``store`` is true (the
spec's default; ``store_by_default``); never failed, errored, cut or abandoned streams. A stream's
record is written *before* its terminal event is handed over, so once a caller has seen
``response.completed`` any process sharing the store can continue the chain. A whole response's
record is written before it is returned, except in the served proxy with its own
``MemoryStore`` (nothing another process could read): there it is written once the reply is out,
before the proxy reads anything else (``CallContext.after_reply``). A write failure is logged
(warning) and never breaks the caller's stream or response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from .._errors import NotFoundError, RequestValidationError
from .._pipeline import Handler, Reply, Request
from .._streaming import EventStream
from ..store._base import ResponseStore, StoredResponse, StoreError
from ..store.memory import MemoryStore
from ..transports._reply import status_error_from_body
from ..types import CompactResponseBody, CreateResponseBody, Response, StreamEvent

__all__ = ["Stateful", "previous_response_not_found"]

logger = logging.getLogger("openresponses")

#: Statuses worth continuing from (the spec's terminal successes).
_STORABLE = frozenset({"completed", "incomplete"})
_STORABLE_TERMINALS = frozenset({"response.completed", "response.incomplete"})
#: The events that carry a whole ``response``: the only ones patched (never deltas).
_RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.failed",
        "response.incomplete",
    }
)
_MAX_ID_IN_MESSAGE = 200


def previous_response_not_found(response_id: str) -> NotFoundError:
    """The 404 for an unknown or expired ``previous_response_id``, shaped like an upstream's.

    ``.error.code`` is ``previous_response_not_found``, ``.error.param`` ``previous_response_id``,
    ``.provider`` ``store``; the message names the id.
    """
    shown = (
        response_id if len(response_id) <= _MAX_ID_IN_MESSAGE else response_id[:_MAX_ID_IN_MESSAGE] + "..."
    )
    body = {
        "error": {
            "message": f"Previous response with id {shown!r} not found.",
            "type": "not_found",  # the spec's type for 404 (README §7)
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }
    exc = status_error_from_body(404, json.dumps(body).encode(), {}, provider="store")
    assert isinstance(exc, NotFoundError)
    return exc


class Stateful:
    """Middleware: keep responses in a store and expand ``previous_response_id`` before sending.

    ``store`` defaults to a fresh :class:`~openresponses.store.MemoryStore`; share a
    ``SQLiteStore`` or ``RedisStore`` between processes so a chain started on one continues on
    another. ``store_by_default`` applies when a request does not say ``store`` (the spec's default
    is ``True``); ``store: false`` stores nothing, yet its ``previous_response_id`` still expands.
    An unknown or expired id raises :class:`~openresponses.NotFoundError`
    (``code="previous_response_not_found"``) before anything is sent; a store that fails on read
    raises :class:`~openresponses.store.StoreError` (not retried). Responses it keeps say
    ``store: true``. Put it outside ``Retry`` and ``Failover`` so one read serves every attempt.
    ``aclose()`` closes the store (file and Redis stores reopen on next use)::

        client = AsyncClient(base_url=url, middleware=[Stateful(RedisStore(redis_url)), Retry()])
        first = await client.responses.create(model="m", input="My name is Ada.")
        second = await client.responses.create(model="m", input="What is my name?",
                                               previous_response_id=first.id)
    """

    __slots__ = ("store", "store_by_default")

    def __init__(self, store: ResponseStore | None = None, *, store_by_default: bool = True) -> None:
        if store is not None and not isinstance(store, ResponseStore):
            raise TypeError(
                f"Stateful: store must implement ResponseStore (get, put, delete, aclose), got {store!r}"
            )
        self.store: ResponseStore = store if store is not None else MemoryStore()
        self.store_by_default = store_by_default

    def __repr__(self) -> str:
        return f"Stateful(store={self.store!r}, store_by_default={self.store_by_default})"

    async def aclose(self) -> None:
        """Close the store."""
        await self.store.aclose()

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        body = request.body
        previous = body.previous_response_id
        if isinstance(body, CompactResponseBody):
            # A compaction is not a response: nothing to store (R66), but its input may chain.
            if previous is None:
                return await call_next(request)
            history = [*(await self._load(previous)).history(), *_as_items(body.input)]
            request.context.record("state.expand", {"items": len(history)})
            return await call_next(request.replace(body=_expanded(body, history)))
        keep = self.store_by_default if body.store is None else body.store
        if previous is None and not keep:
            return await call_next(request)
        chain: list[dict[str, Any]] | None = None  # without a chain: only needed to store
        if previous is not None:
            chain = [*(await self._load(previous)).history(), *_as_items(body.input)]
            request.context.record("state.expand", {"items": len(chain)})
            request = request.replace(body=_expanded(body, chain))
        reply = await call_next(request)
        patch = _Patch(previous, keep)
        if isinstance(reply, Response):
            reply = patch.response(reply)
            if keep and reply.status in _STORABLE:
                later = request.context.after_reply
                if later is not None and self._writes_now():
                    later.append(_Later(self, reply, chain, body, request))
                else:
                    await self._save(reply, _history(body, chain), request)
            return reply
        history = _history(body, chain)
        if isinstance(reply, EventStream):
            if patch.updates and not reply.patchable:
                # Taps below see the upstream's events, or it is too late to patch in place:
                # the caller gets a patched copy of the stream instead.
                return EventStream(self._relay(reply, patch, history, keep, request), provider=reply.provider)
            # In place, no second stream: the per-chunk cost of a wrapper is a generator hop, a
            # batch copy and a second accumulation, for events of which only a handful change.
            if patch.updates:
                reply.patch_responses(patch.event)
            if keep:
                reply.before_terminal(_Store(self, history, request))
        return reply

    # -- internals --------------------------------------------------------------------------------

    async def _load(self, previous: str) -> StoredResponse:
        try:
            record = await self.store.get(previous)
        except StoreError as exc:
            exc.add_note(f"openresponses.Stateful: reading previous_response_id={previous[:200]!r}.")
            raise
        if record is None:
            raise previous_response_not_found(previous)
        return record

    async def _save(self, response: Response, history: Sequence[Mapping[str, Any]], request: Request) -> None:
        try:
            await self.store.put(StoredResponse.from_response(response, history))
        except Exception as exc:  # the answer is good: losing its record must not lose the answer
            _store_failed(response, request, exc)

    def _writes_now(self) -> bool:
        """Whether the store is a ``MemoryStore`` whose ``put`` is its own (never waits): only
        then may the write follow the reply (``CallContext.after_reply``). A store shared with
        other processes is written before the reply, so a chain can continue on any of them."""
        return isinstance(self.store, MemoryStore) and type(self.store).put is MemoryStore.put

    async def _relay(
        self,
        inner: EventStream,
        patch: _Patch,
        history: list[dict[str, Any]],
        keep: bool,
        request: Request,
    ) -> AsyncIterator[list[StreamEvent]]:
        try:
            while True:
                batch = await inner.next_batch()
                if not batch:
                    return
                batch = [patch.event(event) if event.type in _RESPONSE_EVENTS else event for event in batch]
                if keep and batch[-1].type in _STORABLE_TERMINALS:  # a terminal is always last
                    # Written before the terminal is handed over: once a caller sees the end,
                    # the chain can continue from any process sharing the store.
                    final = inner.snapshot()  # the terminal's response, with streamed items kept
                    if final is not None and final.status in _STORABLE:
                        await self._save(patch.response(final), history, request)
                yield batch
        finally:
            await inner.aclose()


def _history(body: CreateResponseBody, chain: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """What produced the response: the expanded ``chain``, or without one the request's input."""
    return _as_items(body.input) if chain is None else chain


def _store_failed(response: Response, request: Request, exc: Exception) -> None:
    logger.warning(
        "openresponses.Stateful: could not store response %s (%s: %s); a continuation from "
        "it (previous_response_id) will not find it.",
        response.id,
        type(exc).__name__,
        exc,
    )
    request.context.record("state.store_failed", {"error.type": type(exc).__name__})


class _Later:
    """A non-streamed response's write to a ``MemoryStore``, run once the served proxy's reply
    is written (``CallContext.after_reply``).

    Why: the record (the input items and the output as dicts, the TTL stamp, the LRU) was about
    a tenth of a non-streamed request's CPU between the upstream's reply and the proxy's. The
    proxy runs it before it reads anything else, so a continuation from any connection finds it.
    """

    __slots__ = ("body", "history", "layer", "request", "response")

    def __init__(
        self,
        layer: Stateful,
        response: Response,
        history: list[dict[str, Any]] | None,
        body: CreateResponseBody,
        request: Request,
    ) -> None:
        self.layer, self.response, self.history = layer, response, history
        self.body, self.request = body, request

    def __call__(self) -> None:
        try:
            history = _history(self.body, self.history)
            store = self.layer.store
            assert isinstance(store, MemoryStore)
            store.put_nowait(StoredResponse.from_response(self.response, history))
        except Exception as exc:  # as _save: the answer went out; say its record is missing
            _store_failed(self.response, self.request, exc)


class _Store:
    """The ``before_terminal`` hook: write a stream's final response before its end is handed over.

    A class, not a closure over the stream: the hook gets the stream as an argument, so the
    stream holds no reference cycle through it (a dropped stream is freed, and ends, at once).
    """

    __slots__ = ("history", "layer", "request")

    def __init__(self, layer: Stateful, history: list[dict[str, Any]], request: Request) -> None:
        self.layer = layer
        self.history = history
        self.request = request

    async def __call__(self, event: StreamEvent, stream: EventStream) -> None:
        final = stream.snapshot()  # the terminal's response (patched), with streamed items kept
        if final is not None and final.status in _STORABLE:
            await self.layer._save(final, self.history, self.request)


class _Patch:
    """What the caller's copy of the response says that the upstream's cannot."""

    __slots__ = ("updates",)

    def __init__(self, previous: str | None, keep: bool) -> None:
        self.updates: dict[str, Any] = {}
        if previous is not None:
            self.updates["previous_response_id"] = previous
        if keep:
            self.updates["store"] = True

    def response(self, response: Response) -> Response:
        return response.model_copy(update=self.updates) if self.updates else response

    def event(self, event: StreamEvent) -> StreamEvent:
        inner = getattr(event, "response", None)
        if not self.updates or not isinstance(inner, Response):
            return event
        return event.model_copy(update={"response": self.response(inner)})


def _as_items(value: Any) -> list[dict[str, Any]]:
    """The request's ``input`` as JSON item params (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [item.to_dict() if hasattr(item, "to_dict") else dict(item) for item in value]


def _expanded(
    body: CreateResponseBody | CompactResponseBody, history: list[dict[str, Any]]
) -> CreateResponseBody | CompactResponseBody:
    """``body`` with the full history as input and no ``previous_response_id`` (absent, not null)."""
    data = body.to_dict()
    data.pop("previous_response_id", None)
    data["input"] = history
    try:
        return type(body).model_validate(data)
    except ValidationError as exc:
        error = RequestValidationError.from_validation_error(type(body).__name__, exc)
        error.add_note(
            "openresponses.Stateful: the input expanded from previous_response_id does not fit the spec "
            "(a stored output item the upstream returned cannot be sent back as input)."
        )
        raise error from None
