"""The pix2pix trainer (Isola et al., CVPR 2017): one generator G learns source -> target from pairs (x, y),
against a conditional PatchGAN D that judges (x, y) against (x, G(x)); the generator's loss adds
lambda_l1 * |G(x) - y|. `direction` BtoA learns B -> A (x is then the B image of each pair)."""

from __future__ import annotations

import torch
import torch.nn.functional as F_
from torch import nn

from ..losses import adversarial_loss
from .cyclegan import Trainer


class ConditionalRealFake(nn.Module):
    """D on (x, real y) and (x, fake y), the input concatenated to each on the channels: one call (one DDP
    forward per update). x, y: (B, 3, H, W) -> two score maps (B, 1, h, w)."""

    def __init__(self, D: nn.Module):
        super().__init__()
        self.D = D

    def forward(self, x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.D(torch.cat([x, real], 1)), self.D(torch.cat([x, fake], 1))


class Pix2PixTrainer(Trainer):
    """G and the conditional D, one Adam each; no image pool (D judges pairs)."""

    family = "pix2pix"

    def _setup(self, nets: dict[str, nn.Module]) -> None:
        ex = self.execution
        self.G, self.D = nets["G"], nets["D"]
        G, D = ex.compiled(self.G), ex.compiled(self.D)
        self._D = D  # for the generator's loss: input gradients only, no sync needed
        self._G, self._real_fake = self._wrap(G, ConditionalRealFake(D))
        self.opt_G_only = self._adam(self.G)
        self.opt_D = self._adam(self.D)

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G_only, "D": self.opt_D}

    def pair(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(source, target) of a batch of pairs from A and B, as `direction` says."""
        return (a, b) if self.cfg.model.direction == "AtoB" else (b, a)

    def step(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        t = self.cfg.train
        if self.execution.channels_last:
            a, b = (v.contiguous(memory_format=torch.channels_last) for v in (a, b))
        x, y = self.pair(a, b)
        with self.execution.autocast(self.device):
            fake = self._G(x)
        losses = {"D": self._update_D(self._real_fake, self.opt_D, y, fake.detach(), cond=x)}
        self.D.requires_grad_(False)  # no parameter grads for D from the generator's loss
        with self.execution.autocast(self.device):
            pred = self._D(torch.cat([x, fake], 1))
        losses["G_adv"] = adversarial_loss(pred, True, t.gan_loss, generator=True)
        losses["L1"] = F_.l1_loss(fake.float(), y.float())
        total = losses["G_adv"] + self.cfg.pix2pix.lambda_l1 * losses["L1"]
        losses = self._update_generators(total, self.opt_G_only, losses, frozen=(self.D,))
        self._end_step()
        return losses

    @torch.no_grad()
    def sample_columns(self, xs: torch.Tensor, ys: torch.Tensor) -> list[torch.Tensor]:
        """Rows source | G(source) | the true target, for each fixed pair."""
        x, y = self.pair(xs, ys)
        with self._eval_mode(self._generator()) as G:
            return [x, G(x), y]
