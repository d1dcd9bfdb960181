"""Image grids: one row per example, one column per stage (e.g. real | translated | reconstructed)."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from ..files import write_atomic


def save_grid(columns: list[torch.Tensor], path: str | Path, *, padding: int = 2) -> Path:
    """Save a PNG with rows = examples and columns = the given tensors, each (N, 3, H, W) in [-1, 1]."""
    rows = torch.stack([c.detach().float().cpu() for c in columns], dim=1)  # (N, K, 3, H, W)
    grid = make_grid(rows.flatten(0, 1), nrow=len(columns), padding=padding, pad_value=1.0)
    return write_atomic(path, lambda tmp: save_image((grid + 1) / 2, tmp, format="png"))
