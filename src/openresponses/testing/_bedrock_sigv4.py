"""SigV4 checking for the fake Bedrock upstream: the signature recomputed with botocore.

:func:`check_sigv4` reads the ``Authorization`` header (``AWS4-HMAC-SHA256 Credential=AKID/
DATE/REGION/SERVICE/aws4_request, SignedHeaders=..., Signature=<64 hex>``), checks its scope
(access key, region, service ``bedrock``, the date of ``x-amz-date``), that ``host`` and
``x-amz-date`` are signed, that ``x-amz-content-sha256`` is the hash of the exact body bytes
and that a session token is sent and signed, then recomputes the signature from the received
method, path, signed headers and body with botocore's ``SigV4Auth`` and the test credentials.
It returns what is wrong (``None`` when the request is authentic), as AWS answers it.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["TEST_CREDENTIALS", "SigV4Problem", "StaticCredentials", "check_sigv4"]

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_DATE = re.compile(r"^\d{8}T\d{6}Z$")
#: AWS rejects a request signed more than this far from its clock.
MAX_SKEW = datetime.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    """Fixed AWS credentials for tests (``access_key``, ``secret_key``, ``token``); the secret
    never appears in the repr."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        token = ", token=[redacted]" if self.token else ""
        return f"StaticCredentials(access_key={self.access_key!r}, secret_key=[redacted]{token})"


#: The credentials the fake upstream expects by default (AWS's documentation example key pair).
TEST_CREDENTIALS = StaticCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


@dataclass(frozen=True, slots=True)
class SigV4Problem:
    """Why a request was refused: the AWS error type and message AWS would answer with."""

    error_type: str
    message: str


def check_sigv4(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: StaticCredentials,
    region: str,
    service: str = "bedrock",
    now: datetime.datetime | None = None,
) -> SigV4Problem | None:
    """``None`` when ``Authorization`` is a valid SigV4 signature of this exact request."""
    lowered = {name.lower(): value for name, value in headers.items()}
    match = _AUTH.match(lowered.get("authorization", ""))
    if match is None:
        return SigV4Problem("IncompleteSignatureException", "Authorization header is not a SigV4 signature.")
    if match["key"] != credentials.access_key:
        return SigV4Problem(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    amz_date = lowered.get("x-amz-date", "")
    if not _DATE.match(amz_date) or not amz_date.startswith(match["date"]):
        return SigV4Problem(
            "IncompleteSignatureException", f"x-amz-date {amz_date!r} is missing or not the scope's date."
        )
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    if abs((now or datetime.datetime.now(datetime.UTC)) - when) > MAX_SKEW:
        return SigV4Problem("InvalidSignatureException", "Signature expired: the request time is too skewed.")
    if match["region"] != region or match["service"] != service:
        return SigV4Problem(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region ({region}) and service ({service}).",
        )
    signed = match["signed"].split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return SigV4Problem("InvalidSignatureException", f"'{required}' must be a signed header.")
    missing = [name for name in signed if name not in lowered]
    if missing:
        return SigV4Problem("InvalidSignatureException", f"signed headers {missing} were not sent.")
    content_hash = lowered.get("x-amz-content-sha256")
    if content_hash is not None and content_hash != hashlib.sha256(body).hexdigest():
        return SigV4Problem("InvalidSignatureException", "x-amz-content-sha256 does not match the body.")
    if credentials.token and (
        lowered.get("x-amz-security-token") != credentials.token or "x-amz-security-token" not in signed
    ):
        return SigV4Problem(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    expected = _signature(
        method, target, {name: lowered[name] for name in signed}, body, credentials, region, service, amz_date
    )
    if not hmac.compare_digest(expected, match["signature"]):
        return SigV4Problem(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return None


def _signature(
    method: str,
    target: str,
    signed_headers: dict[str, str],
    body: bytes,
    credentials: StaticCredentials,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    url = f"http://{signed_headers['host']}{target}"
    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=signed_headers)
    request.context["timestamp"] = amz_date
    auth = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(credentials.access_key, credentials.secret_key, credentials.token),
        service,
        region,
    )
    canonical = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical), request))
