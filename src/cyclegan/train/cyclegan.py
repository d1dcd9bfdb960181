"""The CycleGAN trainer: the objective, its three updates (D_X, D_Y, then G and F together).

Notation as in the paper: G maps X (domain A) to Y (domain B), F maps Y back to X; D_X tells real X
from F(y), D_Y tells real Y from G(x).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..losses import adversarial_loss, cycle_loss, identity_loss
from ..models.fused import fuse_layers
from .lanes import Lanes
from .pool import ImagePool
from .trainer import RealFake, Trainer


@dataclass
class Outputs:
    """Every generator output of one iteration, computed once (B, 3, H, W) in [-1, 1]."""

    fake_y: torch.Tensor  # G(x)
    rec_x: torch.Tensor  # F(G(x))
    fake_x: torch.Tensor  # F(y)
    rec_y: torch.Tensor  # G(F(y))
    idt_y: torch.Tensor | None  # G(y), only with the identity loss
    idt_x: torch.Tensor | None  # F(x)


class GeneratorPair(nn.Module):
    """G and F in one module, so that one call (one DistributedDataParallel forward) computes every
    generator output of an iteration: (G(x), F(G(x)), F(y), G(F(y)), G(y) or None, F(x) or None)."""

    def __init__(self, G: nn.Module, F: nn.Module, *, identity: bool, batch_calls: bool):
        super().__init__()
        self.G, self.F = G, F
        self.identity, self.batch_calls = identity, batch_calls

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if self.identity and self.batch_calls:  # G on [x; y] at once: per-sample norms give the same numbers
            fake_y, idt_y = self.G(torch.cat([x, y])).chunk(2)
            fake_x, idt_x = self.F(torch.cat([y, x])).chunk(2)
        else:
            fake_y, fake_x = self.G(x), self.F(y)
            idt_y, idt_x = (self.G(y), self.F(x)) if self.identity else (None, None)
        return fake_y, self.F(fake_y), fake_x, self.G(fake_x), idt_y, idt_x


def _grad_sum(param: torch.Tensor, a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    """a + b (None where unused) in `param`'s own layout, as backward() would store it: a gradient from
    autograd.grad may keep the strides of a view (a flipped, transposed weight), and the fused Adam reads
    .grad element for element in the parameter's order."""
    if a is None and b is None:
        return None
    grad = torch.empty_like(param)
    if a is None or b is None:
        return grad.copy_(b if a is None else a)
    return torch.add(a, b, out=grad)


