"""AWS request signing for Bedrock Converse: SigV4 with botocore, credentials resolved lazily.

:class:`SigV4Signer` signs one request from its exact method, URL, headers and body bytes with
botocore's ``SigV4Auth`` (signing name ``bedrock``, the service model's ``signingName``). The
credentials come from the standard AWS chain (environment, shared config and credentials files,
SSO, container and instance metadata) through ``botocore.session``, resolved on the first call in
a worker thread (the chain may do network I/O) and refreshed in a thread when botocore says they
expire soon; or they are injected (tests, a caller with its own chain). botocore is imported
only here and only when signing, so the core never needs it: without it the one line names the
``bedrock`` extra.

The secret key never leaves this module: the signed headers (``Authorization`` carries the
access key id and the signature, ``x-amz-security-token`` the session token) are returned to the
transport, which redacts them from every error and log.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from .._errors import ConfigError
from .._extras import MissingExtraError

__all__ = [
    "DEFAULT_REGION",
    "SIGNING_NAME",
    "AWSCredentials",
    "SigV4Signer",
    "import_botocore",
    "region_from_host",
    "resolve_region",
]

#: The region used when none is given and neither ``AWS_REGION`` nor ``AWS_DEFAULT_REGION`` is set.
DEFAULT_REGION = "us-east-1"
#: The SigV4 signing name of Bedrock Runtime (``signingName`` in botocore's service model).
SIGNING_NAME = "bedrock"

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
# bedrock-runtime.us-east-1.amazonaws.com, bedrock-runtime-fips.us-gov-west-1.amazonaws.com,
# bedrock-runtime.cn-north-1.amazonaws.com.cn
_HOST = re.compile(r"^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


@runtime_checkable
class AWSCredentials(Protocol):
    """What signing needs: botocore's ``Credentials`` (or anything with the same three fields)."""

    access_key: str
    secret_key: str
    token: str | None


def import_botocore(feature: str = "BedrockConverseDialect") -> tuple[ModuleType, ModuleType]:
    """``(botocore.auth, botocore.awsrequest)``; one line naming the ``bedrock`` extra if missing."""
    try:
        import botocore.auth
        import botocore.awsrequest
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "botocore":
            raise
        raise MissingExtraError(feature, "bedrock", missing=exc.name) from None
    return botocore.auth, botocore.awsrequest


def resolve_region(region: str | None) -> str:
    """``region``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else :data:`DEFAULT_REGION`.

    A value that is not shaped like a region (``us-east-1``) is a ``ConfigError`` naming it.
    """
    value = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    value = value.strip()
    if not _REGION.match(value):
        raise ConfigError(f"not an AWS region: {value!r} (expected e.g. 'us-east-1')", key="region")
    return value


def region_from_host(host: str) -> str | None:
    """The region named by a public Bedrock Runtime host name, else ``None`` (loopback, VPC)."""
    match = _HOST.match(host.split(":", 1)[0].lower())
    return match.group(1) if match else None


class SigV4Signer:
    """Sign Bedrock requests with SigV4 (``bedrock``); thread-safe, one per dialect.

    ``credentials`` is injected (botocore ``Credentials``, ``RefreshableCredentials`` or any
    :class:`AWSCredentials`); ``None`` resolves the standard chain on first use, for
    ``profile`` when given. The request's region is the one its host names
    (``bedrock-runtime.eu-west-1.amazonaws.com``), else ``region``: a signature scoped to
    another region than the endpoint's is always rejected.
    """

    def __init__(self, region: str, *, credentials: Any = None, profile: str | None = None) -> None:
        if credentials is not None and not (
            isinstance(credentials, AWSCredentials) or hasattr(credentials, "get_frozen_credentials")
        ):
            raise ConfigError(
                "credentials must be botocore Credentials or have access_key, secret_key and token",
                key="credentials",
            )
        self.region = region
        self.profile = profile
        self._credentials: Any = credentials
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        source = "injected" if self._credentials is not None else "default chain"
        return f"SigV4Signer(region={self.region!r}, credentials={source})"

    async def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """The headers to add: ``authorization``, ``x-amz-date``, ``x-amz-content-sha256`` and,
        for temporary credentials, ``x-amz-security-token``."""
        frozen = self._frozen_now()
        if frozen is None:
            # The chain may read files, call SSO or the instance metadata service: not on the loop.
            frozen = await asyncio.to_thread(self._frozen_blocking)
        return self.sign_with(frozen, method, url, headers, body)

    def sign_with(
        self, credentials: AWSCredentials, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """Sign with these credentials now (sans I/O apart from the clock botocore reads)."""
        auth, awsrequest = import_botocore()
        lowered = {name.lower(): value for name, value in headers.items()}
        host = lowered.get("host") or urlsplit(url).netloc
        region = region_from_host(host) or self.region
        # Sign only what a proxy or the HTTP stack will not rewrite: host, content type and the
        # x-amz-* headers. SigV4 requires host and the date; the payload hash covers the body.
        to_sign = {"host": host, "x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
        if "content-type" in lowered:
            to_sign["content-type"] = lowered["content-type"]
        request = awsrequest.AWSRequest(method=method, url=url, data=body, headers=to_sign)
        auth.SigV4Auth(credentials, SIGNING_NAME, region).add_auth(request)
        signed = {name.lower(): str(value) for name, value in request.headers.items()}
        return {
            name: value
            for name, value in signed.items()
            if name in ("authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token")
        }

    # -- credentials ----------------------------------------------------------------------------

    def _frozen_now(self) -> AWSCredentials | None:
        """Credentials usable without blocking, or ``None`` (resolve or refresh in a thread)."""
        credentials = self._credentials
        if credentials is None:
            return None
        refresh_needed = getattr(credentials, "refresh_needed", None)
        if callable(refresh_needed) and refresh_needed():
            return None
        frozen: AWSCredentials = (
            credentials.get_frozen_credentials()
            if hasattr(credentials, "get_frozen_credentials")
            else credentials
        )
        return frozen

    def _frozen_blocking(self) -> AWSCredentials:
        with self._lock:  # one resolution at a time; later callers reuse its result
            if self._credentials is None:
                self._credentials = self._resolve_chain()
            credentials = self._credentials
            if hasattr(credentials, "get_frozen_credentials"):
                return credentials.get_frozen_credentials()  # type: ignore[no-any-return]
            return credentials  # type: ignore[no-any-return]

    def _resolve_chain(self) -> Any:
        import_botocore()
        import botocore.session

        session = botocore.session.Session(profile=self.profile)
        try:
            credentials = session.get_credentials()
        except Exception as exc:  # a broken profile, an SSO session that expired, ...
            raise ConfigError(
                f"could not load AWS credentials ({type(exc).__name__}: {exc})", key="credentials"
            ) from None
        if credentials is None:
            raise ConfigError(
                "no AWS credentials found (the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "~/.aws/credentials and config, SSO, container or instance roles); pass credentials= "
                "or use a Bedrock API key (api_key_env='AWS_BEARER_TOKEN_BEDROCK')",
                key="credentials",
            )
        return credentials
