"""What a response store is: the :class:`ResponseStore` protocol, the :class:`StoredResponse` record,
:class:`StoreError`, and the sans-I/O conversion of a stored response into input items.

A record is self-contained: it holds the *whole* input history that produced the response (already
expanded from its own ``previous_response_id``), plus the response's output items as the server
returned them. Continuing from it needs one read, and an expired ancestor never breaks a chain that
is still alive; the price is that a chain of n turns stores O(n²) items in all (see docs/state.md).

Output items are kept as returned and converted to input item params only when a chain is
continued (:meth:`StoredResponse.history`), so the conversion can improve without migrating data.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._built import message_dict
from .._errors import OpenResponsesError

if TYPE_CHECKING:
    from ..types import Response

__all__ = [
    "Clock",
    "ResponseStore",
    "StoreError",
    "StoredResponse",
    "output_to_input",
    "validate_bounds",
    "wall_time",
]

#: Wall-clock seconds (``time.time``): expiries are compared across processes sharing one file.
Clock = Callable[[], float]

_FORMAT = 1  # the version of the JSON form written by StoredResponse.to_json
_ITEM_STATUSES = frozenset({"in_progress", "completed", "incomplete"})


class StoreError(OpenResponsesError):
    """A response store failed (unreachable Redis, unreadable SQLite file, corrupt record).

    Derives from ``OpenResponsesError`` directly, so ``Retry`` does not repeat the call: the
    store, not the provider, is at fault, and retrying the model would not fix it. ``store``
    names the backend (``memory``, ``sqlite``, ``redis``), ``operation`` what failed (``get``,
    ``put``, ``delete``, ``open``); the cause is ``__cause__``. Messages never contain a
    password from a store URL.
    """

    retryable = False

    def __init__(self, message: str, *, store: str, operation: str) -> None:
        super().__init__(message)
        self.store = store
        self.operation = operation


def _item_dict(item: Any) -> dict[str, Any]:
    """``item.to_dict()``; the plain text message (the commonest output) without pydantic's
    serializer, which was a third of a store write (``_built.message_dict``)."""
    plain = message_dict(item)
    if plain is not None:
        return plain
    found: dict[str, Any] = item.to_dict()
    return found


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One stored response: what a later ``previous_response_id`` expands to.

    ``input`` is the full input history that produced the response (JSON item params, in order);
    ``output`` its output items (JSON, as the server returned them). ``expires_at`` is a Unix
    time set by the store from its ``ttl`` (``None``: kept until evicted). Treat the dicts as
    read-only: stores may hand out the same objects to every reader.
    """

    id: str
    model: str | None
    created_at: int
    status: str
    input: tuple[dict[str, Any], ...]
    output: tuple[dict[str, Any], ...]
    previous_response_id: str | None = None
    expires_at: float | None = None

    @classmethod
    def from_response(cls, response: Response, input: Sequence[Mapping[str, Any]]) -> StoredResponse:
        """The record of ``response``, produced by the (expanded) ``input`` items."""
        return cls(
            id=response.id,
            model=response.model,
            created_at=response.created_at,
            status=response.status,
            input=tuple(dict(item) for item in input),
            output=tuple(_item_dict(item) for item in response.output),
            previous_response_id=response.previous_response_id,
        )

    def history(self) -> list[dict[str, Any]]:
        """The context a continuation starts from: previous input, then previous output as input.

        The order is the spec's (README §8, RULES R87-R89): previous input → previous output →
        new input (the caller appends the new input).
        """
        items = [dict(item) for item in self.input]
        for item in self.output:
            converted = output_to_input(item)
            if converted is not None:
                items.append(converted)
        return items

    def expired(self, now: float) -> bool:
        """Whether the record's TTL has passed at Unix time ``now``."""
        return self.expires_at is not None and self.expires_at <= now

    def with_expiry(self, ttl: float | None, now: float) -> StoredResponse:
        """A copy expiring ``ttl`` seconds after ``now`` (unchanged when ``ttl`` is ``None``)."""
        if ttl is None:
            return self
        # The constructor, not dataclasses.replace: ≈ 25k fewer instructions, on every store
        # write of the served proxy (a test pins that every field is carried over).
        return StoredResponse(
            self.id,
            self.model,
            self.created_at,
            self.status,
            self.input,
            self.output,
            self.previous_response_id,
            now + ttl,
        )

    def to_json(self) -> str:
        """The JSON form the SQLite and Redis stores write (versioned, compact)."""
        return json.dumps(
            {
                "v": _FORMAT,
                "id": self.id,
                "model": self.model,
                "created_at": self.created_at,
                "status": self.status,
                "previous_response_id": self.previous_response_id,
                "expires_at": self.expires_at,
                "input": list(self.input),
                "output": list(self.output),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> StoredResponse:
        """Parse :meth:`to_json` output. Raises ``ValueError`` naming what is wrong."""
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("a stored response must be a JSON object")
        if raw.get("v") != _FORMAT:
            raise ValueError(f"unknown stored response format {raw.get('v')!r} (expected {_FORMAT})")
        try:
            record = cls(
                id=raw["id"],
                model=raw["model"],
                created_at=raw["created_at"],
                status=raw["status"],
                input=tuple(raw["input"]),
                output=tuple(raw["output"]),
                previous_response_id=raw.get("previous_response_id"),
                expires_at=raw.get("expires_at"),
            )
        except KeyError as exc:
            raise ValueError(f"a stored response lacks {exc.args[0]!r}") from None
        if not isinstance(record.id, str) or not all(
            isinstance(item, dict) for item in (*record.input, *record.output)
        ):
            raise ValueError("a stored response has a malformed id or item")
        return record

    def __repr__(self) -> str:
        # Never the content: records hold whole conversations.
        return (
            f"StoredResponse(id={self.id!r}, model={self.model!r}, status={self.status!r}, "
            f"input={len(self.input)} items, output={len(self.output)} items, expires_at={self.expires_at!r})"
        )


@runtime_checkable
class ResponseStore(Protocol):
    """Where ``Stateful`` keeps responses: ``MemoryStore``, ``SQLiteStore``, ``RedisStore`` or yours.

    ``get`` returns ``None`` for an unknown or expired id and raises :class:`StoreError` when the
    backend fails; ``put`` stamps the store's TTL on the record and returns what it stored.
    Every method may be called from any task; ``aclose`` releases connections (a later call
    may reopen them).
    """

    async def get(self, response_id: str) -> StoredResponse | None:
        """The record for ``response_id``, or ``None`` if it is unknown or expired."""
        ...

    async def put(self, record: StoredResponse) -> StoredResponse:
        """Store ``record`` under ``record.id`` (replacing any previous one); returns it with its expiry."""
        ...

    async def delete(self, response_id: str) -> bool:
        """Forget ``response_id``; whether it was there."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads. Idempotent."""
        ...


def validate_bounds(name: str, ttl: float | None, max_entries: int | None) -> None:
    """Reject a TTL or size bound that makes no sense, naming the store and the value."""
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl) or ttl <= 0
    ):
        raise ValueError(f"{name}: ttl must be a positive number of seconds or None, not {ttl!r}")
    if max_entries is not None and (
        isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1
    ):
        raise ValueError(f"{name}: max_entries must be an integer >= 1 or None, not {max_entries!r}")


