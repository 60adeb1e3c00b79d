"""The public surface: sorted, importable, documented."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["openresponses", "openresponses.types", "openresponses.middleware"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported), f"{name}.__all__ must be sorted"
    assert len(set(exported)) == len(exported)


def test_core_names_resolve_with_docstrings() -> None:
    import openresponses

    for name in openresponses.__all__:
        value = getattr(openresponses, name)
        if isinstance(value, type) or callable(value):
            assert getattr(value, "__doc__", None), f"openresponses.{name} has no docstring"


def test_package_ships_the_spec_and_its_notice() -> None:
    from importlib.resources import files

    spec = files("openresponses") / "spec"
    assert (spec / "openapi.json").is_file()
    assert "Apache" in (spec / "NOTICE").read_text()
    assert (files("openresponses") / "py.typed").is_file()
