"""Content capture for Tracing: the one door prompts, outputs and tool arguments pass through.

Capture is off unless asked for (``Tracing(capture_content=True)`` or the conventions' variable);
every string then goes through the caller's :data:`Redactor` before anything is recorded.
:func:`scrub` masks credential-shaped text in what we always record (exception messages).
Nothing here imports OpenTelemetry.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from .._pipeline import Request
from ..types import Response

__all__ = ["Content", "Redactor", "item_text", "scrub"]

logger = logging.getLogger("openresponses.telemetry")

Redactor = Callable[[str, str], "str | None"]
"""``redact(field, text)`` → the text to record, or ``None`` to record nothing for that field.

``field`` is one of ``input``, ``instructions``, ``output``, ``reasoning``, ``tool_arguments``,
``delta``. It runs before anything is recorded; if it raises, the content is dropped.
"""

# Bearer tokens and API-key-shaped strings: masked in any free text we record (exception messages).
_SECRET = re.compile(
    r"(?i)(bearer\s+)[^\s'\"]+|\b(sk|rk|pk|key|api[_-]?key)[-_][A-Za-z0-9_\-]{6,}|\b[A-Za-z0-9_\-]{32,}\b"
)


def scrub(text: str, limit: int = 500) -> str:
    """Mask credential-shaped substrings and truncate: for exception messages we record."""
    cleaned = _SECRET.sub(lambda m: (m.group(1) or "") + "[REDACTED]", text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


class Content:
    """The one path by which content (prompts, outputs, tool arguments) reaches telemetry.

    Disabled unless capture was asked for; every string goes through ``redact`` first.
    """

    __slots__ = ("enabled", "redact")

    def __init__(self, enabled: bool, redact: Redactor | None) -> None:
        self.enabled = enabled
        self.redact = redact

    def text(self, field: str, value: str | None) -> str | None:
        """``value`` after redaction, or ``None`` when capture is off or redaction dropped it."""
        if not self.enabled or value is None:
            return None
        if self.redact is None:
            return value
        try:
            return self.redact(field, value)
        except Exception:
            logger.exception("the redaction hook failed; the %s content is dropped", field)
            return None

    def input_messages(self, request: Request) -> str | None:
        """``gen_ai.input.messages`` as JSON (the conventions' message/parts shape), redacted."""
        if not self.enabled:
            return None
        raw = request.body.input
        items: list[Any] = [raw] if isinstance(raw, str) else list(raw or [])
        messages: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, str):
                text = self.text("input", item)
                if text is not None:
                    messages.append({"role": "user", "parts": [{"type": "text", "content": text}]})
                continue
            data = item.model_dump(mode="json", exclude_none=True) if hasattr(item, "model_dump") else item
            if not isinstance(data, Mapping):
                continue
            message = self._input_item(data)
            if message is not None:
                messages.append(message)
        return json.dumps(messages, ensure_ascii=False) if messages else None

    def _input_item(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        itype = data.get("type")
        if itype == "function_call_output":
            output = data.get("output")
            text = self.text("input", output if isinstance(output, str) else json.dumps(output))
            part: dict[str, Any] = {"type": "tool_call_response", "id": data.get("call_id")}
            if text is not None:
                part["response"] = text
            return {"role": "tool", "parts": [part]}
        if itype == "function_call":
            part = {"type": "tool_call", "id": data.get("call_id"), "name": data.get("name")}
            args = self.text("tool_arguments", data.get("arguments"))
            if args is not None:
                part["arguments"] = args
            return {"role": "assistant", "parts": [part]}
        role = data.get("role")
        if role is None:
            return None
        content = data.get("content")
        parts: list[dict[str, Any]] = []
        if isinstance(content, str):
            content = [{"type": "input_text", "text": content}]
        for piece in content or []:
            if not isinstance(piece, Mapping):
                continue
            text = piece.get("text")
            if isinstance(text, str):
                redacted = self.text("input", text)
                if redacted is not None:
                    parts.append({"type": "text", "content": redacted})
            else:
                parts.append({"type": str(piece.get("type", "unknown"))})
        return {"role": role, "parts": parts}

    def instructions(self, request: Request) -> str | None:
        """``gen_ai.system_instructions`` as JSON, redacted."""
        text = self.text("instructions", getattr(request.body, "instructions", None))
        if text is None:
            return None
        return json.dumps([{"type": "text", "content": text}], ensure_ascii=False)

    def output_messages(self, response: Response | None, reasons: list[str]) -> str | None:
        """``gen_ai.output.messages`` as JSON: text, reasoning and tool-call parts, redacted."""
        if not self.enabled or response is None:
            return None
        parts: list[dict[str, Any]] = []
        for item in response.output:
            itype = getattr(item, "type", None)
            if itype == "message":
                text = self.text("output", getattr(item, "text", None))
                if text is not None:
                    parts.append({"type": "text", "content": text})
            elif itype == "function_call":
                part: dict[str, Any] = {"type": "tool_call", "id": item.call_id, "name": item.name}  # type: ignore[union-attr]
                args = self.text("tool_arguments", item.arguments)  # type: ignore[union-attr]
                if args is not None:
                    part["arguments"] = args
                parts.append(part)
            elif itype == "reasoning":
                text = self.text("reasoning", item_text(item))
                if text is not None:
                    parts.append({"type": "reasoning", "content": text})
        message = {"role": "assistant", "parts": parts, "finish_reason": reasons[0] if reasons else "error"}
        return json.dumps([message], ensure_ascii=False)


def item_text(item: Any) -> str | None:
    """The text of an output item: message text, function arguments, reasoning summary + text."""
    itype = getattr(item, "type", None)
    if itype == "message":
        text = getattr(item, "text", None)
        return text if isinstance(text, str) else None
    if itype == "function_call":
        args = getattr(item, "arguments", None)
        return args if isinstance(args, str) else None
    if itype == "reasoning":
        pieces = [getattr(p, "text", "") for p in getattr(item, "summary", None) or []]
        pieces += [getattr(p, "text", "") for p in getattr(item, "content", None) or []]
        return "\n".join(p for p in pieces if p) or None
    return None
