"""Interoperability: generator files of the reference implementation in, ONNX and TorchScript out.

- `load_foreign_generator`: a plain state dict (ResNet or U-Net, reference layout) -> a generator;
  `cyclegan.load_generator` calls it for any file that is not our own checkpoint.
- `export_generator`: a generator -> an ONNX or TorchScript file with dynamic batch, height and width.

Submodules are imported on use, so loading a checkpoint does not import the exporters.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("load_foreign_generator", "infer_architecture", "ForeignArchitecture"):
        from . import foreign

        return getattr(foreign, name)
    if name in ("export_generator", "ExportResult", "format_for"):
        from . import export

        return getattr(export, name)
    raise AttributeError(f"module 'cyclegan.interop' has no attribute {name!r}")


__all__ = [
    "load_foreign_generator",
    "infer_architecture",
    "ForeignArchitecture",
    "export_generator",
    "ExportResult",
    "format_for",
]
