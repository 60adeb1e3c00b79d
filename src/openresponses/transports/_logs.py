"""Keeping credentials out of httpx's and httpcore's own log records.

httpx logs every request at INFO (``HTTP Request: POST https://user:pass@host/... "HTTP/1.1 401
<reason>"``) and httpcore logs the raw status line and response headers at DEBUG, before the
transport sees the reply: a server that echoes the key in its reason phrase or a header, or a
base URL with a password, would put the secret into the application's logs. So the first
``HTTPTransport`` adds one :class:`logging.Filter` to those loggers: each record they emit is
formatted once and passed through the shared redactor (every secret a live transport holds, plus
the credential patterns). The filter only runs for records a logger has already decided to emit,
so it costs nothing while those loggers are quiet (the default).
"""

from __future__ import annotations

import logging
import threading

from .._redact import Redactor

__all__ = ["protect_http_logs"]

# httpcore logs to a logger per module (filters are not inherited by child loggers).
_LOGGERS = (
    "httpx",
    "httpx._client",
    "httpcore",
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
#: Past this many distinct secrets, older ones are kept only by the patterns (bounded memory).
_MAX_SECRETS = 256


class _RedactingFilter(logging.Filter):
    """Rewrites a record's message with every known secret and credential pattern replaced."""

    def __init__(self) -> None:
        super().__init__("openresponses.redact")
        self.redactor = Redactor()
        self._lock = threading.Lock()

    def add(self, redactor: Redactor) -> None:
        known = self.redactor.secrets
        if all(secret in known for secret in redactor.secrets):
            return  # the common case: the same transport's secrets again
        with self._lock:
            merged = [*redactor.secrets, *(s for s in self.redactor.secrets if s not in redactor.secrets)]
            self.redactor = Redactor(merged[: _MAX_SECRETS * 2])

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business, not ours
            return True
        cleaned = self.redactor.message(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_FILTER = _RedactingFilter()
_installed = False
_install_lock = threading.Lock()


def protect_http_logs(redactor: Redactor) -> None:
    """Make sure the httpx and httpcore loggers redact, and add ``redactor``'s secrets."""
    global _installed
    if redactor:
        _FILTER.add(redactor)
    if _installed:
        return
    with _install_lock:
        if not _installed:
            for name in _LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
            _installed = True
