"""What every model family's trainer shares (`Trainer`): the networks on the device, compiled and wrapped for
DistributedDataParallel under torchrun; the optimizers' LR schedules; the gradient scaler; the image pools;
the generators' weight averages; one discriminator update and one generators' update; saving and restoring
all of it, with the random state, as one checkpoint. A family's trainer is named in its `cyclegan.families`
entry ("module:Class") and found by `trainer_class`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from ..checkpoint import save_atomic
from ..config import Config
from ..data.dataset import mix_seed
from ..errors import CycleGANError
from ..execution import REFERENCE, Execution
from ..families import family
from ..losses import adversarial_loss
from ..models import build_networks
from ..progress import print_line, print_warning
from ..run_files import FORMAT, GENERATORS_ONLY
from ..version import __version__
from . import distributed as ddp
from .augment import diff_augment
from .ema import EMA
from .pool import ImagePool


def trainer_class(name: str) -> type[Trainer]:
    """The trainer of model family `name` (its entry's "module:Class", imported now)."""
    module, _, cls = family(name).trainer.partition(":")
    trainer = getattr(importlib.import_module(module), cls)
    if not (isinstance(trainer, type) and issubclass(trainer, Trainer)):
        raise CycleGANError(f"model family {name!r}: {family(name).trainer} is not a Trainer")
    return trainer


def has_batch_norm(net: nn.Module) -> bool:
    """Whether any layer of `net` normalises over the batch (its outputs then depend on the other samples)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def split_scores(scores, n: int):
    """A discriminator's scores of [real; fake] (a tensor, or a list of tensors for a multi-scale one) -> the
    scores of the first n samples and of the rest."""
    if isinstance(scores, torch.Tensor):
        return scores[:n], scores[n:]
    return [s[:n] for s in scores], [s[n:] for s in scores]


class RealFake(nn.Module):
    """A discriminator on a real and a fake batch, in one module call (one DDP forward per update); `together`:
    one network call on [real; fake] (`Execution.batch_discriminator_calls`), ignored if D has BatchNorm."""

    def __init__(self, D: nn.Module, *, together: bool = False):
        super().__init__()
        self.D = D
        self.together = together and not has_batch_norm(D)

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.together:
            return split_scores(self.D(torch.cat([real, fake])), len(real))
        return self.D(real), self.D(fake)


def linear_decay(total_steps: int, decay_fraction: float):
    """LR factor per step: 1 for the first steps, then linearly to 0 over the last `decay_fraction`."""
    decay_steps = round(total_steps * decay_fraction)
    start = total_steps - decay_steps

    def factor(step: int) -> float:
        if step < start or decay_steps == 0:
            return 1.0
        return max(0.0, (total_steps - step) / decay_steps)

    return factor


def _rng_state(device: torch.device) -> dict:
    """The global random state (dropout, DiffAugment): torch's CPU generator and, when training on a CUDA GPU,
    that GPU's. Not every GPU's (`get_rng_state_all`): a run resumed where fewer GPUs are visible stopped in
    torch's "tuple index out of range", and one resumed on another index (--device cuda:1, then cuda:0) got the
    state of a GPU it never trained on."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    """The inverse of `_rng_state`, onto the training `device`. A checkpoint of an older version holds a list, every
    GPU's state: this device's index in it is taken (the GPU the run trained on under the same index), if any."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if device.type != "cuda" or cuda is None:
        return
    if isinstance(cuda, (list, tuple)):
        index = device.index if device.index is not None else torch.cuda.current_device()
        cuda = cuda[index] if index < len(cuda) else None
    if isinstance(cuda, torch.Tensor):
        torch.cuda.set_rng_state(cuda, device)


def _ddp(module: nn.Module, device: torch.device, *, sync_buffers: bool) -> nn.Module:
    """`module` in DistributedDataParallel: its gradients averaged over the ranks at each backward."""

    ids = [device.index] if device.type == "cuda" and device.index is not None else None
    # Newer torch names the option forward_sync_buffers and warns on the old name. (Unlike
    # broadcast_buffers=False, it still syncs the buffers once at wrapping: equal on every rank here anyway.)
    key = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP).parameters else "broadcast_buffers"
    return DDP(module, device_ids=ids, **{key: sync_buffers})


