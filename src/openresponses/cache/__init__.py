"""Cache stores and embedders for :class:`~openresponses.middleware.SemanticCache`.

Stores (the :class:`CacheStore` protocol: get / put / search / delete / clear, async):

- :class:`MemoryStore`: this process; bounded (LRU), searched with numpy (the default).
- :class:`SQLiteStore`: a SQLite file, persistent across restarts, shared by one host's processes.
- :class:`RedisStore`: a Redis server shared by processes and hosts (the ``cache`` extra).

Embedders (the :class:`Embedder` protocol: ``name`` and async ``embed(texts)``):

- :class:`LexicalEmbedder`: built in, dependency-free, offline (words, not meaning).
- :class:`WordLlamaEmbedder`: the ``wordllama`` extra, offline (bundled weights).
- :class:`EndpointEmbedder`: an OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Ollama, TGI).
- :class:`CallableEmbedder`, or any function ``texts -> vectors``.

``RedisStore`` and ``EndpointEmbedder`` are imported on first use::

    from openresponses.cache import SQLiteStore, WordLlamaEmbedder
    from openresponses.middleware import SemanticCache

    cache = SemanticCache(SQLiteStore("cache.db"), WordLlamaEmbedder(), ttl=86_400)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._credential import credential_fingerprint
from ._base import CacheEntry, CacheError, CacheStore, Match
from ._embedders import CallableEmbedder, Embedder, WordLlamaEmbedder
from ._keys import last_user_message, normalise
from ._lexical import LexicalEmbedder
from ._replay import CACHE_FIELD
from .memory import MemoryStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from ..transports.embeddings import EndpointEmbedder
    from .redis import RedisStore

__all__ = [
    "CACHE_FIELD",
    "CacheEntry",
    "CacheError",
    "CacheStore",
    "CallableEmbedder",
    "Embedder",
    "EndpointEmbedder",
    "LexicalEmbedder",
    "Match",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "WordLlamaEmbedder",
    "credential_fingerprint",
    "last_user_message",
    "normalise",
]

_LAZY = {"RedisStore": ".redis", "EndpointEmbedder": "..transports.embeddings"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'openresponses.cache' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
