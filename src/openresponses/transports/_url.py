"""Checking a configured URL before anything is sent: a typed ``ConfigError``, never retried.

A ``base_url`` without a scheme (``localhost:8001/v1``) used to become a retryable connection
error on every call, and a malformed one (``http://[::1``) a raw ``httpx.InvalidURL``. Both are
configuration mistakes: they are raised once, at construction, naming the URL (its password
replaced) and what is wrong with it.
"""

from __future__ import annotations

import httpx

from .._errors import ConfigError
from .._redact import Redactor, display_url, url_password

__all__ = ["check_url"]

_SCHEMES = ("http", "https")


def check_url(url: object, *, key: str = "base_url", allow_query: bool = False) -> str:
    """``url`` stripped of surrounding whitespace and a trailing ``/``, or ``ConfigError``.

    It must be a string with an ``http`` or ``https`` scheme, a host, a port in 1..65535 if any,
    no whitespace, and (unless ``allow_query``) no query or fragment: a base URL has paths
    appended to it, so ``?api-version=...`` belongs in headers or ``extra_body``.
    """
    if not isinstance(url, str):
        raise ConfigError(
            f"must be a string URL such as 'https://api.example.com/v1', got {type(url).__name__}", key=key
        )
    text = url.strip()
    shown = display_url(text)
    if not text:
        raise ConfigError("is empty: pass a URL such as 'https://api.example.com/v1'", key=key)
    if any(ch.isspace() for ch in text):
        raise ConfigError(f"{shown!r} contains whitespace", key=key)
    if "://" not in text:
        raise ConfigError(f"{shown!r} has no scheme: write 'http://{shown}' or 'https://{shown}'", key=key)
    parsed: httpx.URL | None = None
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        reason = Redactor([url_password(text)]).message(display_url(str(exc)).replace(text, shown))
    if parsed is None:  # raised outside the except block: httpx's text stays out of __context__
        raise ConfigError(f"{shown!r} is not a valid URL ({reason})", key=key)
    if parsed.scheme not in _SCHEMES:
        raise ConfigError(
            f"{shown!r} has the unsupported scheme {parsed.scheme!r}: use http:// or https://", key=key
        )
    if not parsed.host:
        raise ConfigError(f"{shown!r} has no host", key=key)
    port = parsed.port
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"{shown!r} has the port {port}, outside 1..65535", key=key)
    if not allow_query and (parsed.query or parsed.fragment or "?" in text or "#" in text):
        raise ConfigError(
            f"{shown!r} has a query or fragment: a base URL gets paths appended, so it cannot carry one",
            key=key,
        )
    return text.rstrip("/") if not allow_query else text
