"""The standing proof for secrets: a server that echoes every credential it receives.

A real loopback server echoes the credentials the client sent (the API key, a default
``api-key`` header, a per-call ``extra_headers`` token) in its status line, headers, JSON and
plain-text error bodies, an SSE ``error`` event, ``response.failed``, invalid events (so pydantic's
``ValidationError`` quotes them as ``__cause__``) and broken bodies. None of them may appear in
``str``/``repr`` of the exception, its fields, notes or cause chain, in any log record at DEBUG,
or in an exported span. TLS verification is on by default.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import logging
import ssl
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from openresponses import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    OpenResponsesError,
    ProtocolError,
    ResponseFailedError,
    exporters,
)
from openresponses._redact import Redactor, scrub
from openresponses._sse import encode_event
from openresponses.middleware import Retry, RetryPolicy, Tracing
from openresponses.testing import FakeClock, failed
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.transports.http import HTTPTransport
from openresponses.transports.passthrough import Passthrough
from openresponses.transports.raw import post_raw
from openresponses.types import Response

# One key shaped like a provider key (the patterns also catch it) and one opaque key (only the
# exact match can): both must disappear.
KEYS = ["sk-proj-Secr3tKeyVALUE0123456789abcdef", "opaqueKEY0123456789ABCDEFghijKLMN"]
HEADER_SECRET = "azureStyleHeaderSecret0123456789"  # sent as a default ``api-key`` header
CALL_SECRET = "perCallTokenValue0123456789zyxw"  # sent per call as ``x-custom-token``
CREDENTIAL_HEADERS = ("authorization", "api-key", "x-custom-token")


# -- an echoing server ------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the server read it."""

    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def echo(self) -> str:
        """Every credential the client sent, as a careless server would quote them."""
        return " ".join(self.headers[name] for name in CREDENTIAL_HEADERS if name in self.headers)


Reply = Callable[[Seen], bytes]
Echo = Callable[[Reply], Awaitable["EchoServer"]]


def _head(status: str, content_type: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        f"{extra}connection: close\r\n\r\n"
    ).encode() + body


def _sse(frames: list[bytes]) -> bytes:
    body = b"".join(frames)
    return _head("200 OK", "text/event-stream", body)


def reply_401(seen: Seen) -> bytes:
    """The key in the status line, in echo headers and in every field of a spec error body."""
    e = seen.echo
    body = json.dumps(
        {
            "error": {
                "message": f"Incorrect API key provided: {e}",
                "type": "invalid_request",
                "param": e,
                "code": "invalid_api_key",
                "sent_headers": seen.headers,
            }
        }
    ).encode()
    extra = f'x-echo: {e}\r\nwww-authenticate: Bearer error="invalid_token", token="{e}"\r\n'
    return _head(f"401 Incorrect API key provided: {e}", "application/json", body, extra)


def reply_text_401(seen: Seen) -> bytes:
    return _head("401 Unauthorized", "text/plain", f"Invalid credentials: {seen.echo}".encode())


def reply_html_502(seen: Seen) -> bytes:
    page = (
        f"<html><body><h1>502</h1><pre>Authorization: {seen.headers.get('authorization')}\n{seen.echo}</pre>"
    )
    return _head("502 Bad Gateway", "text/html", page.encode())


def reply_sse_failed(seen: Seen) -> bytes:
    """A 200 stream: text, then an ``error`` event and ``response.failed`` quoting the key."""
    events = failed(f"upstream rejected the key {seen.echo}", code="invalid_api_key", after_text="Hi").events(
        seen.body
    )
    return _sse([encode_event(event) for event in events])


def reply_sse_invalid_event(seen: Seen) -> bytes:
    """A 200 stream whose second event is invalid and quotes the key (a pydantic cause)."""
    good = failed("x").events(seen.body)[0]
    bad = json.dumps({"type": "response.output_text.delta", "sequence_number": seen.echo, "delta": seen.echo})
    return _sse([encode_event(good), b"event: response.output_text.delta\ndata: " + bad.encode() + b"\n\n"])


def reply_sse_not_json(seen: Seen) -> bytes:
    good = failed("x").events(seen.body)[0]
    return _sse([encode_event(good), f"data: {{not json {seen.echo}\n\n".encode()])


