"""Image grids: one row per example, one column per stage (e.g. real | translated | reconstructed)."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid, save_image

from ..files import write_atomic


def save_grid(columns: list[torch.Tensor], path: str | Path, *, padding: int = 2, palette: bool = False) -> Path:
    """Save a PNG with rows = examples and columns = the given tensors, each (N, 3, H, W) in [-1, 1].
    palette: 256 colours, about 3x smaller."""
    rows = torch.stack([c.detach().float().cpu() for c in columns], dim=1)  # (N, K, 3, H, W)
    grid = make_grid(rows.flatten(0, 1), nrow=len(columns), padding=padding, pad_value=1.0)
    if not palette:
        return write_atomic(path, lambda tmp: save_image((grid + 1) / 2, tmp, format="png"))
    # quantized in memory: the RGB grid written and opened again was refused by Pillow's decompression-bomb check
    # past 179 MP (`compare --grid-palette` of 60 images at --size 1024), a traceback after every image's work
    pixels = ((grid + 1) / 2).mul_(255).add_(0.5).clamp_(0, 255).to(torch.uint8)  # rounded as save_image rounds
    image = Image.fromarray(pixels.permute(1, 2, 0).numpy())  # (H, W, 3)
    return write_atomic(path, lambda tmp: image.quantize(256).save(tmp, format="PNG", optimize=True))
