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


def save_cell_grid(
    rows: list[list[torch.Tensor]], path: str | Path, *, padding: int = 2, palette: bool = False
) -> Path:
    """Save a PNG of `rows`, each a list of (3, cell, cell) uint8 images (one per column), laid out as `save_grid`
    lays them (white padding), built in uint8: a caller keeps each image's cell, not the image.
    palette: 256 colours, about 3x smaller."""
    cell = rows[0][0].shape[-1]
    step = cell + padding
    canvas = torch.full((len(rows) * step + padding, len(rows[0]) * step + padding, 3), 255, dtype=torch.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            y, x = padding + r * step, padding + c * step
            canvas[y : y + cell, x : x + cell] = image.permute(1, 2, 0)  # (H, W, 3)
    image = Image.fromarray(canvas.numpy())
    if palette:  # quantized in memory: a grid written and opened again is refused past Pillow's bomb limit
        return write_atomic(path, lambda tmp: image.quantize(256).save(tmp, format="PNG", optimize=True))
    return write_atomic(path, lambda tmp: image.save(tmp, format="PNG"))
