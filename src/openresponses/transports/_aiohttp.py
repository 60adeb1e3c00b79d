"""An httpx transport that sends through aiohttp: ``HTTPTransport(http_backend="aiohttp")``.

Why: on the proxy's non-streamed path the HTTP client is most of the cost. httpx's client and
its pure-Python HTTP/1.1 stack (httpcore, h11, anyio) spend about 0.5 ms of CPU on one request
to a loopback upstream; aiohttp (llhttp, a C parser, and plain asyncio) spends about 0.08 ms.
Everything above the socket stays as it is: a stream's response is still an ``httpx.Response``
(so content decoding, the typed errors, redaction and streaming are the same code as with
httpx); a non-streamed reply is read whole without httpx's models (:meth:`AiohttpTransport.fetch`,
the cheaper path); aiohttp's failures are raised as the httpx exceptions httpx itself raises for
the same event.

Why not ``httpx-aiohttp`` (the same idea, on PyPI): its exception map turns every
``ClientConnectionError``, a server disconnecting mid-response included, into ``ConnectTimeout``.
The retry and failover rules read that distinction (a request that never left may be retried
blindly; a timeout names its phase), so the mapping below follows httpcore's instead.

What differs from httpx (docs/client.md, "HTTP backends"): no write timeout (aiohttp has none; a
request body is one buffered write); a wait for a pooled connection is bounded together with
the connect (``pool + connect`` seconds) and reported as a connect timeout; and
``Limits.max_keepalive_connections`` has no aiohttp counterpart (idle connections are kept up
to ``max_connections`` for ``keepalive_expiry``). Proxies from the environment
(``HTTPS_PROXY`` ...) are honoured as httpx does (``trust_env``), and TLS uses httpx's own
certificate store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import httpx

from .._extras import requires
from ._http_io import WholeReply, decoded_body, error_reply, streamed_response, url_basic, with_basic

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport", "WholeReply", "import_aiohttp"]


def import_aiohttp() -> Any:
    """The ``aiohttp`` module, or ``MissingExtraError`` naming the ``aiohttp`` extra."""
    with requires('http_backend="aiohttp"', "aiohttp"):
        import aiohttp
    return aiohttp


def _mapped(exc: BaseException, aiohttp: Any) -> httpx.HTTPError | None:
    """The httpx exception httpcore raises for the same failure (``None``: not a transport one)."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)  # connecting, or waiting for a pooled connection
    if isinstance(exc, aiohttp.SocketTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientProxyConnectionError):
        return httpx.ConnectError(message)  # refused, unreachable, DNS, TLS: nothing was sent
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        # httpcore: "Server disconnected without sending a response" / an incomplete body.
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientPayloadError) and _reset(exc):
        return httpx.ReadError(message)  # a reset mid-body: httpcore's read fails the same way
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message)  # a cut or malformed body or head
    if isinstance(exc, aiohttp.ClientOSError | aiohttp.ClientConnectionError):
        # A request body is one buffered write: a socket error after connecting is, as with
        # httpcore, met while reading the reply (a reset before or during the head).
        return httpx.ReadError(message)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, aiohttp.ClientError):
        return httpx.TransportError(message)
    return None


