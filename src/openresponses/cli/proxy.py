"""``openresponses proxy``: serve Open Responses in front of any provider (see docs/proxy.md).

Flags become a :class:`~openresponses.proxies.ProxySettings`, checked before anything binds
(bad input exits 2 with one line naming the flag). One worker runs the app object in this
process; ``--workers N`` hands the settings to uvicorn's worker processes through the
environment, and each builds its own app with ``create_app_from_env``. The bound URL is printed
on stdout once the socket listens, so ``--port 0`` can be used by scripts and tests.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["add_proxy_parser", "run_proxy", "run_proxy_cli", "settings_from_args", "worker_app"]

_APP_FACTORY = "openresponses.cli.proxy:worker_app"
_UNITS = {
    "": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 10**6,
    "mb": 10**6,
    "mib": 2**20,
    "g": 10**9,
    "gib": 2**30,
}


def _size(value: str) -> int:
    text = value.strip().lower()
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(digits) :]
    if not digits.isdigit() or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"expected a size such as 16MiB or 1048576, got {value!r}")
    return int(digits) * _UNITS[unit]


def _seconds(value: str) -> float | None:
    if value.strip().lower() in ("none", "off", "0"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or 'none', got {value!r}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0 or 'none', got {value!r}")
    return seconds


def add_proxy_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``proxy`` on an ``add_subparsers()`` object; returns its parser."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "proxy",
        help="serve Open Responses in front of a provider (needs the proxy extra)",
        description="Serve POST /v1/responses in front of any provider. See docs/proxy.md.",
    )
    _add_arguments(parser)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..proxies.settings import DEFAULT_STORE_TTL

    up = parser.add_argument_group("upstream")
    up.add_argument(
        "--preset", help="a preset name (--list-presets prints them all: " + ", ".join(_preset_names()) + ")"
    )
    up.add_argument("--config", help="a client TOML file (providers and chains) instead of a preset")
    up.add_argument("--chain", help="the chain of --config to serve (default: its default_chain)")
    up.add_argument("--base-url", help="the upstream URL, including /v1 (overrides the preset's)")
    up.add_argument("--api", choices=["responses", "chat-completions"], help="the API spoken upstream")
    up.add_argument("--model", help="force this model on every request")
    up.add_argument("--upstream-api-key-env", metavar="VAR", help="variable holding the upstream key")
    up.add_argument("--list-presets", action="store_true", help="print the presets and exit")

    serve = parser.add_argument_group("serving")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: loopback only)")
    serve.add_argument("--port", type=int, help="bind port (default: the preset's; 0: a free port)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    serve.add_argument("--api-key-env", metavar="VAR", help="clients must send Authorization: Bearer $VAR")
    serve.add_argument(
        "--store",
        default="auto",
        help="auto | memory | none | sqlite:PATH | redis://HOST:PORT/DB (default auto)",
    )
    serve.add_argument(
        "--store-ttl",
        type=_seconds,
        default=DEFAULT_STORE_TTL,
        metavar="SECONDS",
        help="how long a stored response is kept (default 2592000: 30 days; none: until evicted)",
    )
    serve.add_argument(
        "--store-max-entries",
        type=int,
        metavar="N",
        help="most responses kept (memory: least recently used go first, default 10000; sqlite: oldest)",
    )
    serve.add_argument(
        "--cache",
        metavar="STORE",
        help="semantic cache in front of the upstream: memory | sqlite:PATH | redis://HOST:PORT/DB "
        "(default: none); replies carry X-Cache-Status",
    )
    serve.add_argument(
        "--redis-url",
        metavar="URL",
        help="Redis shared by workers and hosts: the response store (with --store auto) and "
        "circuit breaker state",
    )
    serve.add_argument(
        "--max-body", type=_size, default=16 * 2**20, help="request body limit (default 16MiB)"
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug", "trace"]
    )
    serve.add_argument(
        "--trace", action="store_true", help="OpenTelemetry spans, exported per OTEL_* variables"
    )

    limits = parser.add_argument_group("upstream limits")
    limits.add_argument(
        "--first-event-timeout", type=_seconds, default=60.0, help="seconds (default 60; none)"
    )
    limits.add_argument(
        "--idle-timeout", type=_seconds, default=300.0, help="seconds between events (default 300)"
    )
    limits.add_argument(
        "--total-timeout",
        type=_seconds,
        default=None,
        help="seconds per call (default none; 0 or none: no limit)",
    )
    limits.add_argument(
        "--non-stream-timeout",
        type=_seconds,
        default=300.0,
        help="seconds a non-streamed call may take in all, retries included (default 300)",
    )
    limits.add_argument(
        "--retries", type=int, default=2, help="attempts per call, first included (default 2)"
    )
    limits.add_argument(
        "--http-backend",
        choices=["auto", "httptools", "aiohttp", "httpx"],
        default="auto",
        help="HTTP client for upstream calls (auto: httptools if installed, else aiohttp, else httpx)",
    )


def settings_from_args(args: argparse.Namespace) -> Any:
    """The checked ``ProxySettings`` for parsed flags (raises ``ConfigError``)."""
    from ..proxies.settings import ProxySettings

    return ProxySettings(
        preset=args.preset,
        config=args.config,
        chain=args.chain,
        base_url=args.base_url,
        api=args.api,
        model=args.model,
        upstream_api_key_env=args.upstream_api_key_env,
        api_key_env=args.api_key_env,
        store=args.store,
        store_ttl=args.store_ttl,
        store_max_entries=args.store_max_entries,
        redis_url=args.redis_url,
        cache=args.cache,
        max_body_bytes=args.max_body,
        first_event_timeout=args.first_event_timeout,
        idle_timeout=args.idle_timeout,
        total_timeout=args.total_timeout,
        non_stream_timeout=args.non_stream_timeout,
        retries=args.retries,
        http_backend=args.http_backend,
        trace=args.trace,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
    ).validate()


def _preset_names() -> list[str]:
    from ..proxies.presets import PRESETS

    return list(PRESETS)


def _print_presets() -> None:
    from ..proxies.presets import PRESETS

    rows = [("preset", "port", "api", "key", "upstream")]
    for p in PRESETS.values():
        key = (p.api_key_env or "-") + ("" if p.key_required or not p.api_key_env else " (opt)")
        rows.append((p.name, str(p.port), p.api, key, p.base_url))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _configure_logging(log_level: str) -> None:
    """The root logger at ``log_level`` (``trace`` is ``DEBUG``), with httpx's own logger kept
    at ``WARNING`` unless the level is ``debug`` or ``trace``.

    httpx logs every upstream request at ``INFO``; the access log already records each inbound
    one, and the extra line cost ~0.2 ms per non-stream request (docs/performance.md).
    """
    level = "DEBUG" if log_level == "trace" else log_level.upper()
    logging.basicConfig(level=level, format="%(levelname)s:     %(name)s: %(message)s")
    if logging.getLevelName(level) > logging.DEBUG:
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def run_proxy(args: argparse.Namespace) -> int:
    """Run ``openresponses proxy`` with parsed flags; returns the exit status."""
    from .._errors import ConfigError

    if args.list_presets:
        _print_presets()
        return 0
    try:
        import uvicorn
    except ImportError:
        print("error: the proxy needs uvicorn: pip install 'openresponses-python[proxy]'", file=sys.stderr)
        return 2
    _configure_logging(args.log_level)
    try:
        settings = settings_from_args(args)
        from ..proxies.upstream import check_store, exposure_warnings

        check_store(settings)
        for line in exposure_warnings(settings):
            logging.getLogger("openresponses.proxy").warning("%s", line)
        if settings.workers > 1:
            return _run_workers(uvicorn, settings)
        from ..proxies.app import create_app_from_settings

        app = create_app_from_settings(settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        sock = listen_socket(settings.host, settings.bind_port())
    except OSError as exc:
        print(f"error: cannot listen on {settings.host}:{settings.bind_port()}: {exc}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    # Printed once the socket listens: connections made from now on wait in the backlog.
    print(f"openresponses proxy listening on {_url(settings.host, port)}", flush=True)
    from ..proxies._access import AccessLog, configure_access_log
    from ..proxies._protocol import http_protocol

    # uvicorn's access line is written before the reply's head: ours after the reply is sent.
    config = uvicorn.Config(
        AccessLog(app),
        http=http_protocol(),
        log_level=args.log_level,
        lifespan="on",
        timeout_graceful_shutdown=10,
        access_log=False,
    )
    configure_access_log(args.log_level)  # after uvicorn's own logging set-up
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the Ctrl-C it captured
    finally:
        sock.close()
    return 0


def _run_workers(uvicorn: Any, settings: Any) -> int:
    import asyncio

    from ..proxies._protocol import http_protocol
    from ..proxies.upstream import build_upstream, per_process_warnings

    # Fail here, once, with a clear message, rather than in every worker; and say, once, what
    # the workers do not share.
    upstream = build_upstream(settings)
    asyncio.run(upstream.aclose())
    for line in per_process_warnings(settings, upstream):
        logging.getLogger("openresponses.proxy").warning("%s", line)
    os.environ.update(settings.to_env())
    try:
        sock = listen_socket(settings.host, settings.bind_port())
    except OSError as exc:
        print(f"error: cannot listen on {settings.host}:{settings.bind_port()}: {exc}", file=sys.stderr)
        return 2
    print(f"openresponses proxy listening on {_url(settings.host, settings.bind_port())}", flush=True)
    config = uvicorn.Config(
        _APP_FACTORY,
        factory=True,
        workers=settings.workers,
        http=http_protocol(),
        log_level=settings.log_level,
        access_log=False,  # worker_app writes it, after each reply
        timeout_graceful_shutdown=10,
    )
    # What uvicorn.run(workers=N) does, but on our socket (see listen_socket): the supervisor
    # hands the listening socket to each worker process. Its signature changed in uvicorn 0.30.
    import inspect

    from uvicorn.supervisors import Multiprocess

    extra = {}
    if "target" in inspect.signature(Multiprocess).parameters:
        extra["target"] = uvicorn.Server(config).run
    try:
        with contextlib.suppress(KeyboardInterrupt):  # the supervisor stopped its workers first
            Multiprocess(config, sockets=[sock], **extra).run()
    finally:
        sock.close()
    return 0


def worker_app() -> Any:
    """The app each ``--workers`` process serves: the proxy built from its settings, with the
    access log written after each reply (see ``run_proxy``)."""
    from ..proxies._access import AccessLog, configure_access_log
    from ..proxies.app import create_app_from_settings
    from ..proxies.settings import ProxySettings

    settings = ProxySettings.from_env()  # what create_app_from_env reads, read once here
    configure_access_log(settings.log_level)
    return AccessLog(create_app_from_settings(settings))


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket for the proxy.

    Created with ``IPPROTO_TCP`` on purpose: asyncio turns ``TCP_NODELAY`` on for accepted
    connections only when the socket's protocol says TCP, and without it Nagle's algorithm holds
    a reply's body behind its headers until the client's delayed ACK (about 40 ms per
    non-streamed reply). uvicorn's own sockets are created with protocol 0.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_proxy_cli(argv: Sequence[str] | None = None) -> int:
    """``python -m openresponses.proxies [flags]``: the proxy without the ``openresponses`` prefix."""
    parser = argparse.ArgumentParser(
        prog="python -m openresponses.proxies",
        description="Serve POST /v1/responses in front of any provider, as `openresponses proxy` does. "
        "See docs/proxy.md.",
    )
    _add_arguments(parser)
    return run_proxy(parser.parse_args(argv))
