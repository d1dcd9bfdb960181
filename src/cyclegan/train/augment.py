"""Differentiable augmentation of what the discriminators see (DiffAugment, Zhao et al., NeurIPS 2020).

Real and generated images pass through the same random transformations before a discriminator scores
them, so it cannot memorise the few real images it has; the transformations are differentiable, so the
generators still learn through them. Only discriminator inputs are augmented, never the images that the
cycle and identity losses compare.

Each policy draws its own random parameters per image from torch's global generator (saved in checkpoints,
so a resumed run draws the same ones).
"""

from __future__ import annotations

import torch


def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) per image; x in [-1, 1]."""
    b = x.shape[0]
    r = torch.rand(3, b, 1, 1, 1, device=x.device, dtype=x.dtype)
    x = x + (r[0] - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (r[1] * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (r[2] + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `ratio` of its size in x and y (whole pixels), filling with zeros."""
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row of each output row
    xs = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).unsqueeze(1)
    index = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).view(b, 1, h * w).expand(-1, x.shape[1], -1)
    shifted = x.flatten(2).gather(2, index).view_as(x)
    return shifted * inside


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of `ratio` times the image's sides in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    hole = ((ys - cy).abs() <= ch // 2) & ((xs - cx).abs() <= cw // 2)
    return x * (~hole).unsqueeze(1)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply the comma-separated policies (e.g. "color,translation,cutout") in order; "" is the identity.
    x (B, C, H, W) -> the same shape."""
    for name in filter(None, policy.split(",")):
        x = POLICIES[name](x)
    return x
