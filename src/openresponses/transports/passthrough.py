"""Plain GET passthrough to an upstream (``GET {base_url}/models`` for the served proxy).

The proxy relays a few read-only endpoints as they are, rather than modelling them: the list of
models differs per provider and clients only read it. This module owns the one httpx call for
that, so httpx stays confined to ``transports/``. The upstream key is sent only in the request
header; the reply keeps only its status, content type and body (no upstream header reaches the
caller, so nothing like ``set-cookie`` or an echoed credential header leaks through), and the
key is replaced in the body if the upstream echoes it (an error body also loses anything shaped
like a credential).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .._errors import APIConnectionError, APITimeoutError, OpenResponsesError
from .._redact import Redactor, display_url, url_basic_token, url_password
from .._version import __version__
from ._logs import protect_http_logs
from ._url import check_url

__all__ = ["Passthrough", "PassthroughReply"]

#: A model list is small; anything past this is cut (and reported as a 502 by the proxy).
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PassthroughReply:
    """What the upstream answered: status, content type and body (at most ``MAX_BODY`` bytes)."""

    status: int
    content_type: str
    body: bytes
    truncated: bool = False


class Passthrough:
    """GETs paths under one upstream's ``base_url`` with its key; one connection pool.

    ``api_key`` is sent as ``Authorization: Bearer`` and never appears in a repr or an error.

    ::

        models = Passthrough("http://localhost:11434/v1")
        reply = await models.get("/models")   # PassthroughReply(status=200, ...)
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        provider: str = "default",
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"Passthrough timeout must be > 0 seconds, got {timeout!r}")
        self._base_url = check_url(base_url, key=f"base_url of provider {provider!r}")
        #: The base URL as shown (a userinfo password replaced).
        self.base_url = display_url(self._base_url)
        self.provider = provider
        self._api_key = api_key
        self._redactor = Redactor([api_key, url_password(self._base_url), url_basic_token(self._base_url)])
        protect_http_logs(self._redactor)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0))

    def __repr__(self) -> str:
        return f"Passthrough(provider={self.provider!r}, base_url={self.base_url!r})"

    async def get(self, path: str) -> PassthroughReply:
        """``GET {base_url}{path}``; raises ``APIConnectionError`` / ``APITimeoutError`` when no reply."""
        headers = {"accept": "application/json", "user-agent": f"openresponses-python/{__version__}"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        url = self._base_url + "/" + path.lstrip("/")
        failure: OpenResponsesError | None = None
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BODY:
                        truncated = True
                        break
                body = b"".join(chunks)[:MAX_BODY]
                content_type = response.headers.get("content-type", "application/octet-stream")
                status = response.status_code
        except httpx.TimeoutException as exc:
            failure = APITimeoutError("read", provider=self.provider)
            failure.__cause__ = self._redactor.exception(exc)
        except httpx.HTTPError as exc:
            # The message names the exception type only: httpx messages can carry the URL, and a
            # URL may carry credentials (``https://user:pass@host``).
            failure = APIConnectionError(
                f"Connection error: {type(exc).__name__} reaching {self.provider!r}", provider=self.provider
            )
            failure.__cause__ = self._redactor.exception(exc)
        if failure is not None:
            raise failure  # outside the except block: only the redacted chain is attached
        # An echoed key never reaches the caller; an error body also loses credential-shaped text.
        body = self._redactor.message_bytes(body) if status >= 400 else self._redactor.bytes(body)
        return PassthroughReply(status, content_type, body, truncated)

    async def aclose(self) -> None:
        """Close the connection pool if this object created it."""
        if self._owns_client:
            await self._client.aclose()
