"""What a cache store is: the :class:`CacheStore` protocol, the :class:`CacheEntry` record, the
:class:`Match` a search returns, :class:`CacheError`, and the vector helpers every store shares.

An entry belongs to one *namespace* (a tenant: by default the fingerprint of the caller's
credential) and is found two ways: exactly, by ``key`` (the hash of the whole normalised
request), or semantically, by cosine similarity of its ``vector`` against the entries of the
same ``bucket`` (the hash of everything in the request except the part that varies). A store
never compares entries of different namespaces or buckets: that is what keeps one tenant's,
one system prompt's or one tool set's answers away from another's.

Vectors are unit length (:func:`unit`), so cosine similarity is a dot product. They travel as
little-endian float32 bytes (:func:`vector_bytes`) in the SQLite and Redis stores.
"""

from __future__ import annotations

import json
import math
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from .._errors import OpenResponsesError

__all__ = [
    "CacheEntry",
    "CacheError",
    "CacheStore",
    "Clock",
    "Match",
    "Vector",
    "unit",
    "validate_bounds",
    "vector_bytes",
    "vector_from_bytes",
    "wall_time",
]

#: A vector: any sequence of floats (a list, a tuple, a numpy array).
Vector = Sequence[float]
#: Wall-clock seconds (``time.time``): expiries are compared across processes sharing a store.
Clock = Callable[[], float]

_FORMAT = 1


class CacheError(OpenResponsesError):
    """A cache store or embedder failed (unreachable Redis, unreadable file, bad vectors).

    ``SemanticCache`` never lets one break a call: a failed lookup is a miss, a failed write is
    logged. ``store`` names the backend, ``operation`` what failed; the cause is ``__cause__``.
    Messages never contain a password from a store URL, nor any prompt or answer.
    """

    retryable = False

    def __init__(self, message: str, *, store: str, operation: str) -> None:
        super().__init__(message)
        self.store = store
        self.operation = operation


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached answer.

    ``response`` is the stored ``Response`` as JSON (its ids are replaced on every replay);
    ``vector`` the unit embedding of ``prompt`` (the varying text), ``None`` for an entry found
    only exactly; ``guard`` what must match besides similarity (the numbers in the prompt);
    ``plan`` the lengths of the deltas the answer streamed in (``"c:<output>:<part>"``,
    ``"s:<output>:<summary>"``, ``"a:<output>"``), so a replay streams them as recorded;
    ``embedder`` names the embedder of ``vector``. Times are Unix seconds.
    """

    namespace: str
    key: str
    response: dict[str, Any]
    bucket: str = ""
    vector: Vector | None = None
    prompt: str | None = None
    guard: str = ""
    plan: dict[str, list[int]] | None = None
    embedder: str | None = None
    created_at: float = field(default_factory=time.time)
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        """Whether the entry's TTL has passed at Unix time ``now``."""
        return self.expires_at is not None and self.expires_at <= now

    def with_expiry(self, ttl: float | None, now: float) -> CacheEntry:
        """A copy created at ``now``, expiring ``ttl`` seconds later (never, when ``None``)."""
        return replace(self, created_at=now, expires_at=None if ttl is None else now + ttl)

    def to_json(self) -> str:
        """Everything but the vector, as the SQLite and Redis stores write it (versioned)."""
        return json.dumps(
            {
                "v": _FORMAT,
                "namespace": self.namespace,
                "key": self.key,
                "bucket": self.bucket,
                "prompt": self.prompt,
                "guard": self.guard,
                "plan": self.plan,
                "embedder": self.embedder,
                "created_at": self.created_at,
                "expires_at": self.expires_at,
                "response": self.response,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str | bytes, vector: Vector | None = None) -> CacheEntry:
        """Parse :meth:`to_json` output (plus the vector stored beside it). ``ValueError`` if bad."""
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("v") != _FORMAT:
            raise ValueError(f"not a cache entry of format {_FORMAT}")
        try:
            entry = cls(
                namespace=raw["namespace"],
                key=raw["key"],
                response=raw["response"],
                bucket=raw.get("bucket") or "",
                vector=vector,
                prompt=raw.get("prompt"),
                guard=raw.get("guard") or "",
                plan=raw.get("plan"),
                embedder=raw.get("embedder"),
                created_at=float(raw["created_at"]),
                expires_at=raw.get("expires_at"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a cache entry lacks or mistypes {exc}") from None
        if not isinstance(entry.response, dict):
            raise ValueError("a cache entry's response must be a JSON object")
        return entry

    def __repr__(self) -> str:
        # Never the content: prompts and answers stay out of logs.
        return (
            f"CacheEntry(namespace={self.namespace[:16]!r}, key={self.key[:16]!r}, "
            f"semantic={self.vector is not None}, expires_at={self.expires_at!r})"
        )


@dataclass(frozen=True, slots=True)
class Match:
    """A search result: the entry and its cosine similarity to the query (``-1`` to ``1``)."""

    entry: CacheEntry
    similarity: float


@runtime_checkable
class CacheStore(Protocol):
    """Where ``SemanticCache`` keeps answers: ``MemoryStore``, ``SQLiteStore``, ``RedisStore`` or yours.

    ``get`` is the exact layer, ``search`` the semantic one: the best entries of ``bucket``
    (within ``namespace``) whose similarity to the unit ``vector`` is at least ``threshold``,
    best first, at most ``limit``. Expired entries are never returned. Backend failures raise
    :class:`CacheError`. ``clear`` drops a namespace (every namespace when ``None``) and says
    how many entries went. Every method may be called from any task of one event loop.
    """

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        """The entry stored under ``key`` in ``namespace``, or ``None``."""
        ...

    async def put(self, entry: CacheEntry) -> None:
        """Store ``entry`` (replacing any with its key in its namespace), evicting if full."""
        ...

    async def search(
        self, namespace: str, bucket: str, vector: Vector, *, threshold: float, limit: int = 4
    ) -> list[Match]:
        """The entries of ``bucket`` at least ``threshold`` similar to ``vector``, best first."""
        ...

    async def delete(self, namespace: str, key: str) -> bool:
        """Forget one entry; whether it was there."""
        ...

    async def clear(self, namespace: str | None = None) -> int:
        """Forget a namespace (or everything); how many entries went."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads. Idempotent; a later call may reopen them."""
        ...


def unit(vector: Vector) -> Vector:
    """``vector`` scaled to length 1 (a zero vector stays zero: it matches nothing).

    A float32 numpy array when numpy is installed, else a list.
    """
    from ._index import numpy_or_none

    np = numpy_or_none()
    if np is not None:
        array = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(array))
        if not math.isfinite(norm):
            raise ValueError("the vector has a non-finite component")
        result: Vector = array / norm if norm else array
        return result
    values = [float(x) for x in vector]
    norm = math.sqrt(math.fsum(x * x for x in values))
    if not math.isfinite(norm):
        raise ValueError("the vector has a non-finite component")
    if norm == 0.0:
        return values
    return [x / norm for x in values]


def vector_bytes(vector: Vector) -> bytes:
    """``vector`` as little-endian float32 bytes."""
    astype = getattr(vector, "astype", None)
    if astype is not None:  # a numpy array: one copy, no per-element boxing
        data: bytes = astype("<f4").tobytes()
        return data
    return struct.pack(f"<{len(vector)}f", *vector)


def vector_from_bytes(data: bytes) -> list[float]:
    """The inverse of :func:`vector_bytes`."""
    if len(data) % 4:
        raise ValueError("a stored vector is not a whole number of float32 values")
    return list(struct.unpack(f"<{len(data) // 4}f", data))


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
