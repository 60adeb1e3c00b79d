"""Conformance checks for Open Responses servers, from the command line or from pytest.

Each :class:`Check` sends real requests to a server and judges every status line, header, body
and SSE event against the bundled OpenAPI document and the spec's framing and ordering rules
(R5-R9, R18, R35-R52; see docs/conformance.md for the table). It needs ``jsonschema``:
``pip install 'openresponses-python[check]'``.

In pytest, one test per check::

    import pytest
    from openresponses.testing.compliance import CHECKS, assert_passes

    @pytest.mark.parametrize("check", CHECKS, ids=str)
    def test_open_responses_conformance(check):
        assert_passes(check, base_url="http://127.0.0.1:8080/v1", model="my-model")

Or all at once: ``results = run_checks("http://127.0.0.1:8080/v1", model="my-model")``, or
``openresponses check http://127.0.0.1:8080/v1 --model my-model`` in CI. The validators are
public too, for your own tests: :func:`validate_response`, :func:`validate_stream`,
:func:`validate_compaction`, :func:`validate_error_body` return lists of problems.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fnmatch
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from .._errors import APIConnectionError, APITimeoutError
from ..transports.raw import RawSession
from ._conformance_checks import Check, CheckContext, CheckFailure, StreamCapture
from ._conformance_rules import validate_compaction, validate_error_body, validate_response, validate_stream
from ._conformance_scenarios import CHECKS
from ._conformance_ws import WS_CHECKS
from ._spec_schema import require_jsonschema

__all__ = [
    "CHECKS",
    "Check",
    "CheckContext",
    "CheckFailure",
    "CheckResult",
    "WS_CHECKS",
    "StreamCapture",
    "aassert_passes",
    "arun_checks",
    "assert_passes",
    "run_checks",
    "select_checks",
    "validate_compaction",
    "validate_error_body",
    "validate_response",
    "validate_stream",
]

_T = TypeVar("_T")
_REDACTED = "[redacted]"
_SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "proxy-authorization")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check against one server.

    ``detail`` is a one-line summary, followed on failure by one ``- problem`` line per problem
    found. Credentials never appear in it (they are redacted even if a server echoes them).
    """

    id: str
    title: str
    passed: bool
    detail: str
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``openresponses check --json`` prints per check)."""
        return asdict(self)

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.id}: {self.detail}"


def select_checks(
    filter: str | Iterable[str] | None = None, checks: Sequence[Check] = CHECKS
) -> tuple[Check, ...]:
    """The checks whose id matches ``filter``: ids or globs (``streaming*``), a list or a
    comma-separated string; ``None`` selects all. Registry order is kept. A pattern that matches
    nothing raises ``ValueError`` naming the known ids (a typo must not pass silently)."""
    if filter is None:
        return tuple(checks)
    raw = filter.split(",") if isinstance(filter, str) else list(filter)
    patterns = [pattern.strip() for pattern in raw if pattern.strip()]
    if not patterns:
        raise ValueError("empty check filter")
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(c.id, p) for c in checks)]
    if unknown:
        known = ", ".join(check.id for check in checks)
        raise ValueError(f"no check matches {', '.join(map(repr, unknown))}; known checks: {known}")
    return tuple(check for check in checks if any(fnmatch.fnmatchcase(check.id, p) for p in patterns))


async def arun_checks(
    base_url: str,
    *,
    model: str,
    api_key: str | None = None,
    filter: str | Iterable[str] | None = None,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
    checks: Sequence[Check] = CHECKS,
) -> list[CheckResult]:
    """Run the selected checks against ``base_url`` (``http://host/v1``), one after another.

    ``api_key`` is sent as ``Authorization: Bearer``; ``headers`` adds any others your server
    needs. ``timeout`` bounds each HTTP exchange, streams included. A check that fails, times
    out or cannot connect becomes a failed :class:`CheckResult`; nothing raises except a bad
    ``filter`` (``ValueError``) or a missing ``jsonschema`` (``ImportError`` naming the extra).
    Checks run sequentially: a conformance gate should not look like a load test, and one
    shared context lets ``streaming`` and ``streaming-done`` judge the same stream.
    """
    require_jsonschema()
    selected = select_checks(filter, checks)
    sent = dict(headers or {})
    if api_key:
        sent["authorization"] = f"Bearer {api_key}"
    secrets = [api_key] if api_key else []
    secrets += [value for name, value in sent.items() if name.lower() in _SECRET_HEADERS and value]
    async with RawSession(timeout) as session:
        context = CheckContext(
            _normalise(base_url), model=model, headers=sent, timeout=timeout, session=session
        )
        return [await _run_one(context, check, secrets) for check in selected]


def run_checks(
    base_url: str,
    *,
    model: str,
    api_key: str | None = None,
    filter: str | Iterable[str] | None = None,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
    checks: Sequence[Check] = CHECKS,
) -> list[CheckResult]:
    """The blocking form of :func:`arun_checks` (works inside a running event loop too)."""
    return _run_sync(
        arun_checks(
            base_url,
            model=model,
            api_key=api_key,
            filter=filter,
            timeout=timeout,
            headers=headers,
            checks=checks,
        )
    )


async def aassert_passes(
    check: Check | str,
    *,
    base_url: str,
    model: str,
    api_key: str | None = None,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
) -> CheckResult:
    """Run one check (a :class:`Check` or its id); raise ``AssertionError`` with the detail if it
    fails. Returns the result, so a test can also look at ``detail`` or ``duration_s``."""
    chosen = check if isinstance(check, Check) else select_checks([check])[0]
    (result,) = await arun_checks(
        base_url, model=model, api_key=api_key, timeout=timeout, headers=headers, checks=(chosen,)
    )
    if not result.passed:
        raise AssertionError(f"conformance check {result.id!r} ({result.title}) failed: {result.detail}")
    return result


def assert_passes(
    check: Check | str,
    *,
    base_url: str,
    model: str,
    api_key: str | None = None,
    timeout: float = 60.0,
    headers: Mapping[str, str] | None = None,
) -> CheckResult:
    """The blocking form of :func:`aassert_passes`, for ``@pytest.mark.parametrize`` tests."""
    __tracebackhide__ = True  # pytest shows the assertion, not this frame
    return _run_sync(
        aassert_passes(
            check, base_url=base_url, model=model, api_key=api_key, timeout=timeout, headers=headers
        )
    )


async def _run_one(context: CheckContext, check: Check, secrets: list[str]) -> CheckResult:
    started = time.monotonic()
    passed = False
    try:
        detail = await check.run(context)
        passed = True
    except CheckFailure as exc:
        detail = str(exc)
    except APITimeoutError as exc:
        detail = f"timed out: {exc}"
    except APIConnectionError as exc:
        detail = f"could not reach {context.base_url}: {exc}"
    except Exception as exc:  # a bug in a check must not hide the other results
        detail = f"internal error in check {check.id!r} (please report it): {type(exc).__name__}: {exc}"
    for secret in secrets:
        detail = detail.replace(secret, _REDACTED)
    return CheckResult(check.id, check.title, passed, detail, round(time.monotonic() - started, 4))


def _normalise(base_url: str) -> str:
    """``http://host/v1/`` and ``http://host/v1/responses`` both mean ``http://host/v1``."""
    url = base_url.strip().rstrip("/")
    return url.removesuffix("/responses")


def _run_sync(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run to completion here, or on a worker thread when this thread already runs a loop
    (a sync helper called from an async test or a notebook must not fail)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="openresponses-check") as pool:
        return pool.submit(asyncio.run, coroutine).result()