class Trainer:
    """What every model family's trainer shares: the networks (`build_networks`), on the device, compiled and
    (under torchrun) wrapped for DistributedDataParallel by the family; the optimizers' LR schedules, the
    gradient scaler, the image pools, the generators' weight averages; one discriminator update; saving and
    restoring all of it (with the random state) as one checkpoint.

    Which networks, pools and generators a trainer has comes from its family's entry (`cyclegan.families`).
    A family's subclass builds its modules and optimizers in `_setup` and writes `step` (one iteration,
    returning its losses) and `sample_columns`."""

    def __init__(
        self,
        cfg: Config,
        *,
        total_steps: int,
        device: torch.device,
        execution: Execution = REFERENCE,
        dist: ddp.Dist = ddp.ONE_PROCESS,
    ):
        """`execution`: precision, memory format, compilation. `dist`: this process's place in a torchrun
        run; with several processes the networks are wrapped in DistributedDataParallel (torch.distributed
        must be initialised; gradients are averaged over ranks) and each rank gets its own image-pool and
        dropout random streams."""
        self.cfg = cfg
        t = cfg.train
        self.family = family(cfg.model.family)
        self.pool_names = self.family.pools  # image pools, seeded seed + 1, seed + 2, ... in this order
        self.generator_names = self.family.generators  # the networks averaged with --ema-decay
        self.device = device
        self.dist = dist
        if dist.enabled and t.r1_gamma > 0:  # its double backward through DistributedDataParallel is untested
            raise CycleGANError("option 'r1_gamma': the R1 penalty is not supported under torchrun yet; use 0")
        self.execution = ex = execution
        torch.manual_seed(t.seed)  # the weight init depends on the seed only
        nets = build_networks(cfg)
        if dist.enabled and cfg.model.norm == "batch" and device.type == "cuda":
            nets = {k: nn.SyncBatchNorm.convert_sync_batchnorm(v) for k, v in nets.items()}  # one batch, all ranks
        # The plain modules: what checkpoints hold and what sampling/translation use.
        self.nets = {k: v.to(device, memory_format=ex.memory_format) for k, v in nets.items()}
        self._setup(self.nets)
        # what the family applied of the execution's CPU forms, so the announced and recorded execution is the run's
        self.execution = ex = dataclasses.replace(ex, **self._forms_applied())
        # fp16 only: one scaler for the losses, updated once per iteration.
        self.scaler = torch.amp.GradScaler(device.type, enabled=ex.precision == "fp16")
        self.set_total_steps(total_steps)
        rank = dist.rank
        self.pools = {
            name: ImagePool(t.pool_size, seed=t.seed + i + 1 if rank == 0 else mix_seed(t.seed, rank, i + 1))
            for i, name in enumerate(self.pool_names)
        }
        # The averaged generators (translation, evaluation, samples and export use them when present).
        self.ema = {k: EMA(self.nets[k], t.ema_decay) for k in self.generator_names} if t.ema_decay > 0 else {}
        if rank:  # same initial weights on every rank (seeded above), then rank-specific dropout masks
            torch.manual_seed(mix_seed(t.seed, rank))

    def _setup(self, nets: dict[str, nn.Module]) -> None:
        """The family's training modules (compiled, DDP-wrapped) and optimizers over `nets`."""
        raise NotImplementedError

    def _forms_applied(self) -> dict[str, bool]:
        """Which of the execution's CPU forms `_setup` applied (`Execution.fused_layers`, `parallel_chains`):
        none here; CycleGAN's trainer applies them where nothing rules them out."""
        return {"fused_layers": False, "parallel_chains": False}

    def _formatted(self, *batches: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """`batches` in the networks' memory format (channels-last when the execution says so)."""
        if not self.execution.channels_last:
            return batches
        return tuple(b.contiguous(memory_format=torch.channels_last) for b in batches)

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    @property
    def networks(self) -> dict[str, nn.Module]:
        return dict(self.nets)

    def _wrap(self, *modules: nn.Module) -> tuple[nn.Module, ...]:
        """`modules` in DistributedDataParallel under torchrun (else as they are). BatchNorm running statistics:
        rank 0's are broadcast each forward (SyncBatchNorm keeps them equal on CUDA anyway)."""
        if not self.dist.enabled:
            return modules
        sync = self.cfg.model.norm == "batch" and self.device.type != "cuda"
        return tuple(_ddp(m, self.device, sync_buffers=sync) for m in modules)

    def _adam(self, *nets: nn.Module, discriminator: bool = False) -> torch.optim.Adam:
        t = self.cfg.train
        lr = t.lr_d if discriminator and t.lr_d is not None else t.lr
        # Fused Adam: one kernel over all parameters (CPU and CUDA), else the multi-tensor foreach path.
        fast = {"fused": True} if self.device.type in ("cpu", "cuda") else {"foreach": True}
        return torch.optim.Adam([p for n in nets for p in n.parameters()], lr=lr, betas=(t.beta1, t.beta2), **fast)

    @property
    def opt_G(self) -> torch.optim.Optimizer:
        """The generator's optimizer (its LR is the one logged)."""
        return self.optimizers["G"]

    def set_total_steps(self, total_steps: int) -> None:
        """(Re)build the LR schedules for a run of `total_steps`; their position comes from state."""
        self.total_steps = total_steps
        factor = linear_decay(total_steps, self.cfg.train.lr_decay_fraction)
        states = [s.state_dict() for s in getattr(self, "schedulers", {}).values()]
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(opt, factor) for k, opt in self.optimizers.items()}
        for sched, state in zip(self.schedulers.values(), states):
            sched.load_state_dict(state)
            for group, base_lr in zip(sched.optimizer.param_groups, sched.base_lrs):
                group["lr"] = base_lr * factor(sched.last_epoch)  # the new schedule, from this step

    def _end_step(self) -> None:
        """After the updates of one iteration: the scaler, the LR schedules, the weight averages."""
        self.scaler.update()
        for sched in self.schedulers.values():
            sched.step()
        for name, ema in self.ema.items():
            ema.update(self.nets[name], self.schedulers["G"].last_epoch)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One training iteration on a batch x (B, 3, H, W) from A and y from B, in [-1, 1]; returns the
        losses as 0-d tensors (still on the device: no sync)."""
        raise NotImplementedError

    def sample_columns(self, xs: torch.Tensor, ys: torch.Tensor) -> list[torch.Tensor]:
        """The columns of a sample grid for fixed images xs from A and ys from B (with the averaged
        generators when the run keeps them), each (N, 3, H, W) in [-1, 1]."""
        raise NotImplementedError

    def _update_generators(
        self,
        total: torch.Tensor,
        opt: torch.optim.Optimizer,
        losses: dict[str, torch.Tensor],
        *,
        frozen: tuple[nn.Module, ...],
    ) -> dict[str, torch.Tensor]:
        """The generators' step on their summed loss `total`; the discriminators `frozen` for it (no parameter
        grads from the generators' loss) learn again after. Returns `losses` and the total, detached."""
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(opt)
        for D in frozen:
            D.requires_grad_(True)
        losses["G_total"] = total
        return {k: v.detach() for k, v in losses.items()}

    @staticmethod
    @contextlib.contextmanager
    def _eval_mode(net: nn.Module):
        """`net` in eval mode (dropout off, BatchNorm on running stats) for a sample grid, then as it was."""
        mode = net.training
        net.eval()
        try:
            yield net
        finally:
            net.train(mode)

    def _generator(self, name: str = "G") -> nn.Module:
        """What samples use: the average of the generator's weights if kept, else the generator."""
        return self.ema[name].module if name in self.ema else self.nets[name]

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        """What a discriminator sees: `images` through the differentiable augmentations (if any)."""
        return diff_augment(images, self.cfg.train.diffaug)

    def _update_D(self, real_fake: nn.Module, opt: torch.optim.Optimizer, real, fake, *, cond=None) -> torch.Tensor:
        """One discriminator step on a real and a fake batch (`real_fake` scores both in one call); `cond`:
        the input a conditional discriminator also sees (pix2pix), passed first."""
        t = self.cfg.train
        real, fake = self._augment(real), self._augment(fake)
        if t.r1_gamma > 0:
            real = real.detach().requires_grad_(True)
        with self.execution.autocast(self.device):
            pred_real, pred_fake = real_fake(real, fake) if cond is None else real_fake(cond, real, fake)
        loss = (adversarial_loss(pred_real, True, t.gan_loss) + adversarial_loss(pred_fake, False, t.gan_loss)) * (
            t.d_loss_weight
        )
        logged = loss
        if t.r1_gamma > 0:
            penalty = self._r1_penalty(pred_real, real)
            loss = loss + penalty
            # Under fp16 a penalty made non-finite by an overflowed scaled gradient is a step the scaler skips (its
            # gradients are non-finite too) and a lower scale next, as for any overflow: logged without it, so that
            # the scaler's back-off is not read as a diverged run (a non-finite loss stops the run).
            logged = logged + (torch.where(penalty.isfinite(), penalty, 0.0) if self.scaler.is_enabled() else penalty)
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        return logged.detach()

    def _r1_penalty(self, pred_real, real: torch.Tensor) -> torch.Tensor:
        """R1 (Mescheder et al. 2018): gamma/2 * |grad_x D(x)|^2 at the real batch `real` (a leaf requiring grad)
        scored `pred_real`, averaged over the batch: a flat discriminator around the real images.

        Under fp16 both fp16 passes it takes are scaled, as the loss's backward is: the gradient is taken of the
        scores times sqrt(scale) and divided back (PyTorch's AMP recipe for gradient penalties, with the root),
        so the backward of the penalty into that gradient's graph carries the other sqrt(scale) (the scaler
        unscales the product, scale). Unscaled, fp16 flushed a flat discriminator's small gradients to 0; the
        recipe's whole scale would leave the second pass unscaled (the penalty is a square: its backward is
        gamma * grad) and overflow fp16 at the scaler's first scale, 65536. The scale is read as a tensor (no
        sync); without fp16 it is 1."""
        scores = pred_real if isinstance(pred_real, torch.Tensor) else torch.cat([p.flatten(1) for p in pred_real], 1)
        scores = scores.float().sum()
        if not self.scaler.is_enabled():
            (grad,) = torch.autograd.grad(scores, real, create_graph=True)
        else:
            root = self.scaler.scale(torch.ones((), device=scores.device)).sqrt()
            (grad,) = torch.autograd.grad(scores * root, real, create_graph=True)
            grad = grad / root
        return self.cfg.train.r1_gamma / 2 * grad.float().pow(2).sum(dim=[1, 2, 3]).mean()

    # --- saving and restoring ------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """This process's networks, optimizers, LR schedules, image pools, gradient scaler and (with
        `ema_decay`) the averaged generators."""
        return {
            "models": {k: v.state_dict() for k, v in self.networks.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "pools": self._pools_state(),
            "scaler": self.scaler.state_dict(),  # empty unless fp16
            **({"ema": {k: e.state_dict() for k, e in self.ema.items()}} if self.ema else {}),
        }

    def load_state_dict(self, state: dict) -> None:
        """The inverse of `state_dict`. The schedules go on from their stored step along this trainer's
        `total_steps`, which a resumed run may have raised."""
        for k, net in self.networks.items():
            net.load_state_dict(state["models"][k])
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        for k, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][k])
        self.set_total_steps(self.total_steps)
        if self.scaler.is_enabled() and state.get("scaler"):  # a run switched to fp16 starts a fresh scale
            self.scaler.load_state_dict(state["scaler"])
        for k, pool in self.pools.items():
            pool.load_state_dict(state["pools"][k], device=self.device)
        for k, ema in self.ema.items():
            ema.load_state_dict(state["ema"][k])

    def checkpoint(self, *, step: int, steps_per_epoch: int, extra: dict | None = None) -> dict | None:
        """The whole run after `step` steps, as the checkpoint file holds it: format, version, config,
        position, rank 0's RNG and `state_dict()`, and across processes every rank's RNG and pools.

        A collective: every rank calls it; rank 0 gets the dict, the others None. The weights and optimizer
        states in it are the live tensors (as with any `state_dict`): write it out before the next step.
        """
        mine = self._rank_state()
        ranks = ddp.gather_to_main(mine, self.dist)
        if not self.dist.is_main:
            return None
        ckpt = {
            "format": FORMAT,
            "package_version": __version__,
            "family": self.family.name,
            "config": self.cfg.to_dict(),
            "step": step,
            "epoch": step // steps_per_epoch,
            "steps_per_epoch": steps_per_epoch,
            "rng": mine["rng"],
            **self.state_dict(),
            **(extra or {}),
        }
        if self.dist.enabled:
            ckpt["ranks"] = ranks  # each rank's RNG and pools, for an exact resume with as many processes
            if len({r["weights_sha256"] for r in ranks}) > 1:
                print_warning(
                    f"warning: the processes' weights differ at step {step} (DistributedDataParallel "
                    "should keep them equal); rank 0's are saved"
                )
        return ckpt

    def save(self, path: str | Path, *, step: int, steps_per_epoch: int, extra: dict | None = None) -> Path:
        """Write `checkpoint(...)` to `path` atomically (rank 0 writes; every rank must call it). `extra`:
        more plain entries (rank 0's), e.g. the watcher's state."""
        ckpt = self.checkpoint(step=step, steps_per_epoch=steps_per_epoch, extra=extra)
        if ckpt is not None:
            save_atomic(ckpt, path)
        return Path(path)

    def scored_generators(self) -> dict[str, nn.Module]:
        """The generators as translation will use them (the averaged weights when kept), by network name."""
        return {name: self._generator(name) for name in self.generator_names}

    def save_generators(self, path: str | Path, *, step: int, best: dict) -> Path:
        """Write the generators alone (raw and averaged weights), with the config, `step` and `best` (the score
        that chose them), atomically to `path`: best.pt, which translation, evaluation and export read as
        they read checkpoint.pt, but which cannot resume a run. Rank 0 only (no collective)."""
        ckpt = {
            "format": FORMAT,
            "contents": GENERATORS_ONLY,
            "package_version": __version__,
            "family": self.family.name,
            "config": self.cfg.to_dict(),
            "step": step,
            "best": best,
            "models": {k: self.nets[k].state_dict() for k in self.generator_names},
            **({"ema": {k: e.state_dict() for k, e in self.ema.items()}} if self.ema else {}),
        }
        save_atomic(ckpt, path)
        return Path(path)

    def restore(self, ckpt: dict) -> None:
        """Continue from a checkpoint dict: its networks, optimizers, schedules and scaler, this rank's image
        pools and random state (each loaded once). Old single-process checkpoints load too."""
        mine = self._rank_state_in(ckpt)
        self.load_state_dict({**ckpt, "pools": mine["pools"]})
        _set_rng_state(mine["rng"], self.device)

    def _pools_state(self) -> dict:
        return {k: pool.state_dict() for k, pool in self.pools.items()}

    def _rank_state(self) -> dict:
        """What differs between ranks: the random state and the image pools (and a weights digest, which
        should not differ: checked when saving)."""
        state = {"rng": _rng_state(self.device), "pools": self._pools_state()}
        if self.dist.enabled:
            state["weights_sha256"] = ddp.weights_digest(self.networks)
        return state

    def _rank_state_in(self, ckpt: dict) -> dict:
        """This rank's RNG and pools in `ckpt`: its own if the run had as many processes, else rank 0's."""
        ranks, d = ckpt.get("ranks"), self.dist
        if ranks is not None and len(ranks) == d.world_size:
            return ranks[d.rank]
        if d.is_main and (d.world_size > 1 or ranks is not None):
            print_line(
                f"note: the checkpoint was written by {len(ranks) if ranks else 1} process(es), this run has "
                f"{d.world_size}: each process starts from rank 0's random state and image pools (the data "
                "order stays exact)"
            )
        return {"rng": ckpt["rng"], "pools": ckpt["pools"]}
