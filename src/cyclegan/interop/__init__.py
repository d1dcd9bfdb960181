"""Interoperability: generator files of other projects in (the reference implementation's ResNet and U-Net, the
CUT code's anti-aliased ResNet). `load_foreign_generator`: a plain state dict -> a generator;
`cyclegan.load_generator` calls it for any file that is not our own checkpoint. (Out: `cyclegan.export`.)
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("load_foreign_generator", "infer_architecture", "ForeignArchitecture"):
        from . import foreign  # on use: importing the package costs nothing

        return getattr(foreign, name)
    raise AttributeError(f"module 'cyclegan.interop' has no attribute {name!r}")


__all__ = ["load_foreign_generator", "infer_architecture", "ForeignArchitecture"]
