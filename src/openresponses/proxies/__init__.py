"""The served proxy: Open Responses to clients, any provider upstream (``openresponses proxy``).

``openresponses proxy --preset ollama`` serves ``POST /v1/responses`` on 127.0.0.1:8003 and
speaks Chat Completions to Ollama; ``--preset openai`` passes the native Responses API through
with the library's retries, timeouts, state and tracing in between. See docs/proxy.md.

In a program, build the app yourself and serve it with any ASGI server::

    from openresponses.proxies import ProxySettings, create_app_from_settings

    app = create_app_from_settings(ProxySettings(preset="ollama", model="qwen3:8b"))

The presets and settings need only the core; the app needs the ``proxy`` extra (Starlette and
uvicorn), imported on first use so a missing extra fails with one clear line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .presets import PRESETS, Preset, get_preset
from .settings import ProxySettings, StoreSpec, parse_store

if TYPE_CHECKING:
    from ._protocol import http_protocol
    from .app import create_app, create_app_from_env, create_app_from_settings
    from .compaction import SummaryCompaction
    from .upstream import Upstream, build_upstream

__all__ = [
    "PRESETS",
    "Preset",
    "ProxySettings",
    "StoreSpec",
    "SummaryCompaction",
    "Upstream",
    "build_upstream",
    "create_app",
    "create_app_from_env",
    "create_app_from_settings",
    "get_preset",
    "http_protocol",
    "parse_store",
]

_LAZY = {
    "create_app": "app",
    "create_app_from_env": "app",
    "create_app_from_settings": "app",
    "Upstream": "upstream",
    "build_upstream": "upstream",
    "SummaryCompaction": "compaction",
    "http_protocol": "_protocol",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'openresponses.proxies' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    except ImportError as exc:
        if exc.name not in ("starlette", "anyio", "uvicorn") and "starlette" not in str(exc):
            raise
        raise ImportError(
            f"the served proxy needs Starlette: pip install 'openresponses-python[proxy]' ({exc})"
        ) from exc
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
