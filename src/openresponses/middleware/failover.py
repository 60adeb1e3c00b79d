"""``Failover``: ordered providers, hedging, first-token deadlines and mid-stream recovery.

``Failover([Provider(...), ...])`` ends the middleware chain: each provider carries its own
transport and middleware. A call goes to the first provider; on a failure worth it (connection
errors, timeouts, 408/429/5xx, an open breaker, ``error`` / ``response.failed`` / malformed
streams before the first delivered event, a context-window 400) it goes to the next one; a
client error (400/401/403/404/422) or a content-policy refusal is surfaced at once. When every
provider failed, :class:`~openresponses.AllProvidersFailed` lists each attempt and why.

Beyond the anchors: ``first_token_timeout`` fails over when no content event arrived in time,
``hedge_after`` races the next provider against a slow one, and ``midstream`` recovers a stream
that broke after events reached the caller (``restart`` or ``continue``; see docs/resilience.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal

from .._emit import EventBuilder
from .._errors import (
    AllProvidersFailed,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    CircuitOpenError,
    OpenResponsesError,
    ProtocolError,
    RejectedError,
    StreamError,
    StreamInterrupted,
)
from .._pipeline import Handler, Reply, Request
from .._provider import Provider
from .._streaming import EventStream, _stamp
from ..types import Response, StreamEvent
from ..types.events import LIFECYCLE_EVENT_TYPES as _LIFECYCLE
from ..types.events import TERMINAL_EVENT_TYPES as _TERMINAL
from ._policy import DEFAULT_RETRY_STATUSES, is_content_policy, is_context_length, reason_of
from .retry import FAILOVER_STATE_KEY

__all__ = ["RESTARTED_EVENT", "CONTINUED_EVENT", "RECOVERY_FIELD", "Failover", "should_failover"]

logger = logging.getLogger("openresponses")

Midstream = Literal["raise", "restart", "continue"]

#: Extension event emitted before a restarted stream: discard what was shown so far.
RESTARTED_EVENT = "openresponses:stream.restarted"
#: Extension event emitted where a continuation is spliced in: nothing to discard.
CONTINUED_EVENT = "openresponses:stream.continued"
#: Extension field on the final response listing each mid-stream recovery.
RECOVERY_FIELD = "openresponses:recovery"


def should_failover(exc: BaseException) -> bool:
    """The default ``failover_on``: is ``exc`` a reason to try the next provider?

    Yes: connection errors and timeouts, 408/429/5xx, an open breaker (or any local
    rejection), a context-window overflow, and ``error`` / ``response.failed`` / malformed
    streams before anything was delivered. No: content-policy refusals, other client errors,
    and anything that is not an ``OpenResponsesError`` (a bug should not be hidden).
    """
    if is_content_policy(exc):
        return False
    if is_context_length(exc):
        return True
    if isinstance(exc, CircuitOpenError | RejectedError):
        return True
    if isinstance(exc, APIStatusError):
        forced = exc.headers.get("x-should-retry")
        return forced == "true" or exc.status_code in DEFAULT_RETRY_STATUSES or exc.status_code >= 500
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, StreamError | ProtocolError):
        return exc.events_delivered == 0 or isinstance(exc, StreamInterrupted)
    return isinstance(exc, AllProvidersFailed)


def _recoverable_midstream(exc: BaseException) -> bool:
    if is_content_policy(exc):
        return False  # a refusal mid-answer is the answer
    return isinstance(exc, StreamError | ProtocolError | APIConnectionError)


def _tag(exc: BaseException, provider: str) -> None:
    if isinstance(exc, OpenResponsesError) and exc.provider is None:
        exc.provider = provider


class Failover:
    """Terminal middleware: try ``providers`` in order; see the module docstring.

    ``first_token_timeout`` (seconds, streams only) bounds the wait for a provider's first
    content event, counted from the start of its attempt; when it fires the next provider is
    tried at once. ``hedge_after`` starts the next provider when the current one has produced
    no first content event in that time; the first to produce one wins and the others are
    cancelled and closed. ``midstream`` says what to do when a stream breaks after events were
    delivered: ``raise`` (``StreamInterrupted`` with the partial response), ``restart`` (next
    provider, from scratch, after a ``openresponses:stream.restarted`` event) or ``continue``
    (next provider continues the partial text; falls back to ``restart`` when a function call,
    reasoning or other non-text item was in progress). ``failover_on(exc) -> bool`` replaces
    :func:`should_failover`.

    ::

        client = AsyncClient(middleware=[
            Retry(RetryPolicy(attempts=2)),
            Failover([Provider("a", base_url=a_url, middleware=[CircuitBreaker()]),
                      Provider("b", base_url=b_url)],
                     first_token_timeout=10, hedge_after=3, midstream="restart"),
        ])
    """

    is_terminal = True

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        first_token_timeout: float | None = None,
        hedge_after: float | None = None,
        midstream: Midstream = "raise",
        failover_on: Callable[[BaseException], bool] | None = None,
    ) -> None:
        self.providers: tuple[Provider, ...] = tuple(providers)
        if not self.providers:
            raise ValueError("Failover needs at least one Provider")
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ValueError(f"Failover provider names must be unique, got {names}")
        if midstream not in ("raise", "restart", "continue"):
            raise ValueError(f"midstream must be 'raise', 'restart' or 'continue', not {midstream!r}")
        for label, value in (("first_token_timeout", first_token_timeout), ("hedge_after", hedge_after)):
            if value is not None and value <= 0:
                raise ValueError(f"{label} must be > 0 seconds, got {value!r}")
        self.first_token_timeout = first_token_timeout
        self.hedge_after = hedge_after
        self.midstream: Midstream = midstream
        self.failover_on = failover_on or should_failover

    def __repr__(self) -> str:
        return (
            f"Failover({[p.name for p in self.providers]}, first_token_timeout={self.first_token_timeout}, "
            f"hedge_after={self.hedge_after}, midstream={self.midstream!r})"
        )

    async def aclose(self) -> None:
        """Close every provider's transport and middleware."""
        for provider in self.providers:
            await provider.aclose()

    # -- one attempt on one provider ------------------------------------------------------------

    async def _attempt(self, provider: Provider, request: Request) -> Reply:
        """Call one provider; a stream is returned only once committed (content buffered)."""
        reply: Reply | None = None
        limit = self.first_token_timeout if request.stream else None
        try:
            if limit is None:
                reply = await provider(request)
                if isinstance(reply, EventStream):
                    await reply.prime()
                return reply
            scope: asyncio.Timeout | None = None
            try:
                async with asyncio.timeout(limit) as scope:
                    reply = await provider(request)
                    if isinstance(reply, EventStream):
                        await reply.prime()
                    return reply
            except TimeoutError:
                if scope is None or not scope.expired():
                    raise
                request.context.record("timeout", {"which": "first_event", "limit_s": limit})
                raise APITimeoutError("first_event", limit, provider=provider.name) from None
        except BaseException as exc:
            if isinstance(reply, EventStream):
                await reply.aclose()
            _tag(exc, provider.name)
            raise

    # -- choosing a provider --------------------------------------------------------------------

    async def _open(self, request: Request, start: int, errors: list[Exception]) -> tuple[Reply, int]:
        """The first committed reply from ``providers[start:]`` and its index."""
        request.context.state[FAILOVER_STATE_KEY] = True
        if self.hedge_after is not None and len(self.providers) - start > 1:
            return await self._open_hedged(request, start, errors)
        for index in range(start, len(self.providers)):
            provider = self.providers[index]
            try:
                reply = await self._attempt(provider, request)
            except Exception as exc:
                self._failed(request, exc, index, errors)
                continue
            return reply, index
        raise self._all_failed(errors)

    def _failed(self, request: Request, exc: Exception, index: int, errors: list[Exception]) -> None:
        """Record a failed attempt; re-raise it when it must be surfaced."""
        errors.append(exc)
        provider = self.providers[index].name
        if not self.failover_on(exc):
            if len(errors) > 1:
                exc.add_note(
                    "openresponses.Failover: earlier attempts: "
                    + "; ".join(
                        f"[{getattr(e, 'provider', None) or '?'}] {type(e).__name__}" for e in errors[:-1]
                    )
                )
            exc.add_note(f"openresponses.Failover: not failed over ({reason_of(exc)}).")
            raise exc
        following = self.providers[index + 1].name if index + 1 < len(self.providers) else ""
        request.context.record("failover", {"from": provider, "to": following, "reason": reason_of(exc)})

    def _all_failed(self, errors: list[Exception]) -> AllProvidersFailed:
        names = ", ".join(dict.fromkeys(getattr(e, "provider", None) or "?" for e in errors))
        return AllProvidersFailed(f"All providers failed ({len(errors)} attempts: {names})", errors)

    async def _open_hedged(self, request: Request, start: int, errors: list[Exception]) -> tuple[Reply, int]:
        assert self.hedge_after is not None
        providers = self.providers
        running: dict[asyncio.Task[Reply], int] = {}
        following = start
        hedged = False

        def launch() -> None:
            nonlocal following
            task = asyncio.create_task(self._attempt(providers[following], request))
            running[task] = following
            following += 1

        launch()
        try:
            while running:
                wait = self.hedge_after if following < len(providers) else None
                done, _ = await asyncio.wait(running, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if not done:  # the current attempts are slow: race the next provider
                    hedged = True
                    request.context.record(
                        "hedge", {"provider": providers[following].name, "after_s": self.hedge_after}
                    )
                    launch()
                    continue
                winner: tuple[Reply, int] | None = None
                for task in sorted(done, key=running.__getitem__):
                    index = running.pop(task)
                    if task.cancelled():
                        continue
                    exc = task.exception()
                    if exc is None:
                        if winner is None:
                            winner = (task.result(), index)
                        else:
                            await _discard(task.result())
                        continue
                    if not isinstance(exc, Exception):
                        raise exc
                    self._failed(request, exc, index, errors)
                if winner is not None:
                    if hedged:
                        request.context.record("hedge.winner", {"provider": providers[winner[1]].name})
                    return winner
                if not running and following < len(providers):
                    launch()  # failed outright: no need to wait for the hedge timer
            raise self._all_failed(errors)
        finally:
            for task in running:
                task.cancel()
            for task in running:
                try:
                    reply = await task
                except BaseException:
                    continue
                await _discard(reply)

    # -- the call -------------------------------------------------------------------------------

    async def __call__(self, request: Request, call_next: Handler | None = None, /) -> Reply:
        errors: list[Exception] = []
        reply, index = await self._open(request, 0, errors)
        name = self.providers[index].name
        request.context.provider = name
        if isinstance(reply, Response):
            return _stamp(reply, name)
        if not isinstance(reply, EventStream):
            return reply
        reply.provider = name
        if self.midstream == "raise" or index + 1 >= len(self.providers):
            return reply
        recovery = _Recovery(self, request, reply, index)
        outer = EventStream(recovery.run(), provider=name)
        # Until a recovery, the caller's stream passes the provider's events on unchanged:
        # accumulate them once, in the provider stream's accumulator (see _Recovery._recover).
        outer._mirror(reply)
        recovery.outer = outer
        return outer


async def _discard(reply: Reply) -> None:
    if isinstance(reply, EventStream):
        await reply.aclose()


class _Recovery:
    """Feeds the caller's stream from the current provider; recovers when it breaks mid-way.

    Until the first recovery the caller's stream (``outer``) mirrors the first provider's
    accumulator, which already holds exactly the events passed on (plus, once it failed, the
    failure: ``response.failed``, which errors re-raised from here report as before); at the
    first recovery ``outer`` takes that accumulator over and feeds it from then on (a restart
    resets it, a continuation appends to the partial message)."""

    def __init__(self, failover: Failover, request: Request, stream: EventStream, index: int) -> None:
        self.failover = failover
        self.request = request
        self.current = stream
        self.index = index
        self.outer: EventStream | None = None
        self.last_seq = -1
        self.offset = 0  # added to the sequence numbers of a restarted stream
        self.splice: _Splice | None = None
        self.since_start = 0  # events delivered from the current attempt (discarded on restart)
        self.recoveries: list[dict[str, Any]] = []

    async def run(self) -> AsyncIterator[list[StreamEvent]]:
        try:
            while True:
                try:
                    batch = await self.current.next_batch()
                except Exception as exc:
                    if not _recoverable_midstream(exc):
                        raise
                    marker = await self._recover(exc)
                    yield [marker]
                    continue
                if not batch:
                    return
                if self.splice is None and not self.offset and not self.recoveries:
                    # Nothing recovered yet: pass the batch on as it is.
                    self.since_start += len(batch)
                    seq = batch[-1].sequence_number
                    if seq is not None:
                        self.last_seq = seq
                    yield batch
                    continue
                out = self._rewrite(batch)
                if self.splice is not None and out and out[-1].type in _TERMINAL:
                    if len(out) > 1:
                        yield out[:-1]
                    yield [self.splice.terminal(out[-1], self.outer, self.recoveries)]
                elif out:
                    yield out
        finally:
            await self.current.aclose()

    def _rewrite(self, batch: list[StreamEvent]) -> list[StreamEvent]:
        if self.splice is not None:
            events = self.splice.rewrite(batch, self)
        else:
            events = batch
            if self.offset:
                for event in events:
                    if event.sequence_number is not None:
                        event.sequence_number += self.offset
            self.since_start += len(events)
            if self.recoveries and events[-1].type in _TERMINAL:
                setattr(events[-1].response, RECOVERY_FIELD, list(self.recoveries))  # type: ignore[union-attr]
        if events and events[-1].sequence_number is not None:
            self.last_seq = events[-1].sequence_number
        return events

    def _plain_text(self, partial: Response | None) -> bool:
        if partial is None or not partial.output:
            return False
        items = partial.output
        if any(item.type != "message" for item in items):
            return False
        last = items[-1]
        if getattr(last, "status", None) != "in_progress":
            return False
        if any(getattr(item, "status", None) == "in_progress" for item in items[:-1]):
            return False
        return all(
            getattr(part, "type", None) == "output_text" for part in (getattr(last, "content", None) or [])
        )

    async def _recover(self, exc: Exception) -> StreamEvent:
        failover = self.failover
        request = self.request
        broken = self.current
        partial = broken.snapshot()
        await broken.aclose()
        mode = failover.midstream
        if mode == "continue" and not self._plain_text(partial):
            mode = "restart"
        from_name = failover.providers[self.index].name
        reason = reason_of(exc)
        start = self.index + 1
        if start >= len(failover.providers):
            exc.add_note(
                f"openresponses.Failover: cannot {mode} the stream: no provider after {from_name!r}."
            )
            raise exc
        retry_request = request
        if mode == "continue":
            assert partial is not None
            retry_request = _continuation_request(request, partial)
        try:
            reply, index = await failover._open(retry_request, start, [])
        except Exception as open_exc:
            exc.add_note(f"openresponses.Failover: {mode} after a mid-stream failure failed: {open_exc}")
            raise exc from exc.__cause__
        if not isinstance(reply, EventStream):  # pragma: no cover - a stream request gets a stream
            raise exc
        to_name = failover.providers[index].name
        reply.provider = to_name
        request.context.provider = to_name
        if self.outer is not None:
            self.outer.provider = to_name
        request.context.record(
            mode,
            {
                "from": from_name,
                "to": to_name,
                "events_discarded": (self.since_start if mode == "restart" else 0),
            },
        )
        seq = self.last_seq + 1
        builder = EventBuilder(start_sequence=seq)
        self.recoveries.append(
            {"mode": mode, "from": from_name, "to": to_name, "reason": reason, "sequence_number": seq}
        )
        if mode == "restart":
            marker = builder.extension(
                RESTARTED_EVENT,
                **{"from": from_name, "to": to_name, "reason": reason},
                events_discarded=self.since_start,
            )
            self.offset = seq + 1
            self.splice = None
        else:
            assert partial is not None
            self.splice = _Splice(partial, seq + 1)
            marker = builder.extension(
                CONTINUED_EVENT,
                **{"from": from_name, "to": to_name, "reason": reason},
                item_id=self.splice.item_id,
                output_index=self.splice.output_index,
            )
        self.last_seq = seq
        self.since_start = 0
        self.current = reply
        self.index = index
        outer = self.outer
        if outer is not None and not outer._feeds:
            # The mirrored stream is gone: the caller's stream feeds its accumulator from now on.
            # A failure event it received (``response.failed``) never reached the caller.
            outer._own_accumulator()
            if mode == "continue":
                outer.accumulator.reopen()
        return marker


def _continuation_request(request: Request, partial: Response) -> Request:
    """The original input, then the partial assistant output as assistant messages."""
    body = request.body
    data = body.to_dict()
    original = data.get("input")
    items: list[Any] = []
    if isinstance(original, str):
        items.append({"type": "message", "role": "user", "content": original})
    elif original:
        items.extend(original)
    for item in partial.output:
        text = "".join(getattr(part, "text", "") for part in (getattr(item, "content", None) or []))
        items.append(
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    data["input"] = items
    return request.replace(body=type(body).model_validate(data))


class _Splice:
    """Rewrites a continuation's events into the interrupted message: same item id, output
    index, content index; sequence numbers continue; one coherent terminal response."""

    def __init__(self, partial: Response, next_seq: int) -> None:
        self.partial = partial
        message = partial.output[-1]
        self.item_id: str = str(getattr(message, "id", ""))
        self.output_index = len(partial.output) - 1
        parts = list(getattr(message, "content", None) or [])
        self.part_open = bool(parts)
        self.content_index = len(parts) - 1 if parts else 0
        self.prior_parts = parts[:-1] if parts else []
        self.prior_text: str = getattr(parts[-1], "text", "") if parts else ""
        self.seq = next_seq
        self.index_map: dict[int, int] = {}
        self.next_free = self.output_index + 1
        self.message_index: int | None = None  # the continuation's output index of its message

    def rewrite(self, batch: list[StreamEvent], recovery: _Recovery) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in batch:
            etype = event.type
            if etype in _LIFECYCLE:
                continue
            if etype in _TERMINAL:
                event.sequence_number = self._next()
                out.append(event)  # completed by ``terminal`` once what precedes it was delivered
                break
            index = getattr(event, "output_index", None)
            if index is None:
                event.sequence_number = self._next()
                out.append(event)
                continue
            if etype == "response.output_item.added" and index not in self.index_map:
                item = event.item  # type: ignore[union-attr]
                if self.message_index is None and getattr(item, "type", None) == "message":
                    self.message_index = index
                    self.index_map[index] = self.output_index
                    continue  # the interrupted message is already open for the caller
                self.index_map[index] = self.next_free
                self.next_free += 1
            if index == self.message_index:
                mapped = self._message_event(event)
                if mapped is None:
                    continue
                event = mapped
            else:
                event.output_index = self.index_map.setdefault(index, index)  # type: ignore[union-attr]
            event.sequence_number = self._next()
            out.append(event)
        return out

    def _next(self) -> int:
        seq = self.seq
        self.seq += 1
        return seq

    def _message_event(self, event: Any) -> Any | None:
        etype = event.type
        if hasattr(event, "item_id"):
            event.item_id = self.item_id
        event.output_index = self.output_index
        c = getattr(event, "content_index", None)
        if c is not None:
            if c == 0 and self.part_open and etype == "response.content_part.added":
                return None  # the interrupted part is still open: keep appending to it
            event.content_index = self.content_index + c
            if c == 0 and etype == "response.output_text.done":
                event.text = self.prior_text + event.text
            elif c == 0 and etype == "response.content_part.done":
                part = event.part
                event.part = part.model_copy(update={"text": self.prior_text + getattr(part, "text", "")})
        if etype == "response.output_item.done":
            item = event.item
            content = list(getattr(item, "content", None) or [])
            if content:
                content[0] = content[0].model_copy(
                    update={"text": self.prior_text + getattr(content[0], "text", "")}
                )
            event.item = item.model_copy(
                update={"id": self.item_id, "content": [*self.prior_parts, *content]}
            )
        return event

    def terminal(self, event: Any, outer: EventStream | None, recoveries: list[dict[str, Any]]) -> Any:
        """The continuation's terminal event, carrying the whole spliced output.

        Called once every event before it reached the caller's accumulator, which then holds
        the partial message, the spliced deltas and any later items: exactly the output.
        """
        update: dict[str, Any] = {"id": self.partial.id, "created_at": self.partial.created_at}
        if outer is not None:
            update["output"] = outer.accumulator.output()
        response = event.response.model_copy(update=update)
        setattr(response, RECOVERY_FIELD, list(recoveries))
        event.response = response
        return event
