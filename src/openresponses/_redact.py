"""Secret redaction, sans I/O: the one place that decides what a credential looks like.

Servers echo credentials back (``401 Incorrect API key provided: sk-...``, a gateway's error page
quoting the ``Authorization`` header it rejected), and the library turns server text into error
messages, notes, ``.body`` fields, events and span attributes. So every error the transports build
goes through a :class:`Redactor` before it is raised: it replaces

- the *exact* secrets the client holds and sent: the API key, the value (and the credential part)
  of every authorization-like header (``Authorization``, ``x-api-key``, ``api-key``, any header
  whose name says key/token/secret/auth), a password in the base URL; in raw and JSON-escaped
  form, at least :data:`MIN_SECRET_LENGTH` characters long;
- anything *shaped* like a credential (:func:`scrub`): ``Bearer``/``Basic`` tokens, provider key
  prefixes (``sk-``, ``sk-ant-``, ``gsk_``, ``hf_``, ``xai-``, ``AIza...``), JWTs,
  ``api_key=...`` / ``x-api-key: ...`` pairs, URL passwords and ``?key=`` query values.

:meth:`Redactor.text` and :meth:`Redactor.bytes` replace only the exact secrets (safe on any
content, even a model's answer); :meth:`Redactor.message` also applies the patterns (for error
text, where a false positive costs a word and a miss costs a key). :meth:`Redactor.exception`
cleans an exception in place: its message, ``__notes__``, ``.body`` / ``.data`` / ``.error`` /
``.headers`` / ``.response`` / ``.event`` fields, and its whole ``__cause__`` / ``__context__``
chain; a foreign exception in that chain whose text exposes a secret (a pydantic
``ValidationError`` quoting the input) is replaced by a :class:`RedactedCause` carrying its
type name and redacted message.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "RedactedCause",
    "Redactor",
    "display_url",
    "is_secret_header",
    "scrub",
    "secrets_from_headers",
    "url_basic_token",
    "url_password",
]

#: What a secret is replaced with.
REDACTED = "[redacted]"
#: Shorter exact secrets are not replaced: replacing a 3-letter key would mangle ordinary text.
MIN_SECRET_LENGTH = 8

E = TypeVar("E", bound=BaseException)

# A credential-shaped token must contain a digit, a '*' (a masked key) or a separator: ordinary
# words after "Bearer" ("Bearer authentication required") are left alone.
_TOKENISH = r"(?=[^\s\"'\\]*[0-9*\-_.+/=])"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization schemes: keep the scheme word, drop the credential.
    (re.compile(r"(?i)\b(bearer|basic)(\s+)" + _TOKENISH + r"[A-Za-z0-9\-._~+/*]{8,}=*"), r"\1\2" + REDACTED),
    # name: value / name=value pairs of credential-like names (JSON, headers, query strings, prose).
    (
        re.compile(
            r"(?i)\b((?:x-)?api[-_ ]?key|x-goog-api-key|(?:access|auth|refresh|session)[-_]?token"
            r"|client[-_]?secret|secret[-_]?key|password|passwd|(?:proxy-)?authorization)"
            r"(\\?[\"']?\s*[:=]\s*\\?[\"']?)(?!(?:(?:bearer|basic)\s+)?\[redacted\])((?:bearer|basic)\s+)?"
            r"[^\s\"'\\,;&}\]]{4,}"
        ),
        r"\1\2\3" + REDACTED,
    ),
    # Query parameters that carry keys (Google's ?key=AIza..., ?token=...).
    (re.compile(r"(?i)([?&](?:key|token|sig|signature)=)[^&\s\"'\\#]{4,}"), r"\1" + REDACTED),
    # Provider key prefixes: OpenAI/Anthropic/DeepSeek sk-, Groq gsk_, Hugging Face hf_, xAI,
    # NVIDIA, Cerebras, Perplexity, Replicate, Stripe-style rk_/pk_, GitHub and GitLab tokens.
    (
        re.compile(
            r"\b(?:sk|rk|pk|gsk|hf|xai|nvapi|csk|pplx|r8|ghp|gho|ghs|github_pat|glpat)[-_]"
            + r"(?=[A-Za-z0-9._*\-]*[0-9*])[A-Za-z0-9._*\-]{5,}[A-Za-z0-9_*\-]"
        ),
        REDACTED,
    ),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"), REDACTED),  # Google API keys
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{6,}\.eyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*"), REDACTED),  # JWTs
    # A password in a URL's userinfo.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/:@\"'\\]*):[^\s/@\"'\\]+@"), r"\1:" + REDACTED + "@"),
)

_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"}
)
_SECRET_WORDS = ("key", "token", "secret", "auth", "password", "credential", "signature")
_NOT_SECRET_HEADERS = frozenset({"idempotency-key", "x-idempotency-key"})
# JSON keys whose string value is a credential: stricter than header names, because bodies have
# ordinary fields like ``max_tokens`` and ``prompt_cache_key``.
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "x_goog_api_key",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "secret",
        "secret_key",
        "password",
        "token",
        "cookie",
        "set_cookie",
    }
)
_SCHEMES = ("bearer ", "basic ", "token ", "apikey ", "key ")
# scheme://user:password@ (the scheme optional: a mistyped base URL may lack it).
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^/?#@:]*):([^/?#@]*)@")
#: The exception fields the library puts server text into.
_FIELDS = (
    "body",
    "data",
    "error",
    "headers",
    "response",
    "event",
    "events",
    "param",
    "message",
    "request_id",
)


def scrub(text: str) -> str:
    """``text`` with everything shaped like a credential replaced by ``[redacted]`` (no exact secrets)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def is_secret_header(name: str) -> bool:
    """Whether a header (or a JSON key) of this name carries a credential."""
    lowered = name.lower()
    if lowered in _NOT_SECRET_HEADERS:
        return False
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def _is_secret_key(name: str) -> bool:
    return name.lower().replace("-", "_") in _SECRET_KEYS


