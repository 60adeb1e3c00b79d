"""Plain GET passthrough to an upstream (``GET {base_url}/models`` for the served proxy).

The proxy relays a few read-only endpoints as they are, rather than modelling them: the list of
models differs per provider and clients only read it. This module owns the one httpx call for
that, so httpx stays confined to ``transports/``. The upstream key is sent only in the request
header; the reply keeps only its status, content type and body (no upstream header reaches the
caller, so nothing like ``set-cookie`` or an echoed credential header leaks through).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .._errors import APIConnectionError, APITimeoutError
from .._version import __version__

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
        self.base_url = base_url.rstrip("/")
        self.provider = provider
        self._api_key = api_key
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0))

    def __repr__(self) -> str:
        return f"Passthrough(provider={self.provider!r}, base_url={self.base_url!r})"

    async def get(self, path: str) -> PassthroughReply:
        """``GET {base_url}{path}``; raises ``APIConnectionError`` / ``APITimeoutError`` when no reply."""
        headers = {"accept": "application/json", "user-agent": f"openresponses-python/{__version__}"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        url = self.base_url + "/" + path.lstrip("/")
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
                return PassthroughReply(response.status_code, content_type, body, truncated)
        except httpx.TimeoutException as exc:
            raise APITimeoutError("read", provider=self.provider) from exc
        except httpx.HTTPError as exc:
            # The message names the exception type only: httpx messages can carry the URL, and a
            # URL may carry credentials (``https://user:pass@host``).
            raise APIConnectionError(
                f"Connection error: {type(exc).__name__} reaching {self.provider!r}", provider=self.provider
            ) from exc

    async def aclose(self) -> None:
        """Close the connection pool if this object created it."""
        if self._owns_client:
            await self._client.aclose()
