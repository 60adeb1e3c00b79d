"""Output items (spec ``ItemField``) and input items (spec ``ItemParam``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeGuard

from pydantic import Discriminator, Field, Tag

from ._base import OpenResponsesModel, get_tag
from .content import (
    UNKNOWN_TAG,
    AssistantContentPart,
    ContentPart,
    FunctionCallOutputContentPart,
    OutputTextContent,
    SummaryTextContent,
    SystemContentPart,
    UserContentPart,
    tag_or_unknown,
)
from .enums import ItemStatus, MessagePhase

__all__ = [
    "AssistantMessageItemParam",
    "Compaction",
    "CompactionItemParam",
    "DeveloperMessageItemParam",
    "FunctionCall",
    "FunctionCallItemParam",
    "FunctionCallOutput",
    "FunctionCallOutputItemParam",
    "InputItem",
    "ItemReferenceParam",
    "Message",
    "OutputItem",
    "ReasoningItem",
    "ReasoningItemParam",
    "SystemMessageItemParam",
    "UnknownItem",
    "UnknownItemParam",
    "is_unknown_item",
    "UserMessageItemParam",
]

# =========================================================================== output items


class Message(OpenResponsesModel):
    """A message item in a response's output (spec ``Message``).

    ``status`` is normally ``in_progress``, ``completed`` or ``incomplete``; ``role`` is
    normally ``user``, ``assistant``, ``system`` or ``developer``. Both are plain strings
    because providers may use non-standard values.
    """

    type: Literal["message"] = "message"
    id: str
    status: str
    role: str
    content: list[ContentPart]
    phase: MessagePhase | None = None
    """``commentary`` or ``final_answer`` (assistant only). Resend it on follow-up requests."""

    @property
    def text(self) -> str:
        """Concatenated text of every ``output_text`` part, in order."""
        return "".join(part.text for part in self.content if isinstance(part, OutputTextContent))


class FunctionCall(OpenResponsesModel):
    """A function tool call emitted by the model (spec ``FunctionCall``).

    ``status`` is normally ``in_progress``, ``completed`` or ``incomplete``.
    """

    type: Literal["function_call"] = "function_call"
    id: str
    call_id: str
    """Id used to match the ``function_call_output`` to this call."""
    name: str
    arguments: str
    """JSON-encoded arguments."""
    status: str


class FunctionCallOutput(OpenResponsesModel):
    """The output of a function call, as echoed in a response (spec ``FunctionCallOutput``).

    ``status`` is normally ``in_progress``, ``completed`` or ``incomplete``.
    """

    type: Literal["function_call_output"] = "function_call_output"
    id: str
    call_id: str
    output: str | list[ContentPart]
    status: str


class ReasoningItem(OpenResponsesModel):
    """A reasoning item (spec ``ReasoningBody``): summary, raw content and/or encrypted content.

    The schema has no ``status`` on reasoning items but the spec page requires one on every
    item, so it is typed as an optional string.
    """

    type: Literal["reasoning"] = "reasoning"
    id: str
    summary: list[ContentPart]
    """Reasoning summary parts (normally ``summary_text``)."""
    content: list[ContentPart] | None = None
    """Raw reasoning parts (normally ``reasoning_text``), if the provider exposes them."""
    encrypted_content: str | None = None
    """Opaque provider-specific blob; pass it back unchanged."""
    status: str | None = None


class Compaction(OpenResponsesModel):
    """A compaction item returned by ``/responses/compact`` (spec ``CompactionBody``)."""

    type: Literal["compaction"] = "compaction"
    id: str
    encrypted_content: str
    """Opaque compacted context; send the item back as input unchanged."""
    created_by: str | None = None
    status: str | None = None


class UnknownItem(OpenResponsesModel):
    """An output item of a type this client does not know (e.g. ``acme:search_call``); all fields are kept."""

    type: str
    id: str | None = None
    status: str | None = None


_OUTPUT_ITEM_TYPES = frozenset(
    {"message", "function_call", "function_call_output", "reasoning", "compaction"}
)

if TYPE_CHECKING:
    # Type checkers see only the classes whose ``type`` is a Literal, so ``item.type ==
    # "function_call"`` narrows ``response.output`` items (as for ``StreamEvent``); unknown items
    # still arrive at run time: pick them out with ``is_unknown_item``.
    OutputItem: TypeAlias = Message | FunctionCall | FunctionCallOutput | ReasoningItem | Compaction
else:
    OutputItem = Annotated[
        Annotated[Message, Tag("message")]
        | Annotated[FunctionCall, Tag("function_call")]
        | Annotated[FunctionCallOutput, Tag("function_call_output")]
        | Annotated[ReasoningItem, Tag("reasoning")]
        | Annotated[Compaction, Tag("compaction")]
        | Annotated[UnknownItem, Tag(UNKNOWN_TAG)],
        Discriminator(tag_or_unknown(_OUTPUT_ITEM_TYPES)),
    ]
"""Spec ``ItemField``: an output item, discriminated on ``type``; unknown types become ``UnknownItem``."""


def is_unknown_item(item: object, type: str | None = None) -> TypeGuard[UnknownItem]:
    """``True`` for an output item of a type this client does not model (``acme:search_call``),
    and of type ``type`` when given; narrows ``item`` to :class:`UnknownItem` (see
    ``is_unknown_event`` for why not ``isinstance`` in type-checked code)."""
    return isinstance(item, UnknownItem) and (type is None or item.type == type)


# =========================================================================== input items


class UserMessageItemParam(OpenResponsesModel):
    """A user message sent as input."""

    type: Literal["message"] = "message"
    role: Literal["user"] = "user"
    content: str | list[UserContentPart]
    id: str | None = None
    status: str | None = None


class SystemMessageItemParam(OpenResponsesModel):
    """A system message sent as input."""

    type: Literal["message"] = "message"
    role: Literal["system"] = "system"
    content: str | list[SystemContentPart]
    id: str | None = None
    status: str | None = None


class DeveloperMessageItemParam(OpenResponsesModel):
    """A developer message sent as input."""

    type: Literal["message"] = "message"
    role: Literal["developer"] = "developer"
    content: str | list[SystemContentPart]
    id: str | None = None
    status: str | None = None


class AssistantMessageItemParam(OpenResponsesModel):
    """An assistant message sent back as input (e.g. from a previous response)."""

    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    content: str | list[AssistantContentPart]
    id: str | None = None
    status: str | None = None
    phase: MessagePhase | None = None
    """``commentary`` or ``final_answer``; keep it and resend it."""


class FunctionCallItemParam(OpenResponsesModel):
    """A function call sent back as input."""

    type: Literal["function_call"] = "function_call"
    call_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    arguments: str
    """JSON-encoded arguments."""
    id: str | None = None
    status: ItemStatus | None = None


class FunctionCallOutputItemParam(OpenResponsesModel):
    """The result of a function call, sent as input (matched by ``call_id``)."""

    type: Literal["function_call_output"] = "function_call_output"
    call_id: str = Field(min_length=1, max_length=64)
    output: str | list[FunctionCallOutputContentPart]
    id: str | None = None
    status: ItemStatus | None = None
    """Send ``completed`` (the other values are allowed but discouraged)."""


class ReasoningItemParam(OpenResponsesModel):
    """A reasoning item sent back as input (summary and/or encrypted content)."""

    type: Literal["reasoning"] = "reasoning"
    summary: list[SummaryTextContent]
    encrypted_content: str | None = None
    content: None = None
    """May only be null on input."""
    id: str | None = None


class CompactionItemParam(OpenResponsesModel):
    """A compaction item sent back as input (spec ``CompactionSummaryItemParam``)."""

    type: Literal["compaction"] = "compaction"
    encrypted_content: str
    id: str | None = None


class ItemReferenceParam(OpenResponsesModel):
    """A reference to an existing item by id; ``type`` may be omitted."""

    type: Literal["item_reference"] | None = "item_reference"
    id: str


class UnknownItemParam(OpenResponsesModel):
    """An input item of a type this client does not know (e.g. ``acme:search_result``); sent as is."""

    type: str


_INPUT_ITEM_TYPES = frozenset(
    {"function_call", "function_call_output", "reasoning", "compaction", "item_reference"}
)
_MESSAGE_ROLES = frozenset({"user", "system", "developer", "assistant"})


def _input_item_tag(value: Any) -> str:
    item_type = get_tag(value, "type")
    role = get_tag(value, "role")
    if item_type is None:
        if role is not None:
            item_type = "message"
        else:
            # Only item references may omit ``type``.
            return "item_reference"
    if item_type == "message":
        if role is None:
            return "message.user"
        return f"message.{role}" if isinstance(role, str) and role in _MESSAGE_ROLES else UNKNOWN_TAG
    return item_type if isinstance(item_type, str) and item_type in _INPUT_ITEM_TYPES else UNKNOWN_TAG


InputItem = Annotated[
    Annotated[UserMessageItemParam, Tag("message.user")]
    | Annotated[SystemMessageItemParam, Tag("message.system")]
    | Annotated[DeveloperMessageItemParam, Tag("message.developer")]
    | Annotated[AssistantMessageItemParam, Tag("message.assistant")]
    | Annotated[FunctionCallItemParam, Tag("function_call")]
    | Annotated[FunctionCallOutputItemParam, Tag("function_call_output")]
    | Annotated[ReasoningItemParam, Tag("reasoning")]
    | Annotated[CompactionItemParam, Tag("compaction")]
    | Annotated[ItemReferenceParam, Tag("item_reference")]
    | Annotated[UnknownItemParam, Tag(UNKNOWN_TAG)],
    Discriminator(_input_item_tag),
]
"""Spec ``ItemParam``: messages by ``role``, other items by ``type``; a dict without ``type`` is an
item reference; unknown types become ``UnknownItemParam``."""
