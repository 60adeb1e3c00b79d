"""``with_structured_output`` for ``ChatOpenResponses``: the model bound to a format, then a parser.

``json_schema`` sends ``text.format``; ``function_calling`` forces a call of a tool shaped like
the schema; ``json_mode`` asks for any JSON object (the spec has no ``json_object`` format, so it
is a ``json_schema`` format any object satisfies: :data:`JSON_MODE_FORMAT`).
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.language_models import LanguageModelInput
from langchain_core.output_parsers import JsonOutputKeyToolsParser, JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import PydanticToolsParser
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from ._langchain_tools import json_schema_format

if TYPE_CHECKING:
    from .langchain import ChatOpenResponses

__all__ = ["JSON_MODE_FORMAT", "structured_output"]

JSON_MODE_FORMAT: Mapping[str, Any] = {
    "type": "json_schema",
    "name": "json_object",
    "schema": {"type": "object"},
}


def structured_output(
    model: ChatOpenResponses,
    schema: dict[str, Any] | type,
    *,
    include_raw: bool,
    method: Literal["json_schema", "function_calling", "json_mode"],
    strict: bool | None,
) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
    """What ``model.with_structured_output(schema, ...)`` returns (see its docstring)."""
    pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    traced = {"kwargs": {"method": method, "strict": strict}, "schema": convert_to_json_schema(schema)}
    parser: Runnable[Any, Any]
    if method == "function_calling":
        name = convert_to_openai_tool(schema)["function"]["name"]
        llm = model.bind_tools([schema], tool_choice=name, strict=strict, ls_structured_output_format=traced)
        if pydantic:
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
        else:
            parser = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    elif method in ("json_schema", "json_mode"):
        # The spec has no ``json_object`` format: JSON mode is a schema any object satisfies.
        text_format = (
            json_schema_format(schema, strict=strict) if method == "json_schema" else dict(JSON_MODE_FORMAT)
        )
        llm = model.bind(text={"format": text_format}, ls_structured_output_format=traced)
        parser = PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()
    else:
        raise ValueError(f"method must be 'json_schema', 'function_calling' or 'json_mode', not {method!r}")
    if not include_raw:
        return llm | parser
    parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    fallback = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback], exception_key="parsing_error")