def wall_time() -> float:
    """The default clock of the stores: Unix time (``time.time``)."""
    return time.time()


# -- output items -> input item params ----------------------------------------------------------


def output_to_input(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """An output item (JSON) as the input item param that resends it; ``None`` to drop it.

    Messages become assistant message params (``output_text`` keeping url citations, without
    logprobs, which input parts do not accept; ``refusal``; ``phase`` kept, as the spec asks);
    reasoning keeps its ``summary`` and ``encrypted_content`` with ``content: null`` (raw
    reasoning may only be null on input); function calls, their outputs and compactions keep
    what their params accept. Unknown (extension) items are resent unchanged: the provider that
    produced them is the one that understands them.
    """
    kind = item.get("type")
    if kind == "message":
        return _message(item)
    if kind == "function_call":
        out = _pick(item, "call_id", "name", "arguments", "id")
        out["type"] = "function_call"
        if isinstance(item.get("encrypted_content"), str):
            # An adapter's carrier (Gemini's thought signature, a chat call's extra_content),
            # read back by it; native upstreams never get it (OpenResponsesDialect.encode).
            out["encrypted_content"] = item["encrypted_content"]
        return _with_status(out, item)
    if kind == "function_call_output":
        out = _pick(item, "call_id", "output", "id")
        out["type"] = "function_call_output"
        return _with_status(out, item)
    if kind == "reasoning":
        out = {"type": "reasoning", **_pick(item, "id")}
        out["summary"] = [
            {"type": "summary_text", "text": part.get("text", "")}
            for part in item.get("summary") or ()
            if isinstance(part, Mapping) and part.get("type") == "summary_text"
        ]
        out["content"] = None
        if item.get("encrypted_content") is not None:
            out["encrypted_content"] = item["encrypted_content"]
        return out
    if kind == "compaction":
        if not item.get("encrypted_content"):
            return None
        return {"type": "compaction", **_pick(item, "encrypted_content", "id")}
    return dict(item)


def _message(item: Mapping[str, Any]) -> dict[str, Any]:
    role = item.get("role", "assistant")
    if role != "assistant":
        # Not something a model emits; resent as the role's own message param.
        return {key: value for key, value in item.items() if key in ("type", "role", "content", "id")}
    content: list[dict[str, Any]] = []
    for part in item.get("content") or ():
        if not isinstance(part, Mapping):
            continue
        ptype = part.get("type")
        if ptype == "output_text":
            text_part: dict[str, Any] = {"type": "output_text", "text": part.get("text", "")}
            citations = [
                _pick(a, "type", "start_index", "end_index", "url", "title")
                for a in part.get("annotations") or ()
                if isinstance(a, Mapping) and a.get("type") == "url_citation"
            ]
            if citations:
                text_part["annotations"] = citations
            content.append(text_part)
        elif ptype == "refusal":
            content.append({"type": "refusal", "refusal": part.get("refusal", "")})
        else:
            content.append(dict(part))  # an extension part: resent unchanged
    out: dict[str, Any] = {"type": "message", "role": "assistant", "content": content}
    out.update(_pick(item, "id", "phase"))
    if isinstance(item.get("status"), str):
        out["status"] = item["status"]
    return out


def _pick(item: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: item[key] for key in keys if item.get(key) is not None}


def _with_status(out: dict[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    # Input params accept only the standard statuses; a provider's own value is dropped.
    if item.get("status") in _ITEM_STATUSES:
        out["status"] = item["status"]
    return out
