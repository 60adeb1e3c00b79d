"""Every component schema of openapi.json has a model (or alias), and models match the schema's fields."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel

import openresponses.types as t

# spec schema name -> our model class, union alias, Literal alias or plain type.
SCHEMA_MODELS: dict[str, Any] = {
    # --- content parts / annotations / logprobs
    "InputTextContent": t.InputTextContent,
    "InputTextContentParam": t.InputTextContent,
    "InputImageContent": t.InputImageContent,
    "InputImageContentParamAutoParam": t.InputImageContent,
    "InputFileContent": t.InputFileContent,
    "InputFileContentParam": t.InputFileContent,
    "InputVideoContent": t.InputVideoContent,
    "OutputTextContent": t.OutputTextContent,
    "OutputTextContentParam": t.OutputTextContent,
    "RefusalContent": t.RefusalContent,
    "RefusalContentParam": t.RefusalContent,
    "ReasoningTextContent": t.ReasoningTextContent,
    "SummaryTextContent": t.SummaryTextContent,
    "ReasoningSummaryContentParam": t.SummaryTextContent,
    "TextContent": t.TextContent,
    "UrlCitationBody": t.UrlCitation,
    "UrlCitationParam": t.UrlCitation,
    "Annotation": t.Annotation,
    "LogProb": t.LogProb,
    "TopLogProb": t.TopLogProb,
    # --- output items
    "ItemField": t.OutputItem,
    "Message": t.Message,
    "FunctionCall": t.FunctionCall,
    "FunctionCallOutput": t.FunctionCallOutput,
    "ReasoningBody": t.ReasoningItem,
    "CompactionBody": t.Compaction,
    # --- input items
    "ItemParam": t.InputItem,
    "UserMessageItemParam": t.UserMessageItemParam,
    "SystemMessageItemParam": t.SystemMessageItemParam,
    "DeveloperMessageItemParam": t.DeveloperMessageItemParam,
    "AssistantMessageItemParam": t.AssistantMessageItemParam,
    "FunctionCallItemParam": t.FunctionCallItemParam,
    "FunctionCallOutputItemParam": t.FunctionCallOutputItemParam,
    "ReasoningItemParam": t.ReasoningItemParam,
    "CompactionSummaryItemParam": t.CompactionItemParam,
    "ItemReferenceParam": t.ItemReferenceParam,
    # --- tools and tool_choice
    "FunctionToolParam": t.FunctionToolParam,
    "ResponsesToolParam": t.ToolParam,
    "FunctionTool": t.FunctionTool,
    "Tool": t.Tool,
    "EmptyModelParam": dict,  # FunctionToolParam.parameters: any JSON Schema object
    "ToolChoiceParam": t.ToolChoice,
    "ToolChoiceValueEnum": t.ToolChoiceValue,
    "SpecificToolChoiceParam": t.FunctionToolChoice,
    "SpecificFunctionParam": t.FunctionToolChoice,
    "FunctionToolChoice": t.FunctionToolChoice,
    "AllowedToolsParam": t.AllowedToolsChoice,
    "AllowedToolChoice": t.AllowedToolsChoice,
    # --- text format
    "TextParam": t.TextParam,
    "TextField": t.TextField,
    "TextFormatParam": t.TextFormat,
    "TextResponseFormat": t.TextResponseFormat,
    "JsonObjectResponseFormat": t.JsonObjectResponseFormat,
    "JsonSchemaResponseFormat": t.JsonSchemaResponseFormat,
    "JsonSchemaResponseFormatParam": t.JsonSchemaResponseFormat,
    # --- request bodies
    "CreateResponseBody": t.CreateResponseBody,
    "CompactResponseMethodPublicBody": t.CompactResponseBody,
    "WebSocketResponseCreateEvent": t.WebSocketResponseCreateEvent,
    "MetadataParam": t.Metadata,
    "StreamOptionsParam": t.StreamOptions,
    "ReasoningParam": t.ReasoningParam,
    # --- responses
    "ResponseResource": t.Response,
    "CompactResource": t.CompactResponse,
    "Usage": t.Usage,
    "InputTokensDetails": t.InputTokensDetails,
    "OutputTokensDetails": t.OutputTokensDetails,
    "IncompleteDetails": t.IncompleteDetails,
    "Error": t.ResponseError,
    "Reasoning": t.ReasoningConfig,
    "ErrorPayload": t.ErrorPayload,
    # --- enum-only schemas -> Literal aliases (response-side fields use ``str`` for leniency)
    "DetailEnum": t.ImageDetail,
    "ImageDetail": t.ImageDetail,
    "IncludeEnum": t.IncludeValue,
    "MessageRole": t.MessageRole,
    "MessageStatus": t.ItemStatus,
    "FunctionCallStatus": t.ItemStatus,
    "FunctionCallItemStatus": t.ItemStatus,
    "FunctionCallOutputStatusEnum": t.ItemStatus,
    "ReasoningEffortEnum": t.ReasoningEffort,
    "ReasoningSummaryEnum": t.ReasoningSummary,
    "ServiceTierEnum": t.ServiceTier,
    "TruncationEnum": t.Truncation,
    "VerbosityEnum": t.Verbosity,
    # --- streaming events
    "ResponseCreatedStreamingEvent": t.ResponseCreatedEvent,
    "ResponseQueuedStreamingEvent": t.ResponseQueuedEvent,
    "ResponseInProgressStreamingEvent": t.ResponseInProgressEvent,
    "ResponseCompletedStreamingEvent": t.ResponseCompletedEvent,
    "ResponseFailedStreamingEvent": t.ResponseFailedEvent,
    "ResponseIncompleteStreamingEvent": t.ResponseIncompleteEvent,
    "ResponseOutputItemAddedStreamingEvent": t.OutputItemAddedEvent,
    "ResponseOutputItemDoneStreamingEvent": t.OutputItemDoneEvent,
    "ResponseContentPartAddedStreamingEvent": t.ContentPartAddedEvent,
    "ResponseContentPartDoneStreamingEvent": t.ContentPartDoneEvent,
    "ResponseOutputTextDeltaStreamingEvent": t.OutputTextDeltaEvent,
    "ResponseOutputTextDoneStreamingEvent": t.OutputTextDoneEvent,
    "ResponseOutputTextAnnotationAddedStreamingEvent": t.OutputTextAnnotationAddedEvent,
    "ResponseRefusalDeltaStreamingEvent": t.RefusalDeltaEvent,
    "ResponseRefusalDoneStreamingEvent": t.RefusalDoneEvent,
    "ResponseFunctionCallArgumentsDeltaStreamingEvent": t.FunctionCallArgumentsDeltaEvent,
    "ResponseFunctionCallArgumentsDoneStreamingEvent": t.FunctionCallArgumentsDoneEvent,
    "ResponseReasoningDeltaStreamingEvent": t.ReasoningDeltaEvent,
    "ResponseReasoningDoneStreamingEvent": t.ReasoningDoneEvent,
    "ResponseReasoningSummaryPartAddedStreamingEvent": t.ReasoningSummaryPartAddedEvent,
    "ResponseReasoningSummaryPartDoneStreamingEvent": t.ReasoningSummaryPartDoneEvent,
    "ResponseReasoningSummaryDeltaStreamingEvent": t.ReasoningSummaryTextDeltaEvent,
    "ResponseReasoningSummaryDoneStreamingEvent": t.ReasoningSummaryTextDoneEvent,
    "ErrorStreamingEvent": t.ErrorEvent,
    "WebSocketErrorEvent": t.WebSocketErrorEvent,
}

# Response-side schemas whose required keys must be exactly our required fields
# (``type`` / ``object`` excepted: they have a schema default).
STRICT_REQUIRED = [
    name
    for name in SCHEMA_MODELS
    if name.endswith("StreamingEvent")
    or name
    in {
        "ResponseResource",
        "CompactResource",
        "Usage",
        "InputTokensDetails",
        "OutputTokensDetails",
        "IncompleteDetails",
        "Error",
        "ErrorPayload",
        "Reasoning",
        "FunctionTool",
        "LogProb",
        "TopLogProb",
        "UrlCitationBody",
        "Message",
        "FunctionCall",
        "FunctionCallOutput",
        "ReasoningBody",
        "CompactionBody",
        "InputTextContent",
        "OutputTextContent",
        "RefusalContent",
        "ReasoningTextContent",
        "SummaryTextContent",
        "TextContent",
        "InputVideoContent",
    }
]

# Required in the spec, defaulted here so models are easy to build; always present when parsed.
DELIBERATELY_OPTIONAL = {
    "OutputTextContent": {"annotations"},
    # Lenient so a provider's error message is never hidden behind a parse failure.
    "ErrorPayload": {"code", "param"},
}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _reachable(spec: dict[str, Any]) -> set[str]:
    schemas = spec["components"]["schemas"]
    post = spec["paths"]["/responses"]["post"]
    compact = spec["paths"]["/responses/compact"]["post"]
    roots = [
        post["responses"]["200"]["content"]["application/json"],
        post["responses"]["200"]["content"]["text/event-stream"],
        post["requestBody"],
        compact["responses"]["200"],
        compact["requestBody"],
        spec["paths"]["/responses"].get("x-openresponses-websocket", {}),
    ]
    todo = set().union(*(_refs(root) for root in roots))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo |= _refs(schemas[name]) - seen
    return seen


def _properties(schema: dict[str, Any], spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    props = set(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            part = spec["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]]
        sub_props, sub_req = _properties(part, spec)
        props |= sub_props
        required |= sub_req
    return props, required


def _wire_names(model: type[BaseModel]) -> dict[str, str]:
    return {(f.alias or name): name for name, f in model.model_fields.items()}


def test_every_reachable_schema_is_mapped(spec: dict[str, Any]) -> None:
    reachable = _reachable(spec)
    assert "ResponseResource" in reachable and "CreateResponseBody" in reachable
    missing = sorted(reachable - SCHEMA_MODELS.keys())
    assert not missing, f"spec schemas without a model: {missing}"


def test_every_component_schema_is_mapped(spec: dict[str, Any]) -> None:
    # Fails when a schema is added to (or removed from) openapi.json.
    assert sorted(spec["components"]["schemas"]) == sorted(SCHEMA_MODELS)


def test_mapped_objects_are_public() -> None:
    public_ids = {id(getattr(t, name)) for name in t.__all__} | {id(dict)}
    for name, obj in SCHEMA_MODELS.items():
        assert id(obj) in public_ids, name


@pytest.mark.parametrize("schema_name", sorted(n for n, m in SCHEMA_MODELS.items() if isinstance(m, type)))
def test_model_has_every_schema_property(schema_name: str, spec: dict[str, Any]) -> None:
    model = SCHEMA_MODELS[schema_name]
    if not issubclass(model, BaseModel):
        return
    props, _ = _properties(spec["components"]["schemas"][schema_name], spec)
    missing = props - _wire_names(model).keys()
    assert not missing, f"{model.__name__} lacks {sorted(missing)} of {schema_name}"


@pytest.mark.parametrize("schema_name", sorted(STRICT_REQUIRED))
def test_required_fields_match_spec(schema_name: str, spec: dict[str, Any]) -> None:
    model: type[BaseModel] = SCHEMA_MODELS[schema_name]
    _, required = _properties(spec["components"]["schemas"][schema_name], spec)
    fields = _wire_names(model)
    ours = {wire for wire, name in fields.items() if model.model_fields[name].is_required()}
    # Constant markers with a schema default (``type``, ``object``) may be omitted.
    defaulted = {"type", "object"} & {w for w, n in fields.items() if not model.model_fields[n].is_required()}
    assert ours == required - defaulted - DELIBERATELY_OPTIONAL.get(schema_name, set())


@pytest.mark.parametrize(
    "schema_name",
    sorted(n for n, m in SCHEMA_MODELS.items() if typing.get_origin(m) is typing.Literal),
)
def test_literal_aliases_match_enums(schema_name: str, spec: dict[str, Any]) -> None:
    assert set(typing.get_args(SCHEMA_MODELS[schema_name])) == set(
        spec["components"]["schemas"][schema_name]["enum"]
    )