class CycleGANTrainer(Trainer):
    """Owns the four networks, three optimizers (G+F, D_X, D_Y), their schedules, the image pools and the
    gradient scaler, and saves and restores all of them (with the random state) as one checkpoint."""

    def _setup(self, nets: dict[str, nn.Module]) -> None:
        t, ex = self.cfg.train, self.execution
        if ex.fused_layers:  # in place, same parameters and state_dict keys: checkpoints are unchanged. (Not
            # for CUT: its PatchNCE taps the generator's layers by index, and the sub-pixel form moves the
            # upsampling from one index to another.)
            for net in nets.values():
                fuse_layers(net)
        self.G, self.F, self.D_X, self.D_Y = nets["G"], nets["F"], nets["D_X"], nets["D_Y"]
        G, F, D_X, D_Y = (ex.compiled(n) for n in (self.G, self.F, self.D_X, self.D_Y))
        self._D_X, self._D_Y = D_X, D_Y  # for the generators' loss: input gradients only, no sync needed
        self._generators, self._real_fake_X, self._real_fake_Y = self._wrap(
            GeneratorPair(G, F, identity=t.lambda_identity > 0, batch_calls=ex.batch_generator_calls),
            RealFake(D_X, together=ex.batch_discriminator_calls),
            RealFake(D_Y, together=ex.batch_discriminator_calls),
        )
        # One Adam over G and F (one summed loss); Adam is per parameter, so separate D optimizers
        # are the same as one over both and let D_X and D_Y update one after the other.
        self.opt_G_F = self._adam(self.G, self.F)
        self.opt_D_X = self._adam(self.D_X, discriminator=True)
        self.opt_D_Y = self._adam(self.D_Y, discriminator=True)
        self.lanes = Lanes() if self._lanes_apply() else None

    def _forms_applied(self) -> dict[str, bool]:
        return {"fused_layers": self.execution.fused_layers, "parallel_chains": self.lanes is not None}

    def _lanes_apply(self) -> bool:
        """Whether the iteration runs as two lanes (`train.lanes`): where the execution asks for it and nothing
        makes the lanes' results depend on their timing (random draws from the global generator: dropout,
        DiffAugment; BatchNorm statistics of a generator both lanes run) or needs one call (torchrun)."""
        t, m = self.cfg.train, self.cfg.model
        return (
            self.execution.parallel_chains
            and not self.dist.enabled
            and m.norm != "batch"
            and m.dropout == 0
            and not t.diffaug
            and t.r1_gamma == 0
        )

    @property
    def pool_X(self) -> ImagePool:
        return self.pools["X"]

    @property
    def pool_Y(self) -> ImagePool:
        return self.pools["Y"]

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G_F, "D_X": self.opt_D_X, "D_Y": self.opt_D_Y}

    # --- one iteration --------------------------------------------------------------------------------

    def generate(self, x: torch.Tensor, y: torch.Tensor) -> Outputs:
        """All generator outputs for real batches x (B, 3, H, W) from A and y from B, in [-1, 1]."""
        with self.execution.autocast(self.device):
            return Outputs(*self._generators(x, y))

    def update_D_X(self, x: torch.Tensor, out: Outputs) -> torch.Tensor:
        """One step of D_X: real x against F(y) drawn through the pool (detached: G and F get no grad)."""
        return self._update_D(self._real_fake_X, self.opt_D_X, x, self.pool_X.query(out.fake_x.detach()))

    def update_D_Y(self, y: torch.Tensor, out: Outputs) -> torch.Tensor:
        """One step of D_Y: real y against G(x) drawn through the pool."""
        return self._update_D(self._real_fake_Y, self.opt_D_Y, y, self.pool_Y.query(out.fake_y.detach()))

    def update_G(self, x: torch.Tensor, y: torch.Tensor, out: Outputs) -> dict[str, torch.Tensor]:
        """One step of G and F together on adversarial + lambda_cycle * (cycle + lambda_identity * identity)."""
        t = self.cfg.train
        for D in (self.D_X, self.D_Y):  # no parameter grads for D from the generators' loss
            D.requires_grad_(False)
        with self.execution.autocast(self.device):  # plain (not DDP) D: no D gradients to average here
            pred_y, pred_x = self._D_Y(self._augment(out.fake_y)), self._D_X(self._augment(out.fake_x))
        losses = {
            "G_adv": adversarial_loss(pred_y, True, t.gan_loss, generator=True),
            "F_adv": adversarial_loss(pred_x, True, t.gan_loss, generator=True),
            "cycle_x": cycle_loss(out.rec_x, x),
            "cycle_y": cycle_loss(out.rec_y, y),
        }
        total = losses["G_adv"] + losses["F_adv"] + t.lambda_cycle * (losses["cycle_x"] + losses["cycle_y"])
        if out.idt_y is not None:
            losses["idt_y"] = identity_loss(out.idt_y, y)
            losses["idt_x"] = identity_loss(out.idt_x, x)
            total = total + t.lambda_cycle * t.lambda_identity * (losses["idt_y"] + losses["idt_x"])
        return self._update_generators(total, self.opt_G, losses, frozen=(self.D_X, self.D_Y))

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One training iteration; returns the losses as 0-d tensors (still on the device: no sync)."""
        x, y = self._formatted(x, y)
        if self.lanes is not None:
            return self._step_in_lanes(x, y)
        out = self.generate(x, y)
        losses = {"D_X": self.update_D_X(x, out), "D_Y": self.update_D_Y(y, out)}
        losses.update(self.update_G(x, y, out))
        self._end_step()
        return losses

    def _lane(self, G, F, D, real_fake, opt_D, pool: ImagePool, a, b, names: tuple[str, str, str, str]):
        """One half of an iteration (`train.lanes`): G then F on the real batch `a` (and the identity G(b)), the
        update of D (which judges G's domain) on b against G(a), then the gradients for G and F of this
        half's generator loss: (losses, gradients of G's then F's parameters, or None where unused)."""
        t, pair = self.cfg.train, self._generators
        with self.execution.autocast(self.device):
            if pair.identity and pair.batch_calls:
                fake, idt = G(torch.cat([a, b])).chunk(2)
            else:
                fake, idt = G(a), (G(b) if pair.identity else None)
            rec = F(fake)
        adv, cyc, idt_name, d_name = names
        losses = {d_name: self._update_D(real_fake, opt_D, b, pool.query(fake.detach()))}
        D.requires_grad_(False)  # no parameter grads for D from the generators' loss
        with self.execution.autocast(self.device):
            pred = D(self._augment(fake))
        losses[adv] = adversarial_loss(pred, True, t.gan_loss, generator=True)
        losses[cyc] = cycle_loss(rec, a)
        total = losses[adv] + t.lambda_cycle * losses[cyc]
        if idt is not None:
            losses[idt_name] = identity_loss(idt, b)
            total = total + t.lambda_cycle * t.lambda_identity * losses[idt_name]
        params = [*self.G.parameters(), *self.F.parameters()]
        grads = torch.autograd.grad(total, params, allow_unused=True)
        D.requires_grad_(True)
        return losses, total, grads

    def _step_in_lanes(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """`step` as two lanes on two cores: G(x), F(G(x)), D_Y's update and G(x)'s generator loss on one;
        F(y), G(F(y)), D_X's update and F(y)'s loss on the other; the gradients for G and F summed in that
        order (the same sum as `step`'s one backward, whichever lane ends first), then the generators' Adam."""
        pair = self._generators
        lane_x = (pair.G, pair.F, self._D_Y, self._real_fake_Y, self.opt_D_Y, self.pool_Y, x, y)
        lane_y = (pair.F, pair.G, self._D_X, self._real_fake_X, self.opt_D_X, self.pool_X, y, x)
        (l1, t1, g1), (l2, t2, g2) = self.lanes.run(
            lambda: self._lane(*lane_x, ("G_adv", "cycle_x", "idt_y", "D_Y")),
            lambda: self._lane(*lane_y, ("F_adv", "cycle_y", "idt_x", "D_X")),
        )
        self.opt_G_F.zero_grad(set_to_none=True)
        for p, a, b in zip([*self.G.parameters(), *self.F.parameters()], g1, g2):
            p.grad = _grad_sum(p, a, b)
        self.scaler.step(self.opt_G_F)
        both = l1 | l2
        order = ("D_X", "D_Y", "G_adv", "F_adv", "cycle_x", "cycle_y", "idt_y", "idt_x")  # as `step` returns them
        losses = {k: both[k] for k in order if k in both} | {"G_total": t1 + t2}
        self._end_step()
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def sample_columns(self, xs: torch.Tensor, ys: torch.Tensor) -> list[torch.Tensor]:
        """Rows x | G(x) | F(G(x)) for each A image, then y | F(y) | G(F(y)) for each B image."""
        G, F = self._generator("G"), self._generator("F")
        modes = [n.training for n in (G, F)]
        G.eval(), F.eval()
        fake_y, fake_x = G(xs), F(ys)
        rec_x, rec_y = F(fake_y), G(fake_x)
        G.train(modes[0]), F.train(modes[1])
        return [torch.cat([xs, ys]), torch.cat([fake_y, fake_x]), torch.cat([rec_x, rec_y])]