def reply_json_invalid(seen: Seen) -> bytes:
    """A 200 JSON body that is not a Response and quotes the key (a pydantic cause)."""
    body = json.dumps({"object": "response", "id": 7, "status": seen.echo, "output": seen.echo}).encode()
    return _head("200 OK", "application/json", body)


def reply_json_failed(seen: Seen) -> bytes:
    """A valid 200 Response with status ``failed`` whose error message quotes the key."""
    response = failed(f"upstream rejected the key {seen.echo}", code="invalid_api_key").response(seen.body)
    return _head("200 OK", "application/json", response.model_dump_json(by_alias=True).encode())


def reply_wrong_type(seen: Seen) -> bytes:
    """JSON to a streaming request: the body (kept as ``ProtocolError.data``) quotes the key."""
    return _head("200 OK", "application/json", json.dumps({"echo": seen.echo}).encode())


def reply_chat_401(seen: Seen) -> bytes:
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {seen.echo}", "type": "auth"}})
    return _head(f"401 bad key {seen.echo}", "application/json", body.encode())


def reply_chat_stream_error(seen: Seen) -> bytes:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}],
    }
    error = {"error": {"message": f"key {seen.echo} revoked mid-stream", "code": "invalid_api_key"}}
    frames = [f"data: {json.dumps(chunk)}\n\n".encode(), f"data: {json.dumps(error)}\n\n".encode()]
    return _sse(frames)


@dataclass
class EchoServer:
    """A loopback HTTP/1.1 server answering each request with ``reply(seen)``, close-delimited."""

    reply: Reply
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
            }
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            seen = Seen(headers, json.loads(raw) if raw else {})
            self.seen.append(seen)
            writer.write(self.reply(seen))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[Callable[[Reply], Awaitable[EchoServer]]]:
    """Start an :class:`EchoServer` on 127.0.0.1 with ``await echo(reply)``; stopped at teardown."""
    servers: list[asyncio.Server] = []

    async def start(reply: Reply) -> EchoServer:
        holder = EchoServer(reply)
        server = await asyncio.start_server(holder._handle, "127.0.0.1", 0)
        servers.append(server)
        holder.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        return holder

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


# -- where a secret could hide ----------------------------------------------------------------


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string reachable from ``value`` (fields, dicts, lists, models, bytes)."""
    if depth > 12:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray):
        yield bytes(value).decode("utf-8", "replace")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _texts(v, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _texts(v, depth + 1)
    elif isinstance(value, BaseModel):
        yield value.model_dump_json()
        yield repr(value)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its group members and its whole ``__cause__`` / ``__context__`` chain."""
    stack, seen = [exc], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)


def _places(exc: BaseException) -> Iterator[str]:
    for link in _chain(exc):
        yield from (str(link), repr(link), *_texts(getattr(link, "__notes__", [])), *_texts(link.args))
        yield from _texts(list(getattr(link, "__dict__", {}).values()))


def assert_redacted(exc: BaseException) -> None:
    """The echo reached the error (so the check below is not vacuous) and was replaced."""
    assert any("[redacted]" in place for place in _places(exc))


def assert_no_secret(exc: BaseException, secrets: list[str]) -> None:
    for link in _chain(exc):
        places = [str(link), repr(link), *(_texts(getattr(link, "__notes__", []))), *_texts(link.args)]
        places.extend(_texts(list(getattr(link, "__dict__", {}).values())))
        for place in places:
            for secret in secrets:
                assert secret not in place, f"{secret[:6]}... leaked via {type(link).__name__}: {place[:200]}"
    printed = "".join(traceback.format_exception(exc))
    for secret in secrets:
        assert secret not in printed


