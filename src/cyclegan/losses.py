"""The CycleGAN objective: adversarial (LSGAN, vanilla or hinge), cycle consistency and identity losses."""

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F_

GANLoss = Literal["lsgan", "vanilla", "hinge"]
Scores = torch.Tensor | Sequence[torch.Tensor]  # one discriminator's raw scores, or several discriminators'


def _one(scores: torch.Tensor, real: bool, kind: GANLoss, generator: bool) -> torch.Tensor:
    scores = scores.float()
    if kind == "lsgan":
        return F_.mse_loss(scores, torch.ones_like(scores) if real else torch.zeros_like(scores))
    if kind == "vanilla":
        return F_.binary_cross_entropy_with_logits(
            scores, torch.ones_like(scores) if real else torch.zeros_like(scores)
        )
    if kind == "hinge":
        if generator:  # the generator raises the fakes' scores, without a margin (Lim & Ye 2017)
            return -scores.mean()
        return F_.relu(1 - scores).mean() if real else F_.relu(1 + scores).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def adversarial_loss(scores: Scores, real: bool, kind: GANLoss = "lsgan", *, generator: bool = False) -> torch.Tensor:
    """Loss of raw discriminator scores (any shape) against the target "real" or "fake", in fp32.

    lsgan: mean((D - target)^2) with targets 1 / 0; vanilla: binary cross-entropy on the logits; hinge:
    mean(relu(1 - D)) for real, mean(relu(1 + D)) for fake, and -mean(D) for the generator's loss
    (`generator=True`, with real=True). A tuple of score tensors (several discriminators) sums their losses.
    """
    if isinstance(scores, torch.Tensor):
        return _one(scores, real, kind, generator)
    return sum((_one(s, real, kind, generator) for s in scores), torch.zeros((), device=scores[0].device))


def cycle_loss(reconstructed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """mean |F(G(x)) - x| (images in [-1, 1]); multiply by lambda_cycle."""
    return F_.l1_loss(reconstructed.float(), real.float())


def identity_loss(same: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """mean |G(y) - y|: keeps colours when the input is already in the target domain."""
    return F_.l1_loss(same.float(), real.float())


def patch_nce_loss(q: torch.Tensor, k: torch.Tensor, *, batch_size: int, temperature: float) -> torch.Tensor:
    """PatchNCE (CUT, Park et al. 2020): each output patch `q` must pick out the input patch `k` at its own
    position among the other sampled patches of the same image. q, k: (B * P, D) L2-normalised, image-major;
    k carries no gradient. Returns the mean cross-entropy over the B * P patches, in fp32."""
    q, k = q.float(), k.detach().float()
    n, dim = q.shape
    positive = (q * k).sum(dim=1, keepdim=True)  # (B*P, 1)
    q_, k_ = q.view(batch_size, -1, dim), k.view(batch_size, -1, dim)  # negatives from the same image only
    p = q_.shape[1]
    negative = torch.bmm(q_, k_.transpose(1, 2))  # (B, P, P)
    diagonal = torch.eye(p, device=q.device, dtype=torch.bool)[None]
    negative = negative.masked_fill(diagonal, -10.0).view(-1, p)  # the positive is not its own negative
    logits = torch.cat([positive, negative], dim=1) / temperature  # (B*P, 1 + P)
    return F_.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=q.device))
