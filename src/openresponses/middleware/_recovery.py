"""Mid-stream recovery for ``Failover(midstream="restart" | "continue")``.

A stream that broke after events reached the caller cannot be retried invisibly. With
``restart`` the next provider answers from scratch after an ``openresponses:stream.restarted``
event (the caller discards what it showed); with ``continue`` the next provider is asked to
continue the partial text and its events are spliced into the interrupted message (same item
id, output index and content index). Every event the caller receives after a recovery is
renumbered by one :class:`~openresponses._emit.EventBuilder`, the library's only producer of
sequence numbers, so the stream keeps strictly increasing ``sequence_number`` values.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from .._decisions import Recovered
from .._emit import EventBuilder
from .._pipeline import Request
from .._streaming import EventStream
from ..types import Response, StreamEvent
from ..types.events import LIFECYCLE_EVENT_TYPES as _LIFECYCLE
from ..types.events import TERMINAL_EVENT_TYPES as _TERMINAL
from ._policy import decide, reason_of
from ._silence import Silence

if TYPE_CHECKING:
    from .failover import Failover

__all__ = ["CONTINUED_EVENT", "RECOVERY_FIELD", "RESTARTED_EVENT", "Recovery"]

#: Extension event emitted before a restarted stream: discard what was shown so far.
RESTARTED_EVENT = "openresponses:stream.restarted"
#: Extension event emitted where a continuation is spliced in: nothing to discard.
CONTINUED_EVENT = "openresponses:stream.continued"
#: Extension field on the final response listing each mid-stream recovery.
RECOVERY_FIELD = "openresponses:recovery"


class Recovery:
    """Feeds the caller's stream from the current provider; recovers when it breaks mid-way.

    Until the first recovery the caller's stream (``outer``) mirrors the first provider's
    accumulator, which already holds exactly the events passed on (plus, once it failed, the
    failure: ``response.failed``, which errors re-raised from here report as before); at the
    first recovery ``outer`` takes that accumulator over and feeds it from then on (a restart
    resets it, a continuation appends to the partial message)."""

    def __init__(
        self,
        failover: Failover,
        request: Request,
        stream: EventStream,
        index: int,
        silence: Silence | None = None,
    ) -> None:
        self.failover = failover
        self.request = request
        self.silence = silence  # the call's idle limit: bounds each recovery attempt too
        self.current = stream
        self.index = index
        # A weak reference: the caller's stream owns this Recovery (through its source
        # generator); a strong one back would make a dropped stream a reference cycle, left to
        # the cyclic GC (its connection held until a collection) instead of closed at once.
        self._outer: weakref.ref[EventStream] | None = None
        self.last_seq = -1
        # Numbers every event after the first recovery (None until then: events pass unchanged).
        self.builder: EventBuilder | None = None
        self.splice: _Splice | None = None
        self.since_start = 0  # events delivered from the current attempt (discarded on restart)
        self.recoveries: list[dict[str, Any]] = []

    @property
    def outer(self) -> EventStream | None:
        """The caller's stream (``None`` once it is gone)."""
        return None if self._outer is None else self._outer()

    @outer.setter
    def outer(self, stream: EventStream | None) -> None:
        self._outer = None if stream is None else weakref.ref(stream)

    async def run(self) -> AsyncIterator[list[StreamEvent]]:
        try:
            while True:
                try:
                    batch = await self.current.next_batch()
                except Exception as exc:
                    if not decide(exc).failover:  # e.g. a refusal mid-answer is the answer
                        raise
                    marker = await self.recover(exc)
                    yield [marker]
                    continue
                if not batch:
                    return
                if self.builder is None:
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
        builder = self.builder
        assert builder is not None
        if self.splice is not None:
            events = self.splice.rewrite(batch, builder)
        else:
            events = [builder.relay(event) for event in batch]
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

    async def recover(self, exc: Exception) -> StreamEvent:
        """Open the next provider after ``exc`` broke the stream; the marker event to deliver."""
        failover = self.failover
        request = self.request
        broken = self.current
        partial = broken.snapshot()
        await broken.aclose()
        mode: Literal["restart", "continue"] = "continue" if failover.midstream == "continue" else "restart"
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
            reply, index = await failover.open_from(retry_request, start, [], silence=self.silence)
        except Exception as open_exc:
            exc.add_note(f"openresponses.Failover: {mode} after a mid-stream failure failed: {open_exc}")
            raise exc from exc.__cause__
        if not isinstance(reply, EventStream):  # pragma: no cover - a stream request gets a stream
            raise exc
        to_name = failover.served_by(index, reply)
        reply.provider = to_name
        request.context.provider = to_name
        outer = self.outer
        if outer is not None:
            outer.provider = to_name
        discarded = self.since_start if mode == "restart" else 0
        request.context.record(Recovered(mode, from_name, to_name, discarded))
        seq = self.last_seq + 1
        builder = self.builder = EventBuilder(start_sequence=seq)
        self.recoveries.append(
            {"mode": mode, "from": from_name, "to": to_name, "reason": reason, "sequence_number": seq}
        )
        if mode == "restart":
            marker = builder.extension(
                RESTARTED_EVENT,
                **{"from": from_name, "to": to_name, "reason": reason},
                events_discarded=self.since_start,
            )
            self.splice = None
        else:
            assert partial is not None
            self.splice = _Splice(partial)
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
        if outer is not None and outer.mirroring:
            # The mirrored stream is gone: the caller's stream feeds its accumulator from now on.
            # A failure event it received (``response.failed``) never reached the caller.
            outer.own_accumulator()
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

    def __init__(self, partial: Response) -> None:
        self.partial = partial
        message = partial.output[-1]
        self.item_id: str = str(getattr(message, "id", ""))
        self.output_index = len(partial.output) - 1
        parts = list(getattr(message, "content", None) or [])
        self.part_open = bool(parts)
        self.content_index = len(parts) - 1 if parts else 0
        self.prior_parts = parts[:-1] if parts else []
        self.prior_text: str = getattr(parts[-1], "text", "") if parts else ""
        self.index_map: dict[int, int] = {}
        self.next_free = self.output_index + 1
        self.message_index: int | None = None  # the continuation's output index of its message

    def rewrite(self, batch: list[StreamEvent], builder: EventBuilder) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in batch:
            etype = event.type
            if etype in _LIFECYCLE:
                continue
            if etype in _TERMINAL:
                out.append(builder.relay(event))  # completed by ``terminal`` once the rest was delivered
                break
            index = getattr(event, "output_index", None)
            if index is None:
                out.append(builder.relay(event))
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
                if mapped is not None:
                    out.append(builder.relay(mapped))
            else:
                out.append(builder.relay(event, output_index=self.index_map.setdefault(index, index)))
        return out

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
