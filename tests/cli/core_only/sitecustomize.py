"""Make this interpreter look like a core-only install: the extras' packages are not installed.

Put this directory on ``PYTHONPATH`` and list module names in ``OPENRESPONSES_TEST_HIDE``
(comma-separated; a dotted name hides that subpackage only). Every import finder is wrapped so
that it does not find those modules: ``import opentelemetry`` then fails exactly as on a machine without it
(``ModuleNotFoundError: No module named 'opentelemetry'``) and ``importlib.util.find_spec``
returns ``None``, rather than some test-only error the code under test would not meet.
"""

from __future__ import annotations

import os
import sys
from typing import Any

HIDDEN = tuple(name for name in os.environ.get("OPENRESPONSES_TEST_HIDE", "").split(",") if name)


def hidden(name: str) -> bool:
    """``opentelemetry`` hides ``opentelemetry.*``; ``opentelemetry.exporter`` only that subtree."""
    return any(name == h or name.startswith(h + ".") for h in HIDDEN)


class _Hide:
    def __init__(self, finder: Any) -> None:
        self._finder = finder

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if hidden(name):
            return None
        find = getattr(self._finder, "find_spec", None)
        return None if find is None else find(name, path, target)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._finder, attribute)


if HIDDEN:
    sys.meta_path[:] = [_Hide(finder) for finder in sys.meta_path]
    for module in [m for m in sys.modules if hidden(m)]:
        del sys.modules[module]
