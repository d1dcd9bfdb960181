"""The one checkpoint file: atomic save, safe load, and rebuilding the generators from it.

A checkpoint is a dict of tensors and plain Python values only, so it loads with
`torch.load(..., weights_only=True)`: a file crafted to run code when unpickled is refused.
Inference imports nothing from training.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from .errors import CycleGANError
from .files import write_atomic

FORMAT = "cyclegan-checkpoint"
CHECKPOINT_NAME = "checkpoint.pt"
Direction = Literal["AtoB", "BtoA"]
GENERATOR_FOR = {"AtoB": "G", "BtoA": "F"}  # G: X -> Y (A -> B), F: Y -> X


def save_atomic(obj: Any, path: str | Path) -> None:
    """torch.save `obj` to `path` atomically: a crash or Ctrl-C mid-write leaves the previous file intact."""
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


def checkpoint_path(path: str | Path) -> Path:
    """A run folder means its `checkpoint.pt`; a file means itself."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CycleGANError(f"checkpoint not found: {path} (give a run folder or a checkpoint file)")
    return path


def load_file(path: str | Path) -> Any:
    """Load a .pt/.pth file with weights_only=True (tensors and plain data only), on the CPU."""
    path = checkpoint_path(path)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise next to our one-line errors
            warnings.simplefilter("ignore", UserWarning)
            mmap = zipfile.is_zipfile(path)  # mmap needs the zip format (torch >= 1.6 files)
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise CycleGANError(
            f"refusing to load {path}: it holds objects other than tensors and plain data, which could run "
            f"code when loaded ({_unpickler_reason(e)}); only load checkpoints you trust the origin of"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CycleGANError(f"cannot read checkpoint {path}: {first[:200]} (is the file complete?)") from None


def _unpickler_reason(e: Exception) -> str:
    """The line of torch's weights-only error that names what was refused (e.g. GLOBAL posix.system)."""
    # The wording varies across torch versions: take the first informative line after the preamble.
    lines = [ln.strip() for ln in str(e).split("WeightsUnpickler error:")[-1].splitlines() if ln.strip()]
    for line in lines:
        if "GLOBAL" in line or "Unsupported" in line:
            return line.rstrip(".")[:160]
    return type(e).__name__


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A full training checkpoint written by `cyclegan train`, checked to be one."""
    ckpt = load_file(path)
    if not (isinstance(ckpt, dict) and ckpt.get("format") == FORMAT):
        raise CycleGANError(f"{checkpoint_path(path)} is not a cyclegan training checkpoint")
    return ckpt


def load_generator(path: str | Path, direction: Direction = "AtoB", *, device: str | torch.device = "cpu") -> nn.Module:
    """The generator for `direction` from a run folder or checkpoint file, in eval mode on `device`.

    Also reads a plain generator state dict saved by the reference implementation (ResNet or U-Net,
    architecture inferred from the tensors; one generator, used whatever `direction` says).

    The module maps (B, 3, H, W) in [-1, 1] to the same shape in [-1, 1]; H and W must be multiples of
    its `size_multiple` attribute (`cyclegan.translate` pads and crops for you).
    """
    from .config import config_from_dict
    from .models import build_generator

    if direction not in GENERATOR_FOR:
        raise CycleGANError(f"direction must be AtoB or BtoA, got {direction!r}")
    ckpt = load_file(path)
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        cfg = config_from_dict(ckpt["config"], source=str(checkpoint_path(path)))
        net = build_generator(cfg.model)
        net.load_state_dict(ckpt["models"][GENERATOR_FOR[direction]])
    else:  # a generator saved by the reference implementation (or in its layout): see cyclegan.interop
        from .interop.foreign import load_foreign_generator

        net = load_foreign_generator(ckpt, direction, source=str(checkpoint_path(path)))
    return net.to(device).eval().requires_grad_(False)
