"""The HTTP transport (``transports/`` is the only package outside tests that imports httpx).

It owns the connection pool, the credentials and the timeouts; a :class:`Dialect` owns the bytes
(path, body, stream decoding, error bodies), so one transport speaks Open Responses natively
(the default) or any other API family through a translating dialect (Chat Completions, ...).
httpx failures map to the typed errors where they are born; a streamed body goes through the
shared :func:`event_batches` loop, every event of a network chunk in one batch.

Every error and every failure event leaves this module through one :class:`~openresponses._redact.Redactor`
built from the credentials the transport holds and sends (the key, authorization-like headers,
a URL password) plus credential-shaped patterns: a server that echoes the key it rejected does
not put it into a message, a note, ``.body``, a cause chain, a log record or a span.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Literal, cast

import httpx

from .._errors import (
    APIStatusError,
    ConfigError,
    OpenResponsesError,
    ProtocolError,
    RequestValidationError,
)
from .._pipeline import Reply, Request, Target
from .._redact import Redactor, display_url, url_basic_token, url_password
from .._streaming import EventStream
from .._validate import check_headers
from .._version import __version__
from ..types import Response
from ._dialect import (
    Dialect,
    HasRequestIdHeaders,
    HasStreamContentType,
    OpenResponsesDialect,
    SigningDialect,
    VendorDialect,
)
from ._http_io import MAX_ERROR_BODY, RedactingDecoder, connection_error, read_capped, stream_batches

if TYPE_CHECKING:
    from ._http_io import WholeReply
from ._logs import protect_http_logs
from ._reply import MAX_RETRY_AFTER, parse_retry_after
from ._url import check_url

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "HTTP_BACKENDS",
    "MAX_RETRY_AFTER",
    "HTTPBackend",
    "HTTPTransport",
    "parse_retry_after",
]

HTTPBackend = Literal["httpx", "aiohttp", "httptools"]
#: The HTTP clients a transport can send through (``http_backend=``): httpx's own pool, aiohttp,
#: or this library's HTTP/1.1 connections over httptools (llhttp), the leanest.
HTTP_BACKENDS: tuple[HTTPBackend, ...] = ("httpx", "aiohttp", "httptools")

#: Connect quickly, but let a long stream run: ``read`` bounds the gap between two chunks.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)
#: One connection per concurrent stream, as openai-python: up to 1,000 at once, 100 kept idle for
#: 30 s. (httpx's own default of 100 made 500 concurrent streams queue for seconds.)
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=30.0)


class HTTPTransport:
    """Talks Open Responses over HTTP to one upstream.

    ``base_url`` includes the version prefix (``http://host:8001/v1``); a URL without an
    ``http``/``https`` scheme, host or valid port is a :class:`~openresponses.ConfigError` here,
    at construction (never a retried connection error). The API key is kept out of every repr,
    log and error message, even when the server echoes it. ``limits`` sizes the connection pool
    (default :data:`DEFAULT_LIMITS`: 1,000 connections, one per concurrent stream). Pass
    ``http_client`` to share a pool or add your own httpx transport (e.g.
    ``httpx.MockTransport`` in unit tests); it is then yours to close and to size.

    ``http_backend="aiohttp"`` (the ``aiohttp`` extra) sends through aiohttp instead of httpx's
    own pool, ``http_backend="httptools"`` (the ``httptools`` extra) through this library's own
    HTTP/1.1 connections over llhttp: the same requests, errors and streams at a fraction of the
    CPU per request (httptools is the proxy's default; docs/client.md "HTTP backends" says what
    differs).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        provider: str = "default",
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        dialect: Dialect | None = None,
        limits: httpx.Limits | None = None,
        http_backend: HTTPBackend = "httpx",
    ) -> None:
        self._base_url = check_url(base_url, key=f"base_url of provider {provider!r}")
        self._dialect: Dialect = dialect if dialect is not None else OpenResponsesDialect()
        self._api_key = _check_key(api_key)
        vendor = self._dialect.gen_ai_provider_name if isinstance(self._dialect, VendorDialect) else None
        # The dialect's optional abilities, looked up once: a runtime-checkable Protocol's
        # isinstance costs about 7 µs, twice per request otherwise.
        self._signing = isinstance(self._dialect, SigningDialect)
        self._stream_type = (
            self._dialect.stream_content_type
            if isinstance(self._dialect, HasStreamContentType)
            else "text/event-stream"
        )
        self._id_headers: tuple[str, ...] = (
            *(self._dialect.request_id_headers if isinstance(self._dialect, HasRequestIdHeaders) else ()),
            "x-request-id",
        )
        self._target = Target(provider=provider, base_url=display_url(self._base_url), system=vendor)
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        try:
            own = check_headers(headers, "headers")  # a CR or LF would start a header of its own
        except RequestValidationError as exc:
            where, message = exc.errors[0]["loc"][0], exc.errors[0]["msg"]
            raise ConfigError(message, key=where) from None
        self._headers = {"user-agent": f"openresponses-python/{__version__}", **own}
        if limits is not None and http_client is not None:
            raise ConfigError(
                "limits= sizes the pool the transport creates; with http_client= set the limits on "
                "your httpx.AsyncClient instead",
                key="limits",
            )
        if limits is not None and not isinstance(limits, httpx.Limits):
            raise ConfigError(f"must be an httpx.Limits, got {type(limits).__name__}", key="limits")
        auth = dict(self._dialect.auth_headers(self._api_key)) if self._api_key else {}
        self._redactor = (
            Redactor([self._api_key, url_password(self._base_url), url_basic_token(self._base_url)])
            .with_headers(self._headers)
            .with_headers(auth)
        )
        protect_http_logs(self._redactor)  # httpx/httpcore log status lines and URLs themselves
        if http_backend not in HTTP_BACKENDS:
            raise ConfigError(
                f"unknown HTTP backend {http_backend!r}; expected one of {', '.join(HTTP_BACKENDS)}",
                key="http_backend",
            )
        if http_backend != "httpx" and http_client is not None:
            raise ConfigError(
                "http_backend= picks the pool the transport creates; it cannot apply to your own "
                "http_client=",
                key="http_backend",
            )
        self._owns_client = http_client is None
        self._http_backend: HTTPBackend = http_backend
        # The aiohttp and httptools backends are called as httpx transports directly: httpx's
        # client layer (auth flows, redirects, cookies, event hooks) is nothing this transport
        # uses, and it is a third of httpx's cost per request.
        self._direct: httpx.AsyncBaseTransport | None = None
        self._fetch: Callable[..., Awaitable[WholeReply]] | None = None
        if http_backend == "aiohttp":
            from ._aiohttp import AiohttpTransport

            backend = AiohttpTransport(limits=DEFAULT_LIMITS if limits is None else limits)
            self._direct, self._fetch = backend, backend.fetch
        elif http_backend == "httptools":
            from ._httptools import HttptoolsTransport

            lean = HttptoolsTransport(limits=DEFAULT_LIMITS if limits is None else limits)
            self._direct, self._fetch = lean, lean.fetch
        self._client = http_client or httpx.AsyncClient(
            timeout=self._timeout,
            limits=DEFAULT_LIMITS if limits is None else limits,
            transport=self._direct,
            # No cookie jar: an upstream's Set-Cookie would be replayed on every later call (in
            # the proxy: on behalf of every client). APIs authenticate with keys, not cookies.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    @property
    def target(self) -> Target:
        """The provider name and base URL (no credentials)."""
        return self._target

    @property
    def dialect(self) -> Dialect:
        """The wire format this transport speaks."""
        return self._dialect

    @property
    def credential(self) -> str | None:
        """The fingerprint of this transport's API key (a keyed hash, never the key), or ``None``."""
        if not self._api_key:
            return None
        from .._credential import credential_fingerprint

        return credential_fingerprint(self._api_key)

    @property
    def http_backend(self) -> HTTPBackend:
        """The HTTP client this transport sends through (``"httpx"``, ``"aiohttp"`` or ``"httptools"``)."""
        return self._http_backend

    def __repr__(self) -> str:
        backend = "" if self._http_backend == "httpx" else f", http_backend={self._http_backend!r}"
        return (
            f"HTTPTransport(provider={self._target.provider!r}, base_url={self._target.base_url!r}, "
            f"dialect={self._dialect.name!r}{backend})"
        )

    async def aclose(self) -> None:
        """Close the connection pool if this transport created it."""
        if self._owns_client:
            await self._client.aclose()  # closes the aiohttp / httptools backend too (the client's transport)

    async def __call__(self, request: Request, /) -> Reply:
        if self._fetch is not None and not request.stream:
            return await self._whole(request)
        provider = self._target.provider
        http_request = self._build(request)  # the dialect rejects what it cannot carry: nothing sent
        redactor = self._call_redactor(request)
        if self._signing:
            # Last, over the exact bytes and headers sent (SigV4), or a freshly refreshed token.
            signed = await cast(SigningDialect, self._dialect).sign(
                http_request.method, str(http_request.url), dict(http_request.headers), http_request.content
            )
            http_request.headers.update(signed)
            redactor = redactor.with_headers(signed)
        failure: OpenResponsesError | None = None
        try:
            if self._direct is not None:
                response = await self._direct.handle_async_request(http_request)
            else:
                response = await self._client.send(http_request, stream=True)
        except httpx.HTTPError as exc:
            failure = connection_error(exc, provider, "Connection error", redactor)
        if failure is not None:
            raise failure  # outside the except block: only the redacted chain is attached

        if response.status_code >= 300:
            raise await self._status_error(response, redactor)
        content_type = response.headers.get("content-type", "")
        if request.stream:
            expected = self._stream_type
            if not content_type.startswith(expected):
                body = await read_capped(response)
                raise redactor.exception(
                    ProtocolError(
                        f"Expected a {expected} reply to a streaming request, got {content_type!r}.",
                        data=body,
                    )
                )
            decoder = RedactingDecoder(self._dialect.decoder(request, provider=provider), redactor)
            stream = EventStream(
                stream_batches(response, decoder, provider, redactor),
                provider=provider,
                release=response.aclose,
            )
            stream.request_id = self._request_id(response.headers, redactor)
            return stream
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:
            failure = connection_error(exc, provider, "Connection lost reading the body", redactor)
        finally:
            await response.aclose()
        if failure is not None:
            raise failure
        return self._parsed(body, request, response.headers, redactor)

    async def _whole(self, request: Request) -> Reply:
        """The non-streamed call through a backend that reads replies whole (aiohttp, httptools): the same
        request bytes, errors, checks and result as the httpx path, without httpx's models."""
        assert self._fetch is not None
        provider = self._target.provider
        url, headers, content, timeout = self._parts(request)  # may reject: nothing sent
        headers = {name.lower(): value for name, value in headers.items()}  # as httpx.Headers has them
        redactor = self._call_redactor(request)
        if self._signing:
            signed = await cast(SigningDialect, self._dialect).sign("POST", url, dict(headers), content)
            headers.update(signed)
            redactor = redactor.with_headers(signed)
        failure: OpenResponsesError | None = None
        try:
            reply = await self._fetch(url, headers, content, timeout.as_dict(), error_limit=MAX_ERROR_BODY)
        except httpx.HTTPError as exc:
            what = (
                "Connection lost reading the body" if getattr(exc, "reading", False) else "Connection error"
            )
            failure = connection_error(exc, provider, what, redactor)
        if failure is not None:
            raise failure
        if reply.status >= 300:
            raise self._error(reply.status, reply.body, reply.headers, reply.reason, redactor)
        return self._parsed(reply.body, request, reply.headers, redactor)

    def _call_redactor(self, request: Request) -> Redactor:
        """The transport's redactor, plus this call's own credential-like headers, if any."""
        if not request.headers:
            return self._redactor
        redactor = self._redactor.with_headers(request.headers)
        if redactor is not self._redactor:
            protect_http_logs(redactor)  # a per-call credential header
        return redactor

    def _parsed(self, body: bytes, request: Request, headers: Mapping[str, str], redactor: Redactor) -> Reply:
        try:
            result = self._dialect.parse_body(body, request, provider=self._target.provider)
        except OpenResponsesError as exc:
            redactor.exception(exc)
            raise
        if isinstance(result, Response):
            if result.error is not None:
                result.error = redactor.value(result.error)  # a failed response's server text
            result._request_id = self._request_id(headers, redactor)
        return result

    def _request_id(self, headers: Mapping[str, str], redactor: Redactor) -> str | None:
        """The upstream's request id: the dialect's vendor header, else ``x-request-id``; cleaned
        of this call's credentials before it is cut (a server may echo a key there; the exact
        keys only: an id is not prose, and the patterns cost ≈ 6 µs per reply)."""
        for name in self._id_headers:
            value = headers.get(name)
            if isinstance(value, str) and value:
                return redactor.text(value)[:200]
        return None

    def _parts(self, request: Request) -> tuple[str, dict[str, str], bytes, httpx.Timeout]:
        """URL, headers, body and timeouts of ``request`` (the dialect rejects what it cannot carry)."""
        dialect = self._dialect
        content = dialect.encode(request)
        headers = dict(self._headers)
        headers["content-type"] = "application/json"
        headers["accept"] = "text/event-stream" if request.stream else "application/json"
        if self._api_key:
            headers.update(dialect.auth_headers(self._api_key))
        if request.options.idempotency_key:
            headers["idempotency-key"] = request.options.idempotency_key
        headers.update(dialect.headers(request))
        headers.update(request.headers)
        timeout = request.options.timeout
        if timeout is None:
            timeout = self._timeout
        elif not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout)
        if self._direct is not None:
            # httpx's client adds it; its transport, called directly, does not.
            headers.setdefault("accept-encoding", "gzip, deflate")
        return self._base_url + dialect.path(request), headers, content, timeout

    def _build(self, request: Request) -> httpx.Request:
        url, headers, content, timeout = self._parts(request)
        if self._direct is not None:
            return httpx.Request(
                "POST", url, content=content, headers=headers, extensions={"timeout": timeout.as_dict()}
            )
        return self._client.build_request("POST", url, content=content, headers=headers, timeout=timeout)

    async def _status_error(self, response: httpx.Response, redactor: Redactor) -> APIStatusError:
        body = await read_capped(response)
        return self._error(response.status_code, body, response.headers, response.reason_phrase, redactor)

    def _error(
        self, status: int, body: bytes, headers: Mapping[str, str], reason: str | None, redactor: Redactor
    ) -> APIStatusError:
        """The dialect's typed error for a non-2xx reply, redacted."""
        error = self._dialect.error(status, body, headers, provider=self._target.provider, reason=reason)
        return redactor.exception(error)


def _check_key(api_key: object) -> str | None:
    """The key, or ``ConfigError`` (never quoting it): it must be printable ASCII without line
    breaks (a trailing newline read from a file is the usual culprit), as the client checks."""
    if api_key is None or api_key == "":
        return None
    if not isinstance(api_key, str):
        raise ConfigError(f"must be a string, got {type(api_key).__name__}", key="api_key")
    if not all(" " <= ch <= "~" for ch in api_key):
        raise ConfigError(
            "the key must be printable ASCII without line breaks (check for a trailing newline)",
            key="api_key",
        )
    return api_key
