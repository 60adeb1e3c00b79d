"""An httpx transport over our own HTTP/1.1 connections: ``HTTPTransport(http_backend="httptools")``.

The connections and their pool are ``_h1.py`` (llhttp through ``httptools`` for the replies;
why: see there). This module is the part httpx's transport interface sees: a streamed reply is
an ``httpx.Response`` whose body is read by batches (every byte received since the last read,
as the other backends hand it over), so content decoding, the typed errors, redaction and the
stream loop are the same code as with httpx; a non-streamed reply is read whole without httpx's
models (:meth:`HttptoolsTransport.fetch`).

URL credentials become Basic auth as httpx sends them. A request that an HTTP(S) proxy from the
environment applies to (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, less ``NO_PROXY``, read
once as httpx reads them once per client, with the standard library's rules) is sent through an
httpx client with ``trust_env``: proxies stay httpx's job.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import AsyncIterator, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx

from .._extras import requires
from ._h1 import Exchange, Origin, reply_headers, request_head
from ._h1_pool import Pool
from ._http_io import (
    WholeReply,
    decoded_body,
    error_reply,
    read_capped,
    streamed_response,
    url_basic,
    with_basic,
)

__all__ = ["HttptoolsTransport", "import_httptools"]

#: Entries kept by the transport's route cache (a path can name the model, as Gemini's do).
_CACHED = 64


def import_httptools() -> Any:
    """The ``httptools`` module, or ``MissingExtraError`` naming the ``httptools`` extra."""
    with requires('http_backend="httptools"', "httptools"):
        import httptools
    return httptools


class _Route(NamedTuple):
    origin: Origin | None  # None: through the httpx fallback (a proxy applies, or not http(s))
    basic: str | None  # the Authorization the URL's user info stands for


class _Body(httpx.AsyncByteStream):
    """An exchange's body as httpx's stream: every read hands over all bytes received."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        read = self._exchange.read
        while chunk := await read():
            yield chunk

    async def aclose(self) -> None:
        self._exchange.close()


def _proxied(url: httpx.URL | str, proxies: Mapping[str, str]) -> bool:
    """Whether an environment proxy applies to ``url`` (the standard library's ``NO_PROXY`` rules)."""
    parts = urlsplit(str(url))
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    host = parts.hostname or ""
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # not in typeshed
    return not bypass(host, proxies)


class HttptoolsTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncBaseTransport`` over a :class:`~openresponses.transports._h1_pool.Pool` (created at
    first use, on the running loop, as an httpx pool binds to its loop at first use).

    ``limits`` bounds the pool as it bounds httpx's; the timeouts come with each request
    (``request.extensions["timeout"]``, as httpx's client sets them).
    """

    def __init__(self, *, limits: httpx.Limits | None = None, trust_env: bool = True) -> None:
        import_httptools()
        self._limits = limits or httpx.Limits()
        self._trust_env = trust_env
        # Read once, as httpx reads the environment once per client.
        self._proxies = urllib.request.getproxies_environment() if trust_env else {}
        self._pool: Pool | None = None
        self._fallback: httpx.AsyncClient | None = None
        self._closed = False
        self._routes: dict[str, _Route] = {}

    def _route(self, url: str) -> _Route:
        route = self._routes.get(url)
        if route is not None:
            return route
        parts = urlsplit(url)
        origin = None if _proxied(url, self._proxies) else _origin(parts)
        route = _Route(origin, url_basic(parts))
        if len(self._routes) < _CACHED:
            self._routes[url] = route
        return route

    def _client(self) -> httpx.AsyncClient:
        if self._fallback is None:
            self._fallback = httpx.AsyncClient(
                limits=self._limits,
                trust_env=self._trust_env,
                timeout=None,  # each request carries its own
                follow_redirects=False,
                # No cookie jar, as HTTPTransport's own client: an upstream's Set-Cookie would be
                # replayed on every later call (in the proxy: on behalf of every client).
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
        return self._fallback

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Cannot send a request, as the transport has been closed.")  # as httpx

    def _payload(self, route: _Route, headers: Mapping[str, str], content: bytes) -> bytes:
        self._check_open()
        assert route.origin is not None
        return request_head(route.origin, with_basic(headers, route.basic), len(content)) + content

    def _connections(self) -> Pool:
        if self._pool is None:
            self._pool = Pool(self._limits, httpx.create_ssl_context)
        return self._pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` (a POST, as :class:`HTTPTransport` sends); the body streams."""
        route = self._route(str(request.url))
        if route.origin is None:
            self._check_open()
            return await self._client().send(request, stream=True)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers.raw}
        payload = self._payload(route, headers, request.content)
        timeout = request.extensions.get("timeout", {})
        exchange = await self._connections().send(
            route.origin, payload, timeout, whole=False, error_limit=sys.maxsize
        )
        return streamed_response(request, exchange.status, exchange.reason, exchange.headers, _Body(exchange))

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
        ``error_limit`` bytes), without ``httpx.Request`` / ``httpx.Response``.

        Raises ``httpx.TransportError`` subclasses; one while reading the body is marked with
        ``reading = True`` (the caller's message says the connection was lost mid-body).
        """
        route = self._route(url)
        if route.origin is None:
            return await self._fetch_through_httpx(url, headers, content, timeout, error_limit)
        payload = self._payload(route, headers, content)
        # An error body is capped once decoded: twice the cap in raw bytes covers an
        # incompressible gzip body (httpx reads decoded bytes up to the cap).
        exchange = await self._connections().send(
            route.origin, payload, timeout, whole=True, error_limit=2 * error_limit
        )
        try:
            raw = await exchange.whole()
        except httpx.HTTPError as exc:
            exc.reading = True  # type: ignore[attr-defined]
            raise
        finally:
            exchange.close()
        found = reply_headers(exchange.headers)
        if exchange.status >= 300:
            return error_reply(exchange.status, exchange.reason, found, raw, error_limit)
        return WholeReply(
            exchange.status, exchange.reason, found, decoded_body(raw, found.get("content-encoding"))
        )

    async def _fetch_through_httpx(
        self,
        url: str,
        headers: Mapping[str, str],
        content: bytes,
        timeout: Mapping[str, float | None],
        error_limit: int,
    ) -> WholeReply:
        self._check_open()
        client = self._client()
        request = client.build_request("POST", url, headers=headers, content=content)
        request.extensions["timeout"] = dict(timeout)
        response = await client.send(request, stream=True)
        try:
            if response.status_code >= 300:
                body = await read_capped(response, error_limit)  # a cut error body: what came of it
            else:
                try:
                    body = await response.aread()
                except httpx.HTTPError as exc:
                    exc.reading = True  # type: ignore[attr-defined]
                    raise
        finally:
            await response.aclose()
        return WholeReply(response.status_code, response.reason_phrase, response.headers, body)

    async def aclose(self) -> None:
        """Close every connection; later requests raise ``RuntimeError``."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()
        fallback, self._fallback = self._fallback, None
        if fallback is not None:
            await fallback.aclose()


def _origin(parts: Any) -> Origin | None:
    """Where a URL's requests go (``None``: not a plain http(s) URL: httpx's path takes it)."""
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        return None
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return None  # a malformed port: httpx reports it
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    netloc = parts.netloc.rpartition("@")[2]
    try:
        return Origin(scheme, host, port, target.encode("ascii"), netloc.encode("ascii"))
    except UnicodeEncodeError:
        return None  # an IDN or a raw non-ASCII path: httpx encodes it
