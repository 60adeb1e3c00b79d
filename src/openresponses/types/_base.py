"""Base class shared by every Open Responses model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["OpenResponsesModel", "get_tag"]

# Fields that act as discriminators / constant markers. When a model is built from Python
# (``FunctionToolParam(name="f")``) their defaults are marked as *set* so that
# ``model_dump(exclude_unset=True)`` still emits them on the wire.
_MARKER_FIELDS = frozenset({"type", "object", "role"})


class OpenResponsesModel(BaseModel):
    """Base model: unknown keys are kept (``extra="allow"``) and fields accept names or aliases."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        serialize_by_alias=True,
    )

    _marker_defaults: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._marker_defaults = frozenset(
            name
            for name, field in cls.model_fields.items()
            if name in _MARKER_FIELDS and not field.is_required() and field.default is not None
        )

    def __init__(self, /, **data: Any) -> None:
        super().__init__(**data)
        if self._marker_defaults:
            self.__pydantic_fields_set__.update(self._marker_defaults)

    # Tell pydantic this ``__init__`` is not a "custom init": validation from dicts/JSON
    # (``model_validate``/``model_validate_json``, the streaming hot path) keeps bypassing it.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready wire form: only fields that were set (plus extras), by alias."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


def get_tag(value: Any, key: str = "type") -> Any:
    """Read a discriminator value from a dict or from a model instance (``None`` if absent)."""
    if isinstance(value, dict):
        return value.get(key)
    return getattr(value, key, None)