def assert_logs_clean(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    assert caplog.records, "expected some log records at DEBUG (httpx/httpcore log every request)"
    for record in caplog.records:
        text = formatter.format(record)
        for secret in secrets:
            assert secret not in text, f"{record.name} logged a secret: {text[:300]}"


def assert_spans_clean(mem: Any, secrets: list[str]) -> None:
    spans = mem.spans()
    assert spans
    for span in spans:
        texts = [span.name, str(span.status.description or "")]
        texts.extend(str(v) for v in (span.attributes or {}).values())
        for event in span.events:
            texts.append(event.name)
            texts.extend(str(v) for v in (event.attributes or {}).values())
        for text in texts:
            for secret in secrets:
                assert secret not in text, f"span {span.name!r} holds a secret: {text[:200]}"


# -- the scenarios ------------------------------------------------------------------------------

# (reply, stream, expected error class)
OPEN_RESPONSES = [
    pytest.param(reply_401, False, AuthenticationError, id="401-status-line-json-headers"),
    pytest.param(reply_401, True, AuthenticationError, id="401-streaming"),
    pytest.param(reply_text_401, False, AuthenticationError, id="401-plain-text"),
    pytest.param(reply_html_502, True, OpenResponsesError, id="502-html"),
    pytest.param(reply_sse_failed, True, ResponseFailedError, id="sse-error-and-response.failed"),
    pytest.param(reply_sse_invalid_event, True, ProtocolError, id="sse-invalid-event-pydantic-cause"),
    pytest.param(reply_sse_not_json, True, ProtocolError, id="sse-not-json"),
    pytest.param(reply_json_invalid, False, ProtocolError, id="json-invalid-pydantic-cause"),
    pytest.param(reply_wrong_type, True, ProtocolError, id="json-to-a-stream"),
]


async def _call(client: AsyncClient, stream: bool) -> None:
    extra = {"x-custom-token": CALL_SECRET}
    if stream:
        async with client.responses.stream(model="m", input="hi", extra_headers=extra) as events:
            async for _ in events:
                pass
    else:
        await client.responses.create(model="m", input="hi", extra_headers=extra)


def _client(server: EchoServer, key: str, mem: Any, *, capture: bool, chat: bool = False) -> AsyncClient:
    transport = HTTPTransport(
        server.base_url,
        api_key=key,
        headers={"api-key": HEADER_SECRET},
        dialect=ChatCompletionsDialect() if chat else None,
    )
    retry = Retry(RetryPolicy(attempts=2, retry_on=lambda exc: True, budget=False), clock=FakeClock())
    tracing = Tracing(tracer_provider=mem.tracer_provider, capture_content=capture)
    return AsyncClient(transport=transport, middleware=[tracing, retry])


@pytest.mark.parametrize("capture", [False, True], ids=["content-off", "content-on"])
@pytest.mark.parametrize("key", KEYS, ids=["sk-key", "opaque-key"])
@pytest.mark.parametrize(("reply", "stream", "expected"), OPEN_RESPONSES)
async def test_an_echoing_server_never_leaks_a_secret(
    echo: Echo,
    caplog: pytest.LogCaptureFixture,
    reply: Reply,
    stream: bool,
    expected: type[BaseException],
    key: str,
    capture: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await echo(reply)
    mem = exporters.memory()
    secrets = [key, HEADER_SECRET, CALL_SECRET]
    async with _client(server, key, mem, capture=capture) as client:
        with pytest.raises(expected) as caught:
            await _call(client, stream)
    # The server really did see (and echo) every secret: the test is not vacuous.
    assert all(s in server.seen[0].echo for s in secrets)
    assert_redacted(caught.value)
    assert_no_secret(caught.value, secrets)
    assert_logs_clean(caplog, secrets)
    assert_spans_clean(mem, secrets)
    if len(server.seen) == 2:  # retried (nothing was delivered yet): Retry's notes were checked too
        assert caught.value.__notes__


@pytest.mark.parametrize("key", KEYS, ids=["sk-key", "opaque-key"])
async def test_a_failed_response_body_is_redacted(echo: Echo, key: str) -> None:
    """Non-streaming 200 with ``status: failed``: whatever the client does with it (raise, or
    return it), the error text holds no secret."""
    server = await echo(reply_json_failed)
    secrets = [key, HEADER_SECRET, CALL_SECRET]
    async with AsyncClient(
        transport=HTTPTransport(server.base_url, api_key=key, headers={"api-key": HEADER_SECRET})
    ) as client:
        try:
            response = await client.responses.create(
                model="m", input="x", extra_headers={"x-custom-token": CALL_SECRET}
            )
        except OpenResponsesError as exc:
            assert_no_secret(exc, secrets)
        else:
            text = response.model_dump_json()
            assert response.error is not None and "[redacted]" in response.error.message
            assert all(s not in text for s in secrets)


async def test_a_partial_answer_keeps_credential_shaped_content(echo: Echo) -> None:
    """Patterns apply to server error text only: a code sample in the partial answer of a failed
    stream is the model's content and stays as written; the echoed key in the error goes."""
    sample = "Set api_key=demo1234demo and Bearer abc.def-123456 in your config"

    def reply(seen: Seen) -> bytes:
        events = failed(f"rejected {seen.echo}", code="invalid_api_key", after_text=sample).events(seen.body)
        return _sse([encode_event(event) for event in events])

    server = await echo(reply)
    async with AsyncClient(transport=HTTPTransport(server.base_url, api_key=KEYS[1])) as client:
        with pytest.raises(ResponseFailedError) as caught:
            async with client.responses.stream(model="m", input="x") as stream:
                async for _ in stream:
                    pass
    partial = caught.value.response
    assert partial is not None and partial.output_text == sample
    assert partial.error is not None and partial.error.message == "rejected Bearer [redacted]"
    assert_no_secret(caught.value, [KEYS[1]])


CHAT = [
    pytest.param(reply_chat_401, False, AuthenticationError, id="chat-401"),
    pytest.param(reply_chat_401, True, AuthenticationError, id="chat-401-streaming"),
    pytest.param(reply_chat_stream_error, True, ResponseFailedError, id="chat-stream-error-chunk"),
]


@pytest.mark.parametrize("key", KEYS, ids=["sk-key", "opaque-key"])
@pytest.mark.parametrize(("reply", "stream", "expected"), CHAT)
async def test_the_chat_dialect_never_leaks_a_secret(
    echo: Echo,
    caplog: pytest.LogCaptureFixture,
    reply: Reply,
    stream: bool,
    expected: type[BaseException],
    key: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await echo(reply)
    mem = exporters.memory()
    secrets = [key, HEADER_SECRET, CALL_SECRET]
    async with _client(server, key, mem, capture=True, chat=True) as client:
        with pytest.raises(expected) as caught:
            await _call(client, stream)
    assert all(s in server.seen[0].echo for s in secrets)
    assert_redacted(caught.value)
    assert_no_secret(caught.value, secrets)
    assert_logs_clean(caplog, secrets)
    assert_spans_clean(mem, secrets)


async def test_url_password_never_leaks(echo: Echo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = await echo(reply_401)
    password = "urlPassword0123456789"
    url = server.base_url.replace("http://", f"http://user:{password}@")
    mem = exporters.memory()
    client = AsyncClient(
        transport=HTTPTransport(url, api_key=KEYS[0]),
        middleware=[Tracing(tracer_provider=mem.tracer_provider)],
    )
    async with client:
        with pytest.raises(AuthenticationError) as caught:
            await client.responses.create(model="m", input="x")
    # httpx turns URL userinfo into Basic auth: its base64 form is a secret as well.
    sent = server.seen[0].headers["authorization"]
    assert sent.startswith("Basic ")
    assert_no_secret(caught.value, [sent.split()[1]])
    assert_no_secret(caught.value, [KEYS[0], password])
    assert_logs_clean(caplog, [KEYS[0], password])
    assert_spans_clean(mem, [KEYS[0], password])


async def test_passthrough_and_raw_redact_an_echo(echo: Echo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = KEYS[1]
    server = await echo(reply_401)
    models = Passthrough(server.base_url, api_key=key)
    try:
        got = await models.get("/models")
    finally:
        await models.aclose()
    assert got.status == 401
    assert key not in got.body.decode()
    raw = await post_raw(server.base_url + "/responses", {"model": "m"}, {"authorization": f"Bearer {key}"})
    assert raw.status == 401
    assert key not in raw.body.decode() and b"[redacted]" in raw.body
    assert all(key not in value for value in raw.headers.values())
    assert key not in raw.reason
    assert_logs_clean(caplog, [key])


async def test_connection_errors_carry_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    """No server at all: the error is typed and its chain (httpx, httpcore, OSError) is clean."""
    caplog.set_level(logging.DEBUG)
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    key = KEYS[0]
    async with AsyncClient(
        transport=HTTPTransport(f"http://user:{key}@127.0.0.1:{port}/v1", api_key=key)
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.responses.create(model="m", input="x")
    assert_no_secret(caught.value, [key])
    assert_logs_clean(caplog, [key])


# -- the redactor itself (sans I/O) ----------------------------------------------------------


def test_redactor_replaces_exact_secrets_and_patterns() -> None:
    redactor = Redactor(["opaque0123456789", None, "short"])
    assert redactor.text("a opaque0123456789 b") == "a [redacted] b"
    assert redactor.text("short stays") == "short stays"  # below MIN_SECRET_LENGTH
    assert redactor.bytes(b'{"k":"opaque0123456789"}') == b'{"k":"[redacted]"}'
    assert (
        redactor.message("Bearer abcdef123456 and sk-live-0123456789") == "Bearer [redacted] and [redacted]"
    )
    assert "opaque" not in repr(redactor) and repr(redactor) == "Redactor(1 forms)"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Incorrect API key provided: sk-proj-abc123XYZ456.", "Incorrect API key provided: [redacted]."),
        ("Authorization: Bearer abcdefgh12345", "Authorization: Bearer [redacted]"),
        ('{"x-api-key": "k123456789"}', '{"x-api-key": "[redacted]"}'),
        ("api_key=abcd1234&x=1", "api_key=[redacted]&x=1"),
        ("https://user:hunter22@host/v1", "https://user:[redacted]@host/v1"),
        ("GET /v1/models?key=AIzaSyA-1234567890abcdefghij", "GET /v1/models?key=[redacted]"),
        ("gsk_abcdef123456 hf_abcDEF12345 xai-abc12345678", "[redacted] [redacted] [redacted]"),
        # ordinary text is left alone
        ("Bearer authentication required", "Bearer authentication required"),
        ("model gpt-4o-mini not found; task-1234567", "model gpt-4o-mini not found; task-1234567"),
        ("the password is wrong", "the password is wrong"),
        ("hf-internal-testing/tiny-model", "hf-internal-testing/tiny-model"),
    ],
)
def test_scrub_patterns(text: str, kept: str) -> None:
    assert scrub(text) == kept


def test_redactor_cleans_an_exception_chain_in_place() -> None:
    secret = "opaque0123456789ABCDEF"
    redactor = Redactor([secret])
    try:
        try:
            Response.model_validate({"id": secret})
        except ValidationError as exc:
            raise ProtocolError(f"bad body {secret}", data=secret.encode()) from exc
    except ProtocolError as exc:
        exc.add_note(f"attempt 1 sent {secret}")
        error = exc
    assert secret in str(error.__cause__)
    redactor.exception(error)
    assert_no_secret(error, [secret])
    assert type(error.__cause__).__name__ == "RedactedCause"
    assert "ValidationError" in str(error.__cause__)


# -- TLS ------------------------------------------------------------------------------------------


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_tls_verification_is_on_by_default(tmp_path: Path) -> None:
    """A server with a self-signed certificate is refused: the request is never sent."""
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            requests.append(await reader.readuntil(b"\r\n\r\n"))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        transport = HTTPTransport(f"https://127.0.0.1:{port}/v1", api_key=KEYS[0])
        async with AsyncClient(transport=transport) as client:
            with pytest.raises(APIConnectionError) as caught:
                await client.responses.create(model="m", input="x")
    finally:
        server.close()
        await server.wait_closed()
    chain = " ".join(str(link) for link in _chain(caught.value))
    assert "CERTIFICATE_VERIFY_FAILED" in chain or "certificate verify failed" in chain.lower()
    assert not caught.value.retryable or isinstance(caught.value, APIConnectionError)
    assert requests == []  # nothing (no key) went over an unverified connection
    assert_no_secret(caught.value, [KEYS[0]])


def test_no_repr_shows_a_key_or_a_url_password() -> None:
    from openresponses import Client, Provider
    from openresponses.transports.http import HTTPTransport

    url = "http://user:pw-hunter2-secret@127.0.0.1:9/v1"
    key = "sk-repr-secret-0123456789abcdef"
    objects = [
        Provider("a", url, api_key=key),
        HTTPTransport(url, api_key=key),
        AsyncClient(base_url=url, api_key=key),
        Client(base_url=url, api_key=key),
    ]
    for value in objects:
        text = repr(value)
        assert key not in text and "pw-hunter2-secret" not in text, text
