"""What kind of httpx object a caller passed: the client checks without importing httpx itself.

httpx is imported only under ``transports/`` (one import site keeps a switch of HTTP library
local), so the client asks here whether ``http_client=`` is an async or a sync httpx client and
whether a ``timeout=`` is an ``httpx.Timeout``.
"""

from __future__ import annotations

from typing import Literal

import httpx

__all__ = ["http_client_kind", "is_httpx_timeout"]


def http_client_kind(value: object) -> Literal["async", "sync", "other"]:
    """``async`` for an ``httpx.AsyncClient``, ``sync`` for an ``httpx.Client``, else ``other``."""
    if isinstance(value, httpx.AsyncClient):
        return "async"
    if isinstance(value, httpx.Client):
        return "sync"
    return "other"


def is_httpx_timeout(value: object) -> bool:
    """Whether ``value`` is an ``httpx.Timeout``."""
    return isinstance(value, httpx.Timeout)
