"""The CUT and FastCUT trainer (Park et al., ECCV 2020): one generator G (source -> target), one
discriminator D on the target domain, and PatchNCE in place of the cycle: each patch of G(x), seen through
G's own encoder layers and the projection head H, must match the patch of x at the same position against
the other sampled patches of x. CUT adds the identity term PatchNCE(G(y), y); FastCUT drops it, weighs
PatchNCE 10 and flips G's input at random (flip-equivariance). `direction` BtoA learns B -> A.
"""

from __future__ import annotations

import torch
from torch import nn

from ..losses import adversarial_loss, patch_nce_loss
from .one_generator import OneGeneratorTrainer
from .trainer import RealFake


class CUTGenerator(nn.Module):
    """G and H in one module, so that one call (one DistributedDataParallel forward) computes everything the
    generator's loss needs but D's scores: (G(x), G(y) or None, PatchNCE(x, G(x)), PatchNCE(y, G(y)) or None).

    With `flip`, G sees x (and y) mirrored left-right, and the output's features are mirrored back before
    they are compared with the unmirrored input's (FastCUT's flip-equivariance). `nce` False (`--lambda-nce 0`):
    no PatchNCE is computed (None for both) and H is not part of the module, which then trains G alone (under
    DistributedDataParallel a parameter without a gradient would stall the next step)."""

    def __init__(
        self,
        G: nn.Module,
        H: nn.Module,
        *,
        layers: tuple[int, ...],
        num_patches: int,
        temperature: float,
        identity: bool,
        nce: bool = True,
    ):
        super().__init__()
        self.G, self.H = G, (H if nce else None)
        self.layers, self.num_patches, self.temperature, self.identity = layers, num_patches, temperature, identity

    def _nce(self, src: torch.Tensor, src_feats: list[torch.Tensor] | None, out: torch.Tensor, flip: bool):
        """Mean over the layers of PatchNCE between G's features of `out` (queries) and of `src` (keys)."""
        if src_feats is None:  # the input was mirrored: the keys are the unmirrored input's features
            with torch.no_grad():
                _, src_feats = self.G.forward_features(src, self.layers, encode_only=True)
        _, out_feats = self.G.forward_features(out, self.layers, encode_only=True)
        if flip:
            out_feats = [f.flip(3) for f in out_feats]
        with torch.no_grad():  # the keys carry no gradient (to G or H), as in the CUT code
            keys, ids = self.H([f.detach() for f in src_feats], self.num_patches)
        queries, _ = self.H(out_feats, self.num_patches, ids)
        b = src.shape[0]
        losses = [patch_nce_loss(q, k, batch_size=b, temperature=self.temperature) for q, k in zip(queries, keys)]
        return torch.stack(losses).mean()

    def forward(self, x: torch.Tensor, y: torch.Tensor, flip: bool):
        real = torch.cat([x, y]) if self.identity else x  # G on [x; y] at once: per-sample norms, same numbers
        if flip:
            real = real.flip(3)
        fake, feats = self.G.forward_features(real, self.layers)
        fake_y, idt_y = fake.chunk(2) if self.identity else (fake, None)
        if self.H is None:  # weighed 0: the patches' features, MLP and contrastive loss would all be thrown away
            return fake_y, idt_y, None, None
        b = x.shape[0]
        src_x = None if flip else [f[:b] for f in feats]
        nce_x = self._nce(x, src_x, fake_y, flip)
        nce_y = None
        if self.identity:
            nce_y = self._nce(y, None if flip else [f[b:] for f in feats], idt_y, flip)
        return fake_y, idt_y, nce_x, nce_y


class CUTTrainer(OneGeneratorTrainer):
    """G with H (one Adam: one summed loss) and D (its own Adam); an image pool of G's outputs for D
    (the CUT paper uses none: --pool-size 0). CUT and FastCUT differ in their options only."""

    def _with_generator(self, nets: dict[str, nn.Module]) -> tuple[nn.Module, ...]:
        return (nets["H"],)

    def _setup_modules(self, nets: dict[str, nn.Module]) -> None:
        c = self.cfg.cut
        self.H = nets["H"]
        generator = CUTGenerator(
            self.G,
            self.H,
            layers=c.nce_layers,
            num_patches=c.nce_num_patches,
            temperature=c.nce_temperature,
            identity=c.nce_idt,
            nce=c.lambda_nce > 0,
        )
        self._generator_module, self._real_fake = self._wrap(
            self.execution.compiled(generator), RealFake(self._D, together=self.execution.batch_discriminator_calls)
        )

    def step(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        t, c = self.cfg.train, self.cfg.cut
        x, y = self._inputs(a, b)
        # drawn from torch's global generator (saved in checkpoints): a resumed run flips the same way
        flip = bool(c.flip_equivariance and torch.rand(()) < 0.5)
        with self.execution.autocast(self.device):
            fake_y, idt_y, nce_x, nce_y = self._generator_module(x, y, flip)
        pool = self.pools["Y"]
        losses = {"D": self._update_D(self._real_fake, self._opt_D, y, pool.query(fake_y.detach()))}
        self.D.requires_grad_(False)  # no parameter grads for D from the generator's loss
        with self.execution.autocast(self.device):
            pred = self._D(self._augment(fake_y))
        losses["G_adv"] = adversarial_loss(pred, True, t.gan_loss, generator=True)
        total = losses["G_adv"]
        if nce_x is not None:  # None: --lambda-nce 0, not computed (H keeps its weights: no gradient, no step)
            losses["NCE"] = nce_x
            nce = nce_x
            if nce_y is not None:
                losses["NCE_idt"] = nce_y
                nce = (nce_x + nce_y) * 0.5
            total = total + c.lambda_nce * nce
        losses = self._update_generators(total, self._opt_G, losses, frozen=(self.D,))
        self._end_step()
        return losses

    @torch.no_grad()
    def sample_columns(self, xs: torch.Tensor, ys: torch.Tensor) -> list[torch.Tensor]:
        """Rows x | G(x) for each source image, then y | G(y) (identity) for each target-domain image."""
        x, y = self.pair(xs, ys)
        with self._eval_mode(self._generator()) as G:
            return [torch.cat([x, y]), torch.cat([G(x), G(y)])]