def secrets_from_headers(headers: Mapping[str, str]) -> list[str]:
    """The credentials in ``headers``: each authorization-like value, or its part after the scheme
    (``Bearer sk-...`` gives ``sk-...``, so an echo reads ``Bearer [redacted]``)."""
    found: list[str] = []
    for name, value in headers.items():
        if not isinstance(value, str) or not is_secret_header(name):
            continue
        value = value.strip()
        lowered = value.lower()
        scheme = next((s for s in _SCHEMES if lowered.startswith(s)), None)
        found.append(value[len(scheme) :].strip() if scheme else value)
    return found


def url_password(url: str) -> str | None:
    """The password in ``url``'s userinfo (``https://user:PASSWORD@host``), if any."""
    match = _USERINFO.match(url)
    return urllib.parse.unquote(match.group(2)) if match and match.group(2) else None


def url_basic_token(url: str) -> str | None:
    """The ``Authorization: Basic`` token httpx derives from ``url``'s userinfo, if it has a password."""
    match = _USERINFO.match(url)
    if not match or not match.group(2):
        return None
    user = match.group(1).rsplit("://", 1)[-1]
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(match.group(2))}"
    return base64.b64encode(pair.encode()).decode()


def display_url(url: str) -> str:
    """``url`` safe to show: a userinfo password replaced (``https://user:[redacted]@host/v1``)."""
    return _USERINFO.sub(r"\1:" + REDACTED + "@", url, count=1)


class RedactedCause(Exception):
    """Stands in, in a cause chain, for a foreign exception whose text exposed a secret.

    ``original_type`` is the qualified name of the exception it replaces; the message is that
    exception's message, redacted. Its own cause chain and traceback are kept.
    """

    def __init__(self, original_type: str, message: str) -> None:
        super().__init__(f"{original_type}: {message}")
        self.original_type = original_type


