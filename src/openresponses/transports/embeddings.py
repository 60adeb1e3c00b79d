"""``EndpointEmbedder``: embeddings from an OpenAI-compatible ``POST /embeddings`` endpoint.

OpenAI, Ollama (``http://localhost:11434/v1``), Hugging Face TGI / TEI, vLLM and LM Studio all
speak it: ``{"model": ..., "input": [texts]}`` in, ``{"data": [{"index", "embedding"}]}`` out.
This module owns the httpx call (httpx stays under ``transports/``). The key is sent only in
the ``Authorization`` header and never appears in a repr or an error (errors go through the
same redactor as the HTTP transport's). A failure raises a typed error
(:class:`~openresponses.APIStatusError`, :class:`~openresponses.APIConnectionError`,
:class:`~openresponses.ProtocolError`); ``SemanticCache`` treats it as "exact layer only".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from .._errors import APIConnectionError, APITimeoutError, ConfigError, ProtocolError
from .._redact import Redactor
from .._version import __version__
from ._reply import status_error_from_body
from ._url import check_url

__all__ = ["EndpointEmbedder"]

_MAX_BODY = 64 * 1024 * 1024


class EndpointEmbedder:
    """An :class:`~openresponses.cache.Embedder` calling ``{base_url}/embeddings``.

    ``base_url`` includes the version prefix (``https://api.openai.com/v1``); ``model`` names the
    embedding model; ``api_key`` or ``api_key_env`` the key (optional for local servers);
    ``dimensions`` asks for shorter vectors where supported; ``timeout`` bounds each call::

        embedder = EndpointEmbedder("http://localhost:11434/v1", model="nomic-embed-text")
        cache = SemanticCache(embedder=embedder, threshold=0.9)
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        api_key_env: str | None = None,
        dimensions: int | None = None,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not model or not isinstance(model, str):
            raise ConfigError("EndpointEmbedder needs the embedding model's name", key="model")
        if api_key is not None and api_key_env is not None:
            raise ConfigError("pass api_key or api_key_env, not both", key="api_key")
        if api_key_env is not None:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                raise ConfigError(f"environment variable {api_key_env} is not set", key="api_key_env")
        if dimensions is not None and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
        ):
            raise ConfigError(f"must be a positive integer, got {dimensions!r}", key="dimensions")
        if not timeout > 0:
            raise ConfigError(f"must be > 0 seconds, got {timeout!r}", key="timeout")
        self._base_url = check_url(base_url, key="base_url of EndpointEmbedder")
        self.model = model
        self.dimensions = dimensions
        self._headers = {
            "user-agent": f"openresponses-python/{__version__}",
            "content-type": "application/json",
            **(dict(headers) if headers else {}),
        }
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._redactor = Redactor([api_key]).with_headers(self._headers)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    @property
    def name(self) -> str:
        """The vector space: the model and its dimensions (not the host: the same model gives the
        same vectors wherever it is served)."""
        return f"endpoint-{self.model}-{self.dimensions or 'default'}"

    def __repr__(self) -> str:
        return f"EndpointEmbedder(model={self.model!r}, dimensions={self.dimensions})"

    async def aclose(self) -> None:
        """Close the connection pool if this embedder created it."""
        if self._owns_client:
            await self._client.aclose()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in input order."""
        payload: dict[str, Any] = {"model": self.model, "input": list(texts)}
        if self.dimensions is not None:
            payload["dimensions"] = self.dimensions
        provider = f"embeddings:{self.model}"
        failure: Exception | None = None
        try:
            response = await self._client.post(
                self._base_url + "/embeddings", content=json.dumps(payload).encode(), headers=self._headers
            )
        except httpx.TimeoutException as exc:
            failure = APITimeoutError("read", provider=provider)
            failure.__cause__ = self._redactor.exception(exc)
        except httpx.HTTPError as exc:
            failure = APIConnectionError(
                f"Embeddings endpoint: {type(exc).__name__}: {exc}", provider=provider
            )
            failure.__cause__ = self._redactor.exception(exc)
        if failure is not None:
            raise self._redactor.exception(failure)
        body = response.content[:_MAX_BODY]
        if response.status_code >= 300:
            raise self._redactor.exception(
                status_error_from_body(response.status_code, body, response.headers, provider=provider)
            )
        return self._vectors(body, len(texts))

    def _vectors(self, body: bytes, expected: int) -> list[list[float]]:
        try:
            data = json.loads(body)
            rows = sorted(data["data"], key=lambda row: row.get("index", 0))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProtocolError(
                f"The embeddings endpoint answered without data[].embedding ({type(exc).__name__})",
                data=body[:200],
            ) from None
        if len(vectors) != expected:
            raise ProtocolError(
                f"The embeddings endpoint returned {len(vectors)} vectors for {expected} texts"
            )
        return vectors
