"""Tool definitions and ``tool_choice``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from ._base import OpenResponsesModel
from .content import UNKNOWN_TAG, tag_or_unknown
from .enums import ToolChoiceValue

__all__ = [
    "AllowedToolsChoice",
    "FunctionTool",
    "FunctionToolChoice",
    "FunctionToolParam",
    "Tool",
    "ToolChoice",
    "ToolParam",
    "UnknownTool",
    "UnknownToolChoice",
]


class FunctionToolParam(OpenResponsesModel):
    """A function tool definition sent in a request."""

    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    """Used by the model to decide whether to call the function."""
    parameters: dict[str, Any] | None = None
    """JSON Schema of the arguments."""
    strict: bool | None = None
    """Whether to enforce strict parameter validation."""


class FunctionTool(OpenResponsesModel):
    """A function tool as echoed in a response: all five keys are present (nullable ones may be null)."""

    type: Literal["function"] = "function"
    name: str
    description: str | None
    parameters: dict[str, Any] | None
    strict: bool | None


class UnknownTool(OpenResponsesModel):
    """A tool of a type this client does not know (e.g. a hosted ``acme:search``); all fields are kept."""

    type: str


ToolParam = Annotated[
    Annotated[FunctionToolParam, Tag("function")] | Annotated[UnknownTool, Tag(UNKNOWN_TAG)],
    Discriminator(tag_or_unknown(frozenset({"function"}))),
]
"""Spec ``ResponsesToolParam``: a tool in a request."""

Tool = Annotated[
    Annotated[FunctionTool, Tag("function")] | Annotated[UnknownTool, Tag(UNKNOWN_TAG)],
    Discriminator(tag_or_unknown(frozenset({"function"}))),
]
"""Spec ``Tool``: a tool echoed in a response."""


class FunctionToolChoice(OpenResponsesModel):
    """Force (or, inside ``allowed_tools``, allow) a specific function.

    ``name`` is required in requests (spec ``SpecificFunctionParam``) and optional in
    responses (spec ``FunctionToolChoice``).
    """

    type: Literal["function"] = "function"
    name: str | None = None


class AllowedToolsChoice(OpenResponsesModel):
    """Restrict the callable tools to a subset while all stay in context (``allowed_tools``).

    ``mode`` is optional in requests and always present in responses.
    """

    type: Literal["allowed_tools"] = "allowed_tools"
    tools: list[FunctionToolChoice]
    mode: ToolChoiceValue | None = None


class UnknownToolChoice(OpenResponsesModel):
    """A ``tool_choice`` object of a type this client does not know; all fields are kept."""

    type: str


ToolChoice = (
    ToolChoiceValue
    | Annotated[
        Annotated[FunctionToolChoice, Tag("function")]
        | Annotated[AllowedToolsChoice, Tag("allowed_tools")]
        | Annotated[UnknownToolChoice, Tag(UNKNOWN_TAG)],
        Discriminator(tag_or_unknown(frozenset({"function", "allowed_tools"}))),
    ]
)
"""Spec ``ToolChoiceParam`` / response ``tool_choice``: ``"none" | "auto" | "required"`` or an object."""
