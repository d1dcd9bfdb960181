"""Gatys et al.'s objective as small pure functions: Gram matrices, content, style and total variation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F_


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """features (B, C, H, W) -> Gram matrices (B, C, C) = F F^T / (C H W), F the (C, H*W) flattened map.

    Dividing by C H W makes the value independent of image size, so a style image of another size gives
    a comparable target.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def blend_grams(grams: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """Weighted sum per layer of the Gram matrices of several style images (weights should sum to 1)."""
    return {name: sum(w * g[name] for g, w in zip(grams, weights, strict=True)) for name in grams[0]}


def content_loss(features: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Sum over the target's layers of the mean squared difference of feature maps."""
    return sum(F_.mse_loss(features[name], target[name]) for name in target)


def style_loss(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Sum over the target's layers of the mean squared difference of Gram matrices (B, C, C)."""
    return sum(F_.mse_loss(gram_matrix(features[name]), target_grams[name]) for name in target_grams)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation of images (B, C, H, W): mean absolute difference of vertical and horizontal
    neighbours. Penalising it removes the high-frequency colour noise that pixel optimisation leaves. An image one
    pixel high (or wide) has no such neighbours: that direction adds 0 (the mean of none is NaN)."""
    diffs = (x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1])
    return sum((d.abs().mean() for d in diffs if d.numel()), x.new_zeros(()))


def gram_distance(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor]) -> float:
    """Mean over layers of ||G(x) - G_target||_F / ||G_target||_F: a scale-free style mismatch, 0 = equal.

    Used to report how well an image matches a style (not as the optimisation objective)."""
    ratios = [
        (gram_matrix(features[name]) - target_grams[name]).norm() / target_grams[name].norm().clamp_min(1e-12)
        for name in target_grams
    ]
    return float(torch.stack(ratios).mean())
