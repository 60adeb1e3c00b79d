"""Text output configuration: ``text.format`` (plain text / JSON schema / JSON object) and verbosity."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from ._base import OpenResponsesModel
from .content import UNKNOWN_TAG, tag_or_unknown
from .enums import Verbosity

__all__ = [
    "JsonObjectResponseFormat",
    "JsonSchemaResponseFormat",
    "TextField",
    "TextFormat",
    "TextParam",
    "TextResponseFormat",
    "UnknownTextFormat",
]


class TextResponseFormat(OpenResponsesModel):
    """Plain text output (the default)."""

    type: Literal["text"] = "text"


class JsonObjectResponseFormat(OpenResponsesModel):
    """Legacy JSON mode: the output is any valid JSON object."""

    type: Literal["json_object"] = "json_object"


class JsonSchemaResponseFormat(OpenResponsesModel):
    """Structured output constrained by a JSON Schema.

    The Python field is ``schema_`` (``schema`` clashes with ``BaseModel``); on the wire and
    as a keyword argument it is ``schema``. In responses ``schema`` may be null.
    """

    type: Literal["json_schema"] = "json_schema"
    name: str
    """Name of the format (a-z, A-Z, 0-9, ``_`` and ``-``, at most 64 chars)."""
    description: str | None = None
    """What the format is for; used by the model to decide how to respond."""
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    """The JSON Schema of the output."""
    strict: bool | None = None
    """Whether to enforce strict schema adherence."""


class UnknownTextFormat(OpenResponsesModel):
    """A ``text.format`` of a type this client does not know; all fields are kept."""

    type: str


TextFormat = Annotated[
    Annotated[TextResponseFormat, Tag("text")]
    | Annotated[JsonSchemaResponseFormat, Tag("json_schema")]
    | Annotated[JsonObjectResponseFormat, Tag("json_object")]
    | Annotated[UnknownTextFormat, Tag(UNKNOWN_TAG)],
    Discriminator(tag_or_unknown(frozenset({"text", "json_schema", "json_object"}))),
]
"""Spec ``TextFormatParam`` / ``TextField.format``: discriminated on ``type``."""


class TextParam(OpenResponsesModel):
    """The ``text`` request option: output format and verbosity."""

    format: TextFormat | None = None
    verbosity: Verbosity | None = None


class TextField(OpenResponsesModel):
    """The ``text`` configuration echoed in a response (``verbosity`` is normally low/medium/high)."""

    format: TextFormat
    verbosity: str | None = None
