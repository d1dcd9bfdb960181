"""The pix2pix trainer (Isola et al., CVPR 2017): one generator G learns source -> target from pairs (x, y),
against a conditional PatchGAN D that judges (x, y) against (x, G(x)); the generator's loss adds
lambda_l1 * |G(x) - y|. `direction` BtoA learns B -> A (x is then the B image of each pair)."""

from __future__ import annotations

import torch
import torch.nn.functional as F_
from torch import nn

from ..losses import adversarial_loss
from .one_generator import OneGeneratorTrainer
from .trainer import RealFake


class ConditionalRealFake(RealFake):
    """D on (x, real y) and (x, fake y), the input concatenated to each on the channels: one module call (one
    DDP forward per update); `together` as `RealFake`'s. x, y: (B, 3, H, W) -> two score maps (B, 1, h, w)."""

    def forward(self, x: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().forward(torch.cat([x, real], 1), torch.cat([x, fake], 1))


class Pix2PixTrainer(OneGeneratorTrainer):
    """G and the conditional D, one Adam each; no image pool (D judges pairs)."""

    def _setup_modules(self, nets: dict[str, nn.Module]) -> None:
        self._G, self._real_fake = self._wrap(
            self.execution.compiled(self.G),
            ConditionalRealFake(self._D, together=self.execution.batch_discriminator_calls),
        )

    def step(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        t = self.cfg.train
        x, y = self._inputs(a, b)
        with self.execution.autocast(self.device):
            fake = self._G(x)
        losses = {"D": self._update_D(self._real_fake, self._opt_D, y, fake.detach(), cond=x)}
        self.D.requires_grad_(False)  # no parameter grads for D from the generator's loss
        with self.execution.autocast(self.device):
            pred = self._D(torch.cat([x, fake], 1))
        losses["G_adv"] = adversarial_loss(pred, True, t.gan_loss, generator=True)
        losses["L1"] = F_.l1_loss(fake.float(), y.float())
        total = losses["G_adv"] + self.cfg.pix2pix.lambda_l1 * losses["L1"]
        losses = self._update_generators(total, self._opt_G, losses, frozen=(self.D,))
        self._end_step()
        return losses

    @torch.no_grad()
    def sample_columns(self, xs: torch.Tensor, ys: torch.Tensor) -> list[torch.Tensor]:
        """Rows source | G(source) | the true target, for each fixed pair."""
        x, y = self.pair(xs, ys)
        with self._eval_mode(self._generator()) as G:
            return [x, G(x), y]
