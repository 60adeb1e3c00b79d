"""Vertex AI's streamed function-call arguments, assembled, sans I/O.

With ``streamFunctionCallArguments`` Vertex sends a call as fragments: the first
``functionCall`` names it (``willContinue: true``), each next one carries ``partialArgs`` entries
(a ``jsonPath`` such as ``$.location`` or ``$.stops[0].name`` and one of ``stringValue`` (a piece
of a string, concatenated), ``numberValue``, ``boolValue``, ``nullValue``), and the last one has
``willContinue`` false (or is an empty ``functionCall``). :class:`PartialCall` rebuilds ``args``
in arrival order, as the Google ADK's stream aggregator does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PartialCall"]

_PATH = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


@dataclass(slots=True)
class PartialCall:
    """A Vertex function call streamed as ``partialArgs`` fragments, assembled until complete."""

    name: str | None = None
    gemini_id: str | None = None
    signature: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    strings: dict[str, list[str]] = field(default_factory=dict)

    def add(self, fragment: Mapping[str, Any]) -> None:
        path = fragment.get("jsonPath")
        if not isinstance(path, str) or not path.startswith("$"):
            return
        if isinstance(fragment.get("stringValue"), str):
            chunks = self.strings.setdefault(path, [])
            if not chunks:
                _set(self.args, path, "")  # reserve the key: arguments keep their arrival order
            chunks.append(fragment["stringValue"])
            return
        for key in ("numberValue", "boolValue"):
            if key in fragment:
                self.strings.pop(path, None)
                _set(self.args, path, fragment[key])
                return
        if "nullValue" in fragment:
            self.strings.pop(path, None)
            _set(self.args, path, None)

    def arguments(self) -> dict[str, Any]:
        for path, chunks in self.strings.items():
            _set(self.args, path, "".join(chunks))
        return self.args


def _set(root: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a JSONPath like ``$.a.b`` or ``$.items[0].name`` inside ``root``."""
    steps: list[str | int] = [
        m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _PATH.finditer(path)
    ]
    if not steps:
        return
    node: Any = root
    for step, following in itertools.pairwise(steps):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int) and isinstance(node, list):
            while len(node) <= step:
                node.append(None)
            if not isinstance(node[step], dict | list):
                node[step] = empty
            node = node[step]
        elif isinstance(step, str) and isinstance(node, dict):
            if not isinstance(node.get(step), dict | list):
                node[step] = empty
            node = node[step]
        else:
            return
    last = steps[-1]
    if isinstance(last, int) and isinstance(node, list):
        while len(node) <= last:
            node.append(None)
        node[last] = value
    elif isinstance(last, str) and isinstance(node, dict):
        node[last] = value