class Redactor:
    """Replaces known secrets (exactly) and credential-shaped text (by pattern); immutable.

    ``Redactor(["sk-live-..."])``; :meth:`with_secrets` / :meth:`with_headers` give a new one
    with more. Secrets shorter than :data:`MIN_SECRET_LENGTH` are ignored. The repr shows how
    many forms it holds, never a secret.
    """

    __slots__ = ("_bytes", "_text")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: dict[str, None] = {}
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
                forms[secret] = None
                forms[json.dumps(secret)[1:-1]] = None  # as it appears inside a JSON string
        # Longest first, so a secret that contains another is replaced whole.
        self._text: tuple[str, ...] = tuple(sorted(forms, key=len, reverse=True))
        self._bytes: tuple[bytes, ...] = tuple(s.encode() for s in self._text)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The exact forms replaced (for building a bigger redactor; never log them)."""
        return self._text

    def with_secrets(self, secrets: Iterable[str | None]) -> Redactor:
        """A redactor that also replaces ``secrets``."""
        more = [s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH]
        if all(s in self._text for s in more):
            return self
        return Redactor([*self._text, *more])

    def with_headers(self, headers: Mapping[str, str]) -> Redactor:
        """A redactor that also replaces the credentials in ``headers`` (see :func:`secrets_from_headers`)."""
        return self.with_secrets(secrets_from_headers(headers))

    def __bool__(self) -> bool:
        return bool(self._text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._text)} forms)"

    # -- strings --------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced (patterns not applied: safe on content)."""
        for secret in self._text:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def bytes(self, data: bytes) -> bytes:
        """``data`` with every known secret replaced (patterns not applied)."""
        for secret in self._bytes:
            if secret in data:
                data = data.replace(secret, REDACTED.encode())
        return data

    def message(self, value: str) -> str:
        """Error text: known secrets and credential-shaped text replaced."""
        return scrub(self.text(value))

    def message_bytes(self, data: builtins.bytes) -> builtins.bytes:
        """Error bytes (a body kept on an error): known secrets and credential-shaped text replaced."""
        cleaned = self.bytes(data)
        text = cleaned.decode("utf-8", "surrogateescape")
        scrubbed = scrub(text)
        return cleaned if scrubbed == text else scrubbed.encode("utf-8", "surrogateescape")

    # -- structures -----------------------------------------------------------------------------

    def value(self, obj: Any) -> Any:
        """``obj`` with its strings redacted as error text: str, bytes, dicts (values of
        credential-like keys replaced whole), lists, tuples and pydantic models (a model comes
        back as a new instance only when something changed)."""
        return self._value(obj, 0, True)

    def exact(self, obj: Any) -> Any:
        """``obj`` (same shapes as :meth:`value`) with only the known secrets replaced: for
        content such as a partial answer, where a pattern could mangle a code sample."""
        return self._value(obj, 0, False) if self._text else obj

    def _value(self, obj: Any, depth: int, full: bool) -> Any:
        if depth > 32:
            return obj
        if isinstance(obj, str):
            return self.message(obj) if full else self.text(obj)
        if isinstance(obj, bytes | bytearray):
            return self.message_bytes(bytes(obj)) if full else self.bytes(bytes(obj))
        if isinstance(obj, dict):
            changed = False
            out: dict[Any, Any] = {}
            for key, item in obj.items():
                if full and isinstance(key, str) and _is_secret_key(key) and isinstance(item, str) and item:
                    new: Any = REDACTED if item != REDACTED else item
                else:
                    new = self._value(item, depth + 1, full)
                changed = changed or new is not item
                out[key] = new
            return out if changed else obj
        if isinstance(obj, list | tuple):
            items = [self._value(item, depth + 1, full) for item in obj]
            if all(a is b for a, b in zip(items, obj, strict=True)):
                return obj
            return type(obj)(items) if isinstance(obj, tuple) else items
        if isinstance(obj, BaseModel):
            return self._model(obj, depth, full)
        return obj

    def _model(self, model: BaseModel, depth: int, full: bool) -> BaseModel:
        dumped = model.model_dump(mode="json", exclude_unset=True, by_alias=True)
        cleaned = self._value(dumped, depth + 1, full)
        if cleaned is dumped:
            return model
        try:
            fresh = type(model).model_validate(cleaned)
        except Exception:  # a model that cannot round-trip: keep it only if it is clean
            return model
        private = getattr(model, "__pydantic_private__", None)
        if private:
            object.__setattr__(fresh, "__pydantic_private__", dict(private))  # e.g. Response._provider
        return fresh

    # -- exceptions -----------------------------------------------------------------------------

    def exception(self, exc: E) -> E:
        """``exc`` cleaned in place (message, notes, fields, cause chain) and returned."""
        self._exception(exc, {})
        return exc

    def _exception(self, exc: BaseException, done: dict[int, BaseException]) -> None:
        if id(exc) in done:
            return
        done[id(exc)] = exc
        args = tuple(self._value(arg, 0, True) for arg in exc.args)
        if any(new is not old for new, old in zip(args, exc.args, strict=True)):
            with contextlib.suppress(AttributeError, TypeError):
                exc.args = args
        notes = getattr(exc, "__notes__", None)
        if isinstance(notes, list):
            exc.__notes__ = [self.message(note) if isinstance(note, str) else note for note in notes]
        fields = getattr(exc, "__dict__", {})
        for name in _FIELDS:
            if name in fields:
                value = fields[name]
                cleaned = self._value(value, 0, True)
                if cleaned is not value:
                    with contextlib.suppress(AttributeError, TypeError):  # a read-only field
                        setattr(exc, name, cleaned)
        if isinstance(exc, BaseExceptionGroup):
            for sub in exc.exceptions:
                self._exception(sub, done)
        cause = exc.__cause__
        if cause is not None:
            exc.__cause__ = self._linked(cause, done)
        context = exc.__context__
        if context is not None:
            replaced = self._linked(context, done)
            if replaced is not context:
                suppress = exc.__suppress_context__
                exc.__context__ = replaced
                exc.__suppress_context__ = suppress

    def _linked(self, linked: BaseException, done: dict[int, BaseException]) -> BaseException:
        """A chained exception cleaned in place, or, when its text cannot be cleaned in place (a
        pydantic ``ValidationError`` computes it), replaced by a :class:`RedactedCause`."""
        if id(linked) in done:
            return done[id(linked)]
        self._exception(linked, done)  # args, notes and fields: enough for most exceptions
        if not self._exposes(linked):
            return linked
        stand_in = RedactedCause(type(linked).__qualname__, self.message(_safe_str(linked)))
        stand_in.__cause__ = linked.__cause__
        stand_in.__context__ = linked.__context__
        stand_in.__suppress_context__ = linked.__suppress_context__
        stand_in.__traceback__ = linked.__traceback__
        done[id(linked)] = stand_in
        self._exception(stand_in, done)
        return stand_in

    def _exposes(self, exc: BaseException) -> bool:
        """Whether ``exc``'s text or fields hold anything this redactor would replace."""
        texts = [_safe_str(exc), _safe_repr(exc)]
        for value in [*exc.args, *getattr(exc, "__dict__", {}).values(), getattr(exc, "object", None)]:
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, bytes | bytearray):
                texts.append(bytes(value).decode("utf-8", "replace"))
        return any(self.message(text) != text for text in texts)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__}>"


def _safe_repr(exc: BaseException) -> str:
    try:
        return repr(exc)
    except Exception:
        return f"<{type(exc).__name__}>"
