"""Vertex AI OAuth: a fresh bearer token per request, from google-auth or an injected provider.

:class:`VertexAuth` hands the HTTP transport an ``Authorization: Bearer`` header through the
dialect's ``sign``. With no token provider it loads Application Default Credentials
(``google.auth.default``: ``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth
application-default login``, the metadata server on GCP) on first use, and refreshes them when
they are missing or about to expire. Loading and refreshing block (file reads, an HTTP call to
the token endpoint), so they run in a worker thread; a ``threading.Lock`` makes concurrent
requests wait for one refresh rather than start ten (the lock is never held across an
``await``, so every event loop and the sync client's background loop can share one instance).
The valid-token fast path costs no thread hop.

google-auth is the ``vertex`` extra, imported only here and only when no provider is injected.
Tokens and credentials never reach a repr, a log record or an error message.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio.to_thread

from .._errors import APIConnectionError, ConfigError
from .._extras import requires

__all__ = ["CLOUD_PLATFORM_SCOPE", "TokenProvider", "VertexAuth"]

#: The OAuth scope Vertex AI needs.
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

TokenProvider = Callable[[], "str | Awaitable[str]"]
"""A callable returning a current access token (sync or async): tests, custom token brokers."""


class VertexAuth:
    """Bearer tokens for Vertex AI: ``credentials`` (a google-auth ``Credentials``), a
    ``token_provider``, or, with neither, Application Default Credentials loaded on first use."""

    __slots__ = ("_credentials", "_lock", "_provider", "_scopes")

    def __init__(
        self,
        *,
        credentials: Any = None,
        token_provider: TokenProvider | None = None,
        scopes: Sequence[str] = (CLOUD_PLATFORM_SCOPE,),
    ) -> None:
        if credentials is not None and token_provider is not None:
            raise ConfigError("pass credentials or token_provider, not both", key="credentials")
        if token_provider is not None and not callable(token_provider):
            raise ConfigError(
                "token_provider must be callable (returning an access token)", key="token_provider"
            )
        self._credentials = credentials
        self._provider = token_provider
        self._scopes = tuple(scopes)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        source = (
            "token_provider" if self._provider is not None else "credentials" if self._credentials else "ADC"
        )
        return f"VertexAuth({source})"

    async def headers(self) -> dict[str, str]:
        """The headers to add: ``authorization`` and, for user credentials with a quota
        project, ``x-goog-user-project``."""
        if self._provider is not None:
            token = self._provider()
            if inspect.isawaitable(token):
                token = await token
            return {"authorization": f"Bearer {_checked(token)}"}
        credentials = self._credentials
        if credentials is None or not getattr(credentials, "valid", False):
            credentials = await anyio.to_thread.run_sync(self._refresh)
        headers = {"authorization": f"Bearer {_checked(credentials.token)}"}
        quota = getattr(credentials, "quota_project_id", None)
        if isinstance(quota, str) and quota:
            headers["x-goog-user-project"] = quota
        return headers

    def _refresh(self) -> Any:
        """Load (first use) and refresh the credentials; blocking, so run in a worker thread."""
        with self._lock:
            with requires("Vertex AI authentication", "vertex"):
                import google.auth
                import google.auth.exceptions
                import google.auth.transport.requests
            credentials = self._credentials
            try:
                if credentials is None:
                    credentials, _project = google.auth.default(scopes=list(self._scopes))
                    self._credentials = credentials
                if not getattr(credentials, "valid", False):  # another thread may have refreshed it
                    credentials.refresh(google.auth.transport.requests.Request())
            except google.auth.exceptions.DefaultCredentialsError as exc:
                raise ConfigError(
                    f"no Google credentials found for Vertex AI ({type(exc).__name__}); run "
                    "'gcloud auth application-default login' or set GOOGLE_APPLICATION_CREDENTIALS",
                    key="credentials",
                ) from None
            except google.auth.exceptions.TransportError as exc:
                # The token endpoint was unreachable: worth retrying. Its text is not repeated.
                raise APIConnectionError(
                    f"Vertex AI token refresh failed ({type(exc).__name__})", provider="vertex"
                ) from None
            except google.auth.exceptions.GoogleAuthError as exc:
                # Rejected credentials (revoked key, wrong scopes): a configuration problem.
                raise ConfigError(
                    f"Vertex AI credentials could not be refreshed ({type(exc).__name__})", key="credentials"
                ) from None
            return credentials


def _checked(token: Any) -> str:
    if not isinstance(token, str) or not token or not all(" " < ch <= "~" for ch in token):
        raise ConfigError("the Vertex AI access token is empty or not printable ASCII", key="credentials")
    return token
