"""Every public name of the packages (``__all__`` of evmkit, ml2sc and verkle) has its own docstring;
a dataclass's generated signature does not count."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ("evmkit", "ml2sc", "verkle")


def _cases() -> list[tuple[str, str | None]]:
    """(package, public name); (package, None) for a package without ``__all__``, which fails."""
    cases: list[tuple[str, str | None]] = []
    for package in PACKAGES:
        names = getattr(importlib.import_module(package), "__all__", None) or [None]
        cases += [(package, name) for name in names]
    return cases


@pytest.mark.parametrize("package, name", _cases())
def test_public_name_has_a_docstring(package: str, name: str | None) -> None:
    module = importlib.import_module(package)
    assert (module.__doc__ or "").strip(), f"{package} has no docstring"
    assert name is not None, f"{package} sets no __all__"
    obj = getattr(module, name)
    doc = (getattr(obj, "__doc__", None) or "").strip()
    assert doc, f"{package}.{name} has no docstring"
    if inspect.isclass(obj):
        assert obj.__dict__.get("__doc__"), f"{package}.{name} inherits its docstring"
        assert not doc.startswith(f"{obj.__name__}("), f"{package}.{name} has only the generated signature"


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_resolve_and_are_unique(package: str) -> None:
    module = importlib.import_module(package)
    names = list(getattr(module, "__all__", None) or [])
    assert names and len(set(names)) == len(names)
    for name in names:
        assert getattr(module, name) is not None
