"""Packages whose public names import their module on first use (PEP 562's module `__getattr__`).

Importing a package runs its `__init__`: one that imported every submodule would import torch for a
torch-free module of the package too (its options, which `cyclegan X --help` builds its flags from).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A package's `__getattr__`: `exports` maps each submodule (".gatys") to the public names it defines,
    imported when one of them is first asked for (`from cyclegan.style import stylize`)."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name], package), name)

    return __getattr__


def lazy_dir(package: str, exports: dict[str, tuple[str, ...]]) -> Callable[[], list[str]]:
    """A package's `__dir__`: its loaded names and the lazy ones, so `dir()` and tab completion show the public
    names before their first use (without it they showed none of them)."""
    names = {name for names in exports.values() for name in names}

    def __dir__() -> list[str]:
        return sorted(names | set(vars(sys.modules[package])))

    return __dir__