def _reset(exc: BaseException) -> bool:
    """Whether a connection reset is behind ``exc`` (aiohttp wraps it in ``ClientPayloadError``)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return True
        cause = cause.__cause__ or cause.__context__
    # aiohttp keeps the reset only in the message ("... ConnectionResetError(104, ...)"), with a
    # ContentLengthError / TransferEncodingError as the cause.
    return "ConnectionResetError(" in str(exc)


#: Entries kept by each of the transport's small caches (timeouts, routes).
_CACHED = 64


class _Route(NamedTuple):
    url: str
    basic: str | None
    proxy: Any
    proxy_headers: dict[str, str] | None


def _joined(headers: Any) -> dict[str, str]:
    """Response headers as httpx reads them: lower-case names, repeated ones joined by ``, ``."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Up to ``limit`` bytes of an error body; a failure mid-way keeps what was read (as httpx's
    path does: a truncated error body still makes a useful error)."""
    parts: list[bytes] = []
    size = 0
    with contextlib.suppress(Exception):
        while size < limit and (chunk := await response.content.readany()):
            parts.append(chunk)
            size += len(chunk)
    return b"".join(parts)


def _finish(response: aiohttp.ClientResponse) -> None:
    if response.content.is_eof():
        response.release()  # read to the end: the connection goes back to the pool
    else:
        response.close()  # abandoned mid-body: the connection cannot be reused


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body as httpx's stream: every read hands over all bytes received."""

    def __init__(self, response: aiohttp.ClientResponse, aiohttp: Any) -> None:
        self._response = response
        self._aiohttp = aiohttp

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while chunk := await content.readany():
                yield chunk
        except Exception as exc:
            mapped = _mapped(exc, self._aiohttp)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        _finish(self._response)


def _head_limits() -> dict[str, int]:
    """The reply head sizes h11 accepts (a 100 KiB head, any number of fields), as far as this
    aiohttp lets them be set: its defaults refuse a line over 8,190 bytes or 128 headers."""
    import inspect

    import aiohttp

    wanted = {"max_line_size": 100 * 1024, "max_field_size": 100 * 1024, "max_headers": 10_000}
    accepted = inspect.signature(aiohttp.ClientSession).parameters
    return {name: value for name, value in wanted.items() if name in accepted}


class AiohttpTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncBaseTransport`` over one ``aiohttp.ClientSession`` (created at first use, on
    the running loop, as an httpx pool binds to its loop at first use).

    ``limits`` sizes the connector (``max_connections``, ``keepalive_expiry``); the timeouts come
    with each request (``request.extensions["timeout"]``, as httpx's client sets them).
    """

    def __init__(self, *, limits: httpx.Limits | None = None, trust_env: bool = True) -> None:
        self._aiohttp = import_aiohttp()
        self._limits = limits or httpx.Limits()
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._timeouts: dict[tuple[Any, ...], Any] = {}
        self._routes: dict[str, _Route] = {}

    def _open(self) -> aiohttp.ClientSession:
        aiohttp = self._aiohttp
        limits = self._limits
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry if limits.keepalive_expiry is not None else 15.0,
            ssl=httpx.create_ssl_context(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # The environment is read once per origin (``_proxy``), as httpx reads it once per
            # client: aiohttp's ``trust_env`` looks up ``.netrc`` in a worker thread per request.
            trust_env=False,
            auto_decompress=False,  # httpx.Response decodes Content-Encoding, as with httpx's pool
            skip_auto_headers=("User-Agent",),  # ours is set by the caller
            cookie_jar=aiohttp.DummyCookieJar(),  # an upstream's cookies are not replayed to it
            **_head_limits(),
        )
        return self._session

    def _timeout(self, timeout: Mapping[str, float | None]) -> Any:
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        value = self._timeouts.get(key)
        if value is None:
            connect, read, pool = key
            # aiohttp's ``connect`` covers the pool wait plus the connect; ``sock_connect`` the
            # connect alone; ``sock_read`` the gap between two reads, as httpx's ``read``.
            value = self._aiohttp.ClientTimeout(
                total=None,
                connect=None if pool is None or connect is None else pool + connect,
                sock_connect=connect,
                sock_read=read,
            )
            if len(self._timeouts) < _CACHED:  # per-call timeouts may all differ: a bounded cache
                self._timeouts[key] = value
        return value

    def _route(self, url: str) -> _Route:
        """Where ``url`` goes (cached per URL): the URL without user info, the ``Authorization``
        its user info stands for (httpx sends Basic credentials from the URL, overriding the
        header), and the proxy from ``HTTP(S)_PROXY`` / ``NO_PROXY``, read once as httpx does."""
        route = self._routes.get(url)
        if route is not None:
            return route
        parts = urlsplit(url)
        target, basic = url, url_basic(parts)
        if basic is not None:
            target = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        proxy: Any = None
        proxy_headers: dict[str, str] | None = None
        if self._trust_env:
            from aiohttp.helpers import get_env_proxy_for_url
            from yarl import URL

            with contextlib.suppress(LookupError):  # no proxy applies
                proxy, auth = get_env_proxy_for_url(URL(target))
                if auth is not None:  # as a header: aiohttp 3.14 deprecates proxy_auth=
                    proxy_headers = {"Proxy-Authorization": auth.encode()}
        route = _Route(target, basic, proxy, proxy_headers)
        if len(self._routes) < _CACHED:  # a path can name the model (Gemini): a bounded cache
            self._routes[url] = route
        return route

    async def _send(
        self, url: str, headers: Mapping[str, str], content: bytes, timeout: Mapping[str, float | None]
    ) -> aiohttp.ClientResponse:
        if self._closed:
            raise RuntimeError("Cannot send a request, as the transport has been closed.")  # as httpx
        session = self._session or self._open()
        route = self._route(url)
        headers = with_basic(headers, route.basic)
        if route.proxy_headers is not None and route.url.startswith("http:"):
            # Plain HTTP goes through the proxy as one request: the credentials ride on it
            # (proxy_headers= only reaches the CONNECT of an HTTPS tunnel).
            headers = {**headers, **route.proxy_headers}
        try:
            return await session.request(
                "POST",
                route.url,
                data=content or None,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout(timeout),
                proxy=route.proxy,
                proxy_headers=route.proxy_headers,
            )
        except Exception as exc:
            mapped = _mapped(exc, self._aiohttp)
            if mapped is None:
                raise
            raise mapped from exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` (a POST, as :class:`HTTPTransport` sends); the body streams."""
        if request.method != "POST":  # pragma: no cover - HTTPTransport sends nothing else
            raise httpx.UnsupportedProtocol(f"the aiohttp backend sends POST requests, not {request.method}")
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in request.headers.raw
            if name.lower() != b"content-length"  # aiohttp sets it from the body
        }
        response = await self._send(
            str(request.url), headers, request.content, request.extensions.get("timeout", {})
        )
        return streamed_response(
            request,
            response.status,
            response.reason or "",
            response.raw_headers,
            _Body(response, self._aiohttp),
        )

    async def fetch(
        self,
        url: str,
        headers: Mapping[str, str],
        content: bytes,
        timeout: Mapping[str, float | None],
        *,
        error_limit: int,
    ) -> WholeReply:
        """POST ``content`` and read the reply whole (decoded; an error body: at most
        ``error_limit`` bytes), without ``httpx.Request`` / ``httpx.Response``: the non-streamed
        path, where those models were a third of the cost. Failures raise as from httpx.

        Raises ``httpx.TransportError`` subclasses; one while reading the body is marked with
        ``reading = True`` (the caller's message says the connection was lost mid-body).
        """
        response = await self._send(url, headers, content, timeout)
        if response.status >= 300:
            try:
                raw = await _read_at_most(response, error_limit)
            finally:
                _finish(response)
            return error_reply(
                response.status, response.reason or "", _joined(response.headers), raw, error_limit
            )
        try:
            body = await response.read()
        except Exception as exc:
            response.close()
            mapped = _mapped(exc, self._aiohttp)
            if mapped is None:
                raise
            mapped.reading = True  # type: ignore[attr-defined]
            raise mapped from exc
        except BaseException:
            response.close()  # cancelled mid-body: the connection cannot be reused
            raise
        _finish(response)
        return WholeReply(
            response.status,
            response.reason or "",
            response.headers,
            decoded_body(body, response.headers.get("content-encoding")),
        )

    async def aclose(self) -> None:
        """Close the session and its connections; later requests raise ``RuntimeError``."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()
