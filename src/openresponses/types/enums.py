"""``Literal`` aliases for the enum-only schemas of the spec."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ImageDetail",
    "IncludeValue",
    "ItemStatus",
    "MessagePhase",
    "MessageRole",
    "ReasoningEffort",
    "ReasoningSummary",
    "ServiceTier",
    "ToolChoiceValue",
    "Truncation",
    "Verbosity",
]

ImageDetail = Literal["low", "high", "auto"]
"""Spec ``ImageDetail`` / ``DetailEnum``."""

IncludeValue = Literal["reasoning.encrypted_content", "message.output_text.logprobs"]
"""Spec ``IncludeEnum``: extra data to include in the response."""

ItemStatus = Literal["in_progress", "completed", "incomplete"]
"""Spec ``MessageStatus`` / ``FunctionCallStatus`` / ``FunctionCallItemStatus`` /
``FunctionCallOutputStatusEnum``. Output models type status as ``str`` because
non-standard statuses are allowed (extension rule R30)."""

MessageRole = Literal["user", "assistant", "system", "developer"]
"""Spec ``MessageRole``."""

MessagePhase = Literal["commentary", "final_answer"]
"""``phase`` of an assistant message (added in 2026-04-24)."""

ReasoningEffort = Literal["none", "low", "medium", "high", "xhigh"]
"""Spec ``ReasoningEffortEnum``."""

ReasoningSummary = Literal["concise", "detailed", "auto"]
"""Spec ``ReasoningSummaryEnum``."""

ServiceTier = Literal["auto", "default", "flex", "priority"]
"""Spec ``ServiceTierEnum``."""

ToolChoiceValue = Literal["none", "auto", "required"]
"""Spec ``ToolChoiceValueEnum``."""

Truncation = Literal["auto", "disabled"]
"""Spec ``TruncationEnum``."""

Verbosity = Literal["low", "medium", "high"]
"""Spec ``VerbosityEnum``."""
