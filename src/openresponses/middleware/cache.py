"""``SemanticCache``: answer repeated and near-repeated requests from a cache, safely.

Two layers. *Exact*: the hash of the normalised request (see ``openresponses.cache._keys``).
*Semantic*: the embedding of the part that varies (the last user message) compared by cosine
similarity with the entries whose fixed part (model, instructions, earlier turns, tools,
format, sampling, namespace, embedder) is identical, served at or above ``threshold`` when the
numbers in both prompts agree.

Safety rules, each pinned by a test (docs/caching.md):

- entries are namespaced per credential fingerprint (or ``namespace=``), never shared across;
- only ``completed`` answers are stored: never failed, incomplete, errored, cancelled or
  abandoned streams, and not answers that call a tool unless ``cache_tool_calls=True``;
- a streaming miss reaches the caller live while it is recorded; a hit streams through the
  library's emitter with fresh ids and sequence numbers, deltas cut as recorded;
- a served answer carries ``openresponses:cache`` = ``{"layer", "similarity", "key"}``;
- a cache that fails (Redis down, embedder unreachable) is a miss, logged, never an error.

Per call: ``extra_headers={"x-openresponses-cache": "bypass" | "refresh"}`` (or
``Cache-Control: no-store`` / ``no-cache``); the header is not sent upstream.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal

from .._credential import credential_of
from .._decisions import CacheLookup
from .._errors import RequestValidationError
from .._pipeline import Handler, Reply, Request
from .._streaming import EventStream
from ..cache._base import CacheEntry, CacheStore, Clock, Match, unit, validate_bounds, wall_time
from ..cache._embedders import Embedder, as_embedder
from ..cache._keys import RequestKeys, Varying, last_user_message, no_substitution
from ..cache._replay import PlanRecorder, fresh_response, replay_events, stored_form
from ..cache.memory import DEFAULT_MAX_ENTRIES, MemoryStore
from ..types import CreateResponseBody, Response, StreamEvent

__all__ = ["CONTROL_HEADER", "DEFAULT_THRESHOLDS", "Guard", "SemanticCache", "default_threshold"]

logger = logging.getLogger("openresponses")

#: The per-call control header (``bypass`` or ``refresh``); never sent upstream.
CONTROL_HEADER = "x-openresponses-cache"
#: The default threshold of each built-in embedder, chosen from benchmarks/cache.py's
#: measurement (docs/caching.md): the lowest with no false hit on the hard negatives.
DEFAULT_THRESHOLDS: Mapping[str, float] = {"lexical": 0.8, "wordllama": 0.75}
_FALLBACK_THRESHOLD = 0.9
_ANONYMOUS = "anonymous"
Control = Literal["lookup", "bypass", "refresh"]
#: What a semantic hit needs besides similarity: ``words`` (no content word substituted, the
#: default), ``numbers`` (only the numbers must agree; they always must), or a function
#: ``(query, cached_prompt) -> bool``.
Guard = Literal["words", "numbers"] | Callable[[str, str], bool]


def default_threshold(embedder: Embedder) -> float:
    """The measured default threshold for ``embedder`` (0.9 for embedders not measured here)."""
    family = embedder.name.split("-", 1)[0]
    return DEFAULT_THRESHOLDS.get(family, _FALLBACK_THRESHOLD)


class SemanticCache:
    """Middleware: serve repeated and similar requests from a cache (see the module docstring).

    Every argument is optional. ``store``: a :class:`~openresponses.cache.CacheStore` (default a
    :class:`~openresponses.cache.MemoryStore` of ``max_entries``, LRU). ``embedder``: an
    :class:`~openresponses.cache.Embedder` or a function of a list of texts (default the
    built-in :class:`~openresponses.cache.LexicalEmbedder`); ``semantic=False`` keeps the exact
    layer only. ``threshold``: the cosine similarity a semantic hit needs (default: the
    embedder's measured one, :func:`default_threshold`). ``ttl``: seconds an entry lives
    (``None``: until evicted). ``namespace``: a fixed namespace (default: the fingerprint of the
    call's credential, so tenants never share). ``allow_sampled``: also cache requests with
    ``temperature > 0``. ``cache_tool_calls``: also store answers that call tools. ``varying``:
    how to split a request into the text to embed and the fixed part (default: the last user
    message). ``guard``: what a semantic hit needs besides similarity (see :data:`Guard`).
    ``pacing``: seconds between replayed deltas (default: all at once)::

        client = AsyncClient(base_url=url, middleware=[SemanticCache(ttl=3600), Retry()])
    """

    __slots__ = (
        "_clock",
        "allow_sampled",
        "cache_tool_calls",
        "embedder",
        "guard",
        "namespace",
        "pacing",
        "semantic",
        "store",
        "threshold",
        "ttl",
        "varying",
    )

    def __init__(
        self,
        store: CacheStore | None = None,
        embedder: Embedder | Callable[..., Any] | None = None,
        *,
        threshold: float | None = None,
        ttl: float | None = None,
        namespace: str | None = None,
        max_entries: int | None = None,
        semantic: bool = True,
        allow_sampled: bool = False,
        cache_tool_calls: bool = False,
        varying: Varying | None = None,
        guard: Guard = "words",
        pacing: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        validate_bounds("SemanticCache", ttl, max_entries)
        if store is not None and max_entries is not None:
            raise ValueError(
                "SemanticCache: max_entries sizes the default MemoryStore; bound your store itself"
            )
        if store is not None and not isinstance(store, CacheStore):
            raise TypeError(
                f"SemanticCache: store must implement CacheStore (get, put, search, delete, clear, "
                f"aclose), got {type(store).__name__}"
            )
        if namespace is not None and (not isinstance(namespace, str) or not namespace):
            raise ValueError(f"SemanticCache: namespace must be a non-empty string, not {namespace!r}")
        if pacing is not None and not (isinstance(pacing, int | float) and 0 <= pacing <= 10):
            raise ValueError(f"SemanticCache: pacing must be seconds between 0 and 10, not {pacing!r}")
        self.embedder: Embedder = as_embedder(embedder)
        if threshold is None:
            threshold = default_threshold(self.embedder)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 1:
            raise ValueError(f"SemanticCache: threshold must be in (0, 1], not {threshold!r}")
        self.store: CacheStore = (
            store if store is not None else MemoryStore(max_entries=max_entries or DEFAULT_MAX_ENTRIES)
        )
        self.threshold = float(threshold)
        self.ttl = ttl
        self.namespace = namespace
        self.semantic = semantic
        self.allow_sampled = allow_sampled
        self.cache_tool_calls = cache_tool_calls
        self.varying: Varying = varying or last_user_message
        if guard not in ("words", "numbers") and not callable(guard):
            raise ValueError(f"SemanticCache: guard must be 'words', 'numbers' or a function, not {guard!r}")
        self.guard: Guard = guard
        self.pacing = pacing
        self._clock: Clock = clock or wall_time

    def __repr__(self) -> str:
        return (
            f"SemanticCache(store={self.store!r}, embedder={self.embedder!r}, threshold={self.threshold}, "
            f"ttl={self.ttl}, semantic={self.semantic})"
        )

    async def aclose(self) -> None:
        """Close the store."""
        await self.store.aclose()

    async def invalidate(self, key: str | None = None, *, namespace: str | None = None) -> int:
        """Forget one entry (``key``, as in a response's ``openresponses:cache``), a whole
        ``namespace``, or (neither given) everything; returns how many entries went.

        ``namespace`` defaults to the cache's own (or ``"anonymous"``) for a key; a
        credential's namespace is ``openresponses.cache.credential_fingerprint(api_key)``.
        """
        if key is not None:
            space = namespace or self.namespace or _ANONYMOUS
            return int(await self.store.delete(space, key))
        return await self.store.clear(namespace)

    def namespace_for(self, request: Request, call_next: Handler | None = None) -> str:
        """The namespace ``request`` is cached in (explicit, else its credential's fingerprint)."""
        if self.namespace is not None:
            return self.namespace
        credential = request.credential
        if credential is None and call_next is not None:
            credential = credential_of(call_next)
        return credential or _ANONYMOUS

    # -- the call ---------------------------------------------------------------------------------

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        body = request.body
        if request.operation != "create" or not isinstance(body, CreateResponseBody):
            return await call_next(request)
        control, request = _control(request)
        namespace = self.namespace_for(request, call_next)
        tag = hashlib.sha256(namespace.encode()).hexdigest()[:12]
        reason = "header" if control == "bypass" else self._bypass_reason(body)
        if reason is not None:
            request.context.record(CacheLookup(False, status="BYPASS", namespace=tag, reason=reason))
            return await call_next(request)
        keys = RequestKeys.of(
            body, namespace, embedder=self.embedder.name if self.semantic else None, varying=self.varying
        )
        vector: Any = None
        if control == "lookup":
            entry = await self._get(namespace, keys.key)
            if entry is not None:
                return self._serve(request, entry, "exact", 1.0, tag)
            if keys.bucket is not None and keys.text is not None:
                vector = await self._embed(keys.text)
                match = await self._search(namespace, keys, vector)
                if match is not None:
                    return self._serve(request, match.entry, "semantic", match.similarity, tag)
        status = "REFRESH" if control == "refresh" else "MISS"
        request.context.record(CacheLookup(False, status=status, namespace=tag))
        reply = await call_next(request)
        saver = _Saver(self, namespace, keys, vector)
        if isinstance(reply, Response):
            if self._storable(reply):
                await saver.save(reply, None)
            return reply
        if isinstance(reply, EventStream):
            return EventStream(self._record(reply, saver), provider=reply.provider)
        return reply

    def _bypass_reason(self, body: CreateResponseBody) -> str | None:
        if body.previous_response_id is not None:
            return "previous_response_id"  # the answer depends on server-side state we cannot see
        if body.background:
            return "background"
        if (body.model_extra or {}).get("conversation") is not None:
            return "conversation"
        if not self.allow_sampled and body.temperature is not None and body.temperature > 0:
            return "sampled"
        return None

    def _storable(self, response: Response) -> bool:
        if response.status != "completed" or response.error is not None:
            return False
        # Replaying a tool call into another context would run the tool on the wrong grounds.
        return self.cache_tool_calls or not any(str(item.type).endswith("_call") for item in response.output)

    # -- lookups (a failing store or embedder is a miss) ----------------------------------------

    async def _get(self, namespace: str, key: str) -> CacheEntry | None:
        try:
            entry = await self.store.get(namespace, key)
        except Exception as exc:
            logger.warning(
                "openresponses.SemanticCache: lookup failed (%s: %s); a miss", type(exc).__name__, exc
            )
            return None
        # A store of your own may not check expiry: an expired answer is never served.
        return None if entry is None or entry.expired(self._clock()) else entry

    async def _embed(self, text: str) -> Any:
        try:
            vectors = await self.embedder.embed([text])
            return unit(vectors[0])
        except Exception as exc:
            logger.warning(
                "openresponses.SemanticCache: embedder %s failed (%s: %s); exact layer only",
                self.embedder.name,
                type(exc).__name__,
                exc,
            )
            return None

    async def _search(self, namespace: str, keys: RequestKeys, vector: Any) -> Match | None:
        if vector is None or keys.bucket is None:
            return None
        try:
            matches = await self.store.search(
                namespace, keys.bucket, vector, threshold=self.threshold, limit=4
            )
        except Exception as exc:
            logger.warning(
                "openresponses.SemanticCache: search failed (%s: %s); a miss", type(exc).__name__, exc
            )
            return None
        for match in matches:
            entry = match.entry
            if entry.expired(self._clock()):
                continue
            if entry.guard != keys.guard or entry.embedder != self.embedder.name:
                continue  # other numbers, or another embedder's vector space
            if self._guarded(keys.text or "", entry.prompt):
                return match
        return None

    def _guarded(self, query: str, cached: str | None) -> bool:
        if self.guard == "numbers":
            return True
        if cached is None:
            return False  # nothing to compare the words with: not a safe hit
        if self.guard == "words":
            return no_substitution(query, cached)
        assert callable(self.guard)
        try:
            return bool(self.guard(query, cached))
        except Exception:
            logger.exception("openresponses.SemanticCache: guard %r failed; not a hit", self.guard)
            return False

    # -- serving a hit ----------------------------------------------------------------------------

    def _serve(self, request: Request, entry: CacheEntry, layer: str, similarity: float, tag: str) -> Reply:
        response = fresh_response(entry.response, layer=layer, similarity=similarity, key=entry.key)
        request.context.record(
            CacheLookup(
                True,
                similarity=round(similarity, 6),
                layer=layer,
                status="HIT" if layer == "exact" else "SEMANTIC-HIT",
                namespace=tag,
            )
        )
        request.context.provider = "cache"
        if not request.stream:
            return response
        events = replay_events(response, entry.plan)
        return EventStream(_replay(events, self.pacing), provider="cache")

    # -- recording a miss -------------------------------------------------------------------------

    async def _record(self, inner: EventStream, saver: _Saver) -> AsyncIterator[list[StreamEvent]]:
        recorder = PlanRecorder()
        try:
            while True:
                batch = await inner.next_batch()
                if not batch:
                    return
                for event in batch:
                    recorder.feed(event)
                if batch[-1].type == "response.completed":  # a terminal is always last
                    final = inner.snapshot()
                    # Written before the terminal is handed over: a caller that saw the end can
                    # rely on the next identical call being a hit, in any process sharing the store.
                    if final is not None and self._storable(final):
                        await saver.save(final, recorder.plan)
                yield batch
        finally:
            await inner.aclose()


class _Saver:
    """Writes one miss's answer; a failing store or embedder is logged, never raised."""

    __slots__ = ("cache", "keys", "namespace", "vector")

    def __init__(self, cache: SemanticCache, namespace: str, keys: RequestKeys, vector: Any) -> None:
        self.cache = cache
        self.namespace = namespace
        self.keys = keys
        self.vector = vector

    async def save(self, response: Response, plan: dict[str, list[int]] | None) -> None:
        cache, keys = self.cache, self.keys
        vector = self.vector
        if vector is None and keys.text is not None and keys.bucket is not None:
            vector = await cache._embed(keys.text)  # a refresh, or the lookup's embedding failed
        entry = CacheEntry(
            namespace=self.namespace,
            key=keys.key,
            response=stored_form(response),
            bucket=keys.bucket if vector is not None and keys.bucket else "",
            vector=vector,
            prompt=keys.text,
            guard=keys.guard,
            plan=plan or None,
            embedder=cache.embedder.name if vector is not None else None,
        ).with_expiry(cache.ttl, cache._clock())
        try:
            await cache.store.put(entry)
        except Exception as exc:  # the answer is good: losing its cache entry must not lose it
            logger.warning(
                "openresponses.SemanticCache: could not store an answer (%s: %s)", type(exc).__name__, exc
            )


def _control(request: Request) -> tuple[Control, Request]:
    """The call's cache control, and the request without our header."""
    headers = request.headers
    if not headers:
        return "lookup", request
    control: Control = "lookup"
    ours = [name for name in headers if name.lower() == CONTROL_HEADER]
    for name in ours:
        value = headers[name].strip().lower()
        if value not in ("bypass", "refresh"):
            raise RequestValidationError(
                f"{CONTROL_HEADER} must be 'bypass' or 'refresh', got {value[:40]!r}",
                [{"loc": ["headers", CONTROL_HEADER], "msg": "expected bypass or refresh"}],
            )
        control = "bypass" if value == "bypass" else "refresh"
    if control == "lookup":
        for name, value in headers.items():
            if name.lower() == "cache-control":
                directives = {part.strip().lower() for part in value.split(",")}
                if "no-store" in directives:
                    control = "bypass"
                elif "no-cache" in directives:
                    control = "refresh"
    if ours:
        request = request.replace(headers={k: v for k, v in headers.items() if k not in ours})
    return control, request


async def _replay(events: list[StreamEvent], pacing: float | None) -> AsyncIterator[list[StreamEvent]]:
    if not pacing:
        yield events
        return
    batch: list[StreamEvent] = []
    for event in events:
        batch.append(event)
        if getattr(event, "delta", None) is not None:
            yield batch
            batch = []
            await asyncio.sleep(pacing)
    if batch:
        yield batch
