"""The CycleGAN objective: adversarial (LSGAN or vanilla), cycle consistency and identity losses."""

from typing import Literal

import torch
import torch.nn.functional as F_

GANLoss = Literal["lsgan", "vanilla"]


def adversarial_loss(scores: torch.Tensor, real: bool, kind: GANLoss = "lsgan") -> torch.Tensor:
    """Loss of raw discriminator scores (any shape) against the target "real" (1) or "fake" (0).

    lsgan: mean((D - target)^2); vanilla: binary cross-entropy on the logits. Computed in fp32.
    """
    scores = scores.float()
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    if kind == "lsgan":
        return F_.mse_loss(scores, target)
    if kind == "vanilla":
        return F_.binary_cross_entropy_with_logits(scores, target)
    raise ValueError(f"unknown GAN loss {kind!r}")


def cycle_loss(reconstructed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """mean |F(G(x)) - x| (images in [-1, 1]); multiply by lambda_cycle."""
    return F_.l1_loss(reconstructed.float(), real.float())


def identity_loss(same: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """mean |G(y) - y|: keeps colours when the input is already in the target domain."""
    return F_.l1_loss(same.float(), real.float())
