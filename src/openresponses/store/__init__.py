"""Response stores: where ``Stateful`` keeps responses, so ``previous_response_id`` works anywhere.

- :class:`MemoryStore`: this process only; bounded LRU and TTL (the default).
- :class:`SQLiteStore`: a SQLite file shared by the processes of one host (stdlib, WAL).
- :class:`RedisStore`: a Redis server shared by a fleet (the ``store`` extra).

Any object with the :class:`ResponseStore` methods works too. ``RedisStore`` is imported on first
use, so redis is needed only by those who use it::

    from openresponses.middleware import Stateful
    from openresponses.store import SQLiteStore

    client = AsyncClient(base_url=url, middleware=[Stateful(SQLiteStore("responses.db", ttl=86_400))])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._base import ResponseStore, StoredResponse, StoreError, output_to_input
from .memory import MemoryStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .redis import RedisStore

__all__ = [
    "MemoryStore",
    "RedisStore",
    "ResponseStore",
    "SQLiteStore",
    "StoreError",
    "StoredResponse",
    "output_to_input",
]


def __getattr__(name: str) -> Any:
    if name != "RedisStore":
        raise AttributeError(f"module 'openresponses.store' has no attribute {name!r}")
    value = importlib.import_module(".redis", __name__).RedisStore
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
