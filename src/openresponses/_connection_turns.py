"""What a WebSocket turn may carry, and how a turn is tied to its connection in telemetry.

:func:`check_turn_params` refuses, before anything is sent, the body fields a turn cannot carry
(R55: ``stream``, ``stream_options``, ``background``) and unknown or null keywords;
:class:`TurnObserver` records the ``websocket.turn`` decision and sets the connection id and
turn number on the call span (``Tracing``'s) of each turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._decisions import Decision, Recorded
from ._errors import RequestValidationError
from ._pipeline import Request
from ._validate import check_keywords, check_no_null

__all__ = ["TurnObserver", "check_turn_params"]

#: Body fields a WebSocket turn cannot carry (R55), with why, for the error message.
_NOT_OVER_WEBSOCKET = ("stream", "stream_options", "background")
#: The turn's call options (not body fields).
_OPTIONS = frozenset({"extra_headers", "extra_body", "timeout", "continue_", "generate"})


def _body_fields() -> frozenset[str]:
    from ._client import CreateParams

    return frozenset(CreateParams.__optional_keys__) - set(_NOT_OVER_WEBSOCKET)


def check_turn_params(function: str, params: Mapping[str, Any], extra_body: object = None) -> None:
    """Reject what a WebSocket turn cannot carry, naming it, before anything is sent."""
    forbidden = [name for name in _NOT_OVER_WEBSOCKET if name in params]
    if isinstance(extra_body, Mapping):
        forbidden += [name for name in _NOT_OVER_WEBSOCKET if name in extra_body and name not in forbidden]
    if forbidden:
        raise RequestValidationError(
            f"{function}(): {', '.join(forbidden)} cannot be sent over a WebSocket (a turn is always "
            "streamed; background responses need HTTP)",
            [
                {"loc": (name,), "msg": "not allowed over WebSocket", "type": "websocket"}
                for name in forbidden
            ],
        )
    check_keywords(function, params, _body_fields())
    check_no_null(params)


class TurnObserver:
    """Ties a turn to its connection in telemetry (a ``CallObserver``; never raises)."""

    __slots__ = ("connection_id", "noted", "turn")

    def __init__(self, connection_id: str, turn: int) -> None:
        self.connection_id = connection_id
        self.turn = turn
        self.noted = False

    def on_record(self, decision: Decision) -> None:
        return None

    def on_attempt(self, request: Request, number: int) -> None:
        if self.noted:
            return None
        self.noted = True
        values: dict[str, str | int] = {"connection_id": self.connection_id, "turn": self.turn}
        _annotate_call_span({f"openresponses.websocket.{key}": value for key, value in values.items()})
        request.context.record(Recorded("websocket.turn", dict(values)))
        return None


def _annotate_call_span(attrs: Mapping[str, str | int]) -> None:
    """Set ``attrs`` on the current span when it is this library's call span (Tracing's)."""
    try:
        from opentelemetry import trace
    except ImportError:  # no otel extra: no Tracing either
        return
    try:
        span = trace.get_current_span()
        scope = getattr(span, "instrumentation_scope", None)
        if span.is_recording() and getattr(scope, "name", None) == "openresponses":
            span.set_attributes(dict(attrs))
    except Exception:  # telemetry never breaks the call
        return
