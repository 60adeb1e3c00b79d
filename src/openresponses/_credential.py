"""Credential fingerprints: who a call is made as, without ever holding the key.

A cache must not serve one tenant's answer to another, and metrics or a proxy may want to tell
callers apart; none of them may see an API key. A *fingerprint* is a keyed hash of the key:
``cred_`` followed by 32 hex digits (128 bits of HMAC-SHA256).

The HMAC key is **stable across processes** on purpose: workers and hosts sharing one Redis
cache must compute the same namespace for the same credential, so a per-process random key
(which would split every shared cache by process) is not an option. By default it is a fixed,
public domain-separation string, which makes the fingerprint a salted SHA-256 of the credential:
it identifies a key without revealing it (API keys carry 128+ bits of entropy; a fingerprint can
only confirm a guess). Set ``OPENRESPONSES_FINGERPRINT_KEY`` (read once, at first use) to a
secret of your own, the same on every process that shares a store, to make fingerprints
unlinkable by anyone who does not hold it (e.g. fingerprints seen in telemetry).

Where the credential comes from, in order: an authorization-like header of the call itself
(``extra_headers={"authorization": ...}`` wins on the wire, so it wins here), then
``CallContext.credential`` (set by whoever builds the call), then the key of the transport(s) the
stack sends through (:func:`credential_of`: the client's ``api_key`` or its environment variable,
a ``Provider``'s ``api_key`` / ``api_key_env``, every member of a ``Failover``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "AUTH_HEADERS",
    "ENV_FINGERPRINT_KEY",
    "credential_fingerprint",
    "credential_of",
    "header_credential",
]

#: The environment variable holding an optional secret HMAC key for fingerprints.
ENV_FINGERPRINT_KEY = "OPENRESPONSES_FINGERPRINT_KEY"
#: The request headers that carry a credential (lower case), in the order they are looked at.
AUTH_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization")

_DOMAIN = b"openresponses credential fingerprint v1"
_key: bytes | None = None


def _hmac_key() -> bytes:
    global _key
    if _key is None:
        configured = os.environ.get(ENV_FINGERPRINT_KEY)
        _key = configured.encode() if configured else _DOMAIN
    return _key


def credential_fingerprint(secret: str) -> str:
    """The fingerprint of ``secret`` (``cred_`` + 32 hex digits); never the secret itself.

    A ``Bearer`` prefix is ignored, so ``api_key="k"`` and ``Authorization: Bearer k`` give the
    same fingerprint.
    """
    text = secret.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    digest = hmac.new(_hmac_key(), text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return "cred_" + digest[:32]


def header_credential(headers: Mapping[str, str]) -> str | None:
    """The fingerprint of the first credential header in ``headers`` (any case), or ``None``."""
    if not headers:
        return None
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in AUTH_HEADERS:
        value = lowered.get(name)
        if value:
            return credential_fingerprint(value)
    return None


def combine(fingerprints: Iterable[str | None]) -> str | None:
    """One fingerprint for a set of credentials (a Failover's members); ``None`` if none is keyed."""
    known = sorted({f for f in fingerprints if f})
    if not known:
        return None
    if len(known) == 1:
        return known[0]
    return credential_fingerprint("\n".join(known))


def credential_of(handler: Any) -> str | None:
    """The fingerprint of the credential(s) ``handler`` sends with, or ``None`` when unkeyed.

    Follows the library's own handler types (composed stacks, attempt boundaries, providers,
    failover chains) down to the transports, which report ``credential`` themselves; a
    handler of another type that has a ``credential`` string attribute is asked directly.
    """
    from ._failed import RaiseOnFailed
    from ._pipeline import AttemptBoundary, _Link
    from ._provider import Provider

    seen = 0
    while True:
        seen += 1
        if seen > 64:  # a cycle, or a stack deeper than anyone builds: give up, unkeyed
            return None
        if isinstance(handler, _Link):
            handler = handler.next
        elif isinstance(handler, AttemptBoundary | RaiseOnFailed | Provider):
            handler = handler.transport
        else:
            break
    providers = _members(handler)
    if providers is not None:
        return combine(credential_of(member) for member in providers)
    value = getattr(handler, "credential", None)
    return value if isinstance(value, str) and value else None


def _members(handler: Any) -> tuple[Any, ...] | None:
    from .middleware.failover import Failover

    return handler.providers if isinstance(handler, Failover) else None
