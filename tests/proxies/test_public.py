"""The proxies package surface: sorted, documented, and a missing extra fails with one clear line."""

from __future__ import annotations

import importlib
import sys

import pytest

import openresponses
import openresponses.proxies as proxies


def test_names_resolve_with_docstrings() -> None:
    assert proxies.__all__ == sorted(proxies.__all__)
    for name in proxies.__all__:
        value = getattr(proxies, name)
        if isinstance(value, type) or callable(value):
            assert value.__doc__, f"openresponses.proxies.{name} has no docstring"


def test_missing_starlette_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh import of the package with Starlette unimportable; monkeypatch restores the originals.
    for module in [m for m in sys.modules if m.startswith(("starlette", "openresponses.proxies"))]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "starlette", None)
    monkeypatch.setattr(openresponses, "proxies", proxies)  # the import below rebinds it
    fresh = importlib.import_module("openresponses.proxies")
    assert fresh is not proxies
    with pytest.raises(ImportError, match=r"pip install 'openresponses-python\[proxy\]'"):
        fresh.create_app  # noqa: B018
    assert fresh.PRESETS["ollama"].port == 8003  # presets and settings need only the core
