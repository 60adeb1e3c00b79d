"""Every row of the one retryability rule (``_policy.decide``), as printed in docs/resilience.md."""

from __future__ import annotations

from typing import Any

import pytest

from openresponses import (
    AllProvidersFailed,
    APIConnectionError,
    APITimeoutError,
    CircuitOpenError,
    ProtocolError,
    RequestValidationError,
    ResponseFailedError,
    RetryBudgetExhausted,
    StreamInterrupted,
)
from openresponses.middleware import Retry
from openresponses.middleware._policy import decide
from openresponses.middleware.failover import should_failover
from openresponses.testing import status_error
from openresponses.types import ErrorPayload


def failed(error_type: str, code: str | None = None, *, delivered: int = 0) -> ResponseFailedError:
    error = ErrorPayload(type=error_type, code=code, message="m", param=None)
    return ResponseFailedError("failed", event=None, error=error, events_delivered=delivered)


def status(code: int, **headers: str) -> Any:
    return status_error(code, headers=headers)


def body_with_code(code: int, error_code: str) -> Any:
    body = {"error": {"message": "m", "type": "invalid_request_error", "param": None, "code": error_code}}
    return status_error(code, body)


ROWS: list[tuple[str, BaseException, bool, bool]] = [
    ("content policy status", body_with_code(400, "content_filter"), False, False),
    ("content policy event", failed("invalid_request", "content_policy_violation"), False, False),
    ("context length 400", body_with_code(400, "context_length_exceeded"), False, True),
    ("context length event", failed("invalid_request", "context_length_exceeded"), False, True),
    ("x-should-retry true on 400", status(400, **{"x-should-retry": "true"}), True, True),
    ("x-should-retry false on 503", status(503, **{"x-should-retry": "false"}), False, True),
    ("408", status(408), True, True),
    ("409", status(409), True, True),
    ("429", status(429), True, True),
    ("498 (Groq: flex tier at capacity)", status(498), True, True),
    ("500", status(500), True, True),
    ("502", status(502), True, True),
    ("503", status(503), True, True),
    ("504", status(504), True, True),
    ("529", status(529), True, True),
    ("501", status(501), False, True),
    ("505", status(505), False, True),
    ("400", status(400), False, False),
    ("401", status(401), False, False),
    ("403", status(403), False, False),
    ("404", status(404), False, False),
    ("422", status(422), False, False),
    ("connection", APIConnectionError("refused"), True, True),
    ("read timeout", APITimeoutError("read"), True, True),
    ("first-event timeout", APITimeoutError("first_event", 5.0), True, True),
    ("server_error event before content", failed("server_error"), True, True),
    ("invalid_request event before content", failed("invalid_request"), False, True),
    ("malformed stream before content", ProtocolError("bad"), True, True),
    ("failed event after content", failed("server_error", delivered=3), False, True),
    ("interrupted", StreamInterrupted("cut", events_delivered=4), False, True),
    ("open circuit", CircuitOpenError("a", 3.0), False, True),
    ("budget exhausted", RetryBudgetExhausted("spent"), False, True),
    ("all failed, one retryable", AllProvidersFailed("x", [status(400), status(503)]), True, True),
    ("all failed, none retryable", AllProvidersFailed("x", [status(400), status(401)]), False, True),
    ("caller error", RequestValidationError("temperature: bad"), False, False),
    ("a bug", TypeError("oops"), False, False),
]


@pytest.mark.parametrize(("row", "exc", "retry", "failover"), ROWS, ids=[r[0] for r in ROWS])
def test_every_row(row: str, exc: BaseException, retry: bool, failover: bool) -> None:
    verdict = decide(exc)
    assert (verdict.retry, verdict.failover) == (retry, failover), row
    # Retry, Failover and the error's own flag read the same rule.
    assert Retry().policy.should_retry(exc) is retry
    assert should_failover(exc) is failover
    if isinstance(exc, RequestValidationError | TypeError):
        return
    if not isinstance(exc, AllProvidersFailed | ResponseFailedError | ProtocolError):
        assert getattr(exc, "retryable", False) is retry, "exc.retryable disagrees with decide()"


def test_configured_statuses_change_the_retry_column_only() -> None:
    verdict = decide(status(501), statuses={501})
    assert (verdict.retry, verdict.failover) == (True, True)
    verdict = decide(status(503), statuses={429})
    assert (verdict.retry, verdict.failover) == (False, True)


def test_groqs_498_counts_for_the_breaker_as_429_does() -> None:
    from openresponses.middleware._policy import provider_fault

    assert provider_fault(status(498)) and provider_fault(status(429))
    assert not provider_fault(status(400))
