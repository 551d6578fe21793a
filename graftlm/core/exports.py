"""Lazy public names for the stage packages, so that importing one module of a stage does not
import the whole stage.

A stage's ``__init__`` names its public API once; each name is imported from its module on first
use (PEP 562 module ``__getattr__``), so ``graft --help`` never pulls in numpy, torch or faiss.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_exports(package: str, names: dict[str, str]) -> tuple[list[str], Callable]:
    """``(__all__, __getattr__)`` for ``package`` exporting ``names`` (name → module)."""

    def __getattr__(name: str):
        if name in names:
            return getattr(import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return sorted(names), __getattr__
