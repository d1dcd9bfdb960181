"""The training loop: check the two domains, build (or restore) the trainer, run the steps with progress,
logs and sample grids, stop cleanly on Ctrl-C, SIGTERM or the time limit, and have the trainer save the run."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..checkpoint import CHECKPOINT_NAME, load_checkpoint
from ..config import RESUMABLE, Config, config_from_dict, resolve
from ..data import UnpairedTrainSet, check_images, eval_transform, list_images, read_image
from ..errors import CycleGANError
from ..execution import Execution, choose_execution, compile_pays_for_training, resolve_device
from ..report import save_grid
from . import distributed as ddp
from .cyclegan import CycleGANTrainer


def domain_folders(cfg: Config) -> tuple[Path, Path, Path | None, Path | None]:
    """(trainA, trainB, testA or None, testB or None) from --data ROOT or --domain-a/--domain-b."""
    d = cfg.data
    if d.domain_a or d.domain_b:
        if not (d.domain_a and d.domain_b):
            raise CycleGANError("give both --domain-a and --domain-b (or --data ROOT)")
        return Path(d.domain_a), Path(d.domain_b), None, None
    if not d.data:
        raise CycleGANError("no training data: give --data ROOT (with trainA, trainB) or --domain-a and --domain-b")
    root = Path(d.data)
    if not root.is_dir():
        raise CycleGANError(f"option 'data': folder {root} does not exist")
    test_a, test_b = root / "testA", root / "testB"
    return root / "trainA", root / "trainB", test_a if test_a.is_dir() else None, test_b if test_b.is_dir() else None


def worker_init(_: int) -> None:
    # Workers are forked with the main process's handlers. Ctrl-C goes to the whole process group:
    # only the main process handles it (and saves); SIGTERM ends a worker as usual.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class StopRequest:
    """Turns the first SIGINT/SIGTERM into a graceful stop after the current step; a second Ctrl-C aborts."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old = {}

    def _handle(self, signum, frame) -> None:
        if os.getpid() != self._pid:  # a forked child that inherited the handler: not ours to save
            raise SystemExit(128 + signum)
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        tqdm.write(
            f"\n{signal.Signals(signum).name} received: saving the checkpoint after this step...", file=sys.stderr
        )

    def __enter__(self) -> StopRequest:
        self._pid = os.getpid()
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread (e.g. inside a notebook worker): no handler
                pass
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


def _sample_batch(files: list[Path], n: int, size: int) -> torch.Tensor:
    """The first n images (sorted names) resized to size x size: the same every time."""
    return torch.stack([eval_transform(read_image(p), size=size) for p in files[:n]])


@torch.no_grad()
def write_samples(trainer: CycleGANTrainer, xs: torch.Tensor, ys: torch.Tensor, path: Path) -> Path:
    """Rows: x | G(x) | F(G(x)) for each fixed A image, then y | F(y) | G(F(y)) for each B image."""
    nets = (trainer.G, trainer.F)
    modes = [n.training for n in nets]
    for n in nets:
        n.eval()
    dev = trainer.device
    x, y = xs.to(dev), ys.to(dev)
    fake_y, fake_x = trainer.G(x), trainer.F(y)
    rec_x, rec_y = trainer.F(fake_y), trainer.G(fake_x)
    for n, m in zip(nets, modes):
        n.train(m)
    cols = [torch.cat([x, y]), torch.cat([fake_y, fake_x]), torch.cat([rec_x, rec_y])]
    return save_grid(cols, path)


def prepare_config(overrides: dict, *, resume: bool, out: str | None) -> tuple[Config, dict | None]:
    """The config of a new run (preset/file/flags) or of a resumed one (its checkpoint, plus allowed flags)."""
    if not resume:
        return resolve(overrides), None
    if not out:
        raise CycleGANError("--resume needs --out RUN (the run folder to continue)")
    ckpt_file = Path(out) / CHECKPOINT_NAME
    if not ckpt_file.is_file():
        raise CycleGANError(f"nothing to resume: {ckpt_file} does not exist (drop --resume to start a new run)")
    ckpt = load_checkpoint(ckpt_file)
    stored = config_from_dict(ckpt["config"], source=str(ckpt_file))
    stored_flat = {k: v for sec in ("model", "data", "train") for k, v in getattr(stored, sec).__dict__.items()}
    for key, value in overrides.items():
        if key == "preset" and value != stored.preset:
            raise CycleGANError(f"option 'preset' cannot change on resume (the run uses {stored.preset!r})")
        if key not in RESUMABLE and key != "preset" and stored_flat.get(key) != value:
            raise CycleGANError(
                f"option '{key}' cannot change on resume (the run uses {stored_flat.get(key)!r}); "
                "start a new run with another --out instead"
            )
    if "steps" in overrides and "epochs" not in overrides:
        overrides = {**overrides, "epochs": None}
    if "epochs" in overrides and "steps" not in overrides:
        overrides = {**overrides, "steps": None}
    cfg = resolve({k: v for k, v in overrides.items() if k != "preset"}, base=stored)
    return replace(cfg, train=replace(cfg.train, out=str(out))), ckpt


def train(cfg: Config, *, ckpt: dict | None = None, progress: bool = True) -> TrainResult:
    """Train (or continue) the run described by `cfg` until its total steps or time limit.

    Raises SystemExit(128 + signal) after saving when interrupted by Ctrl-C or SIGTERM.
    """
    t = cfg.train
    if not t.out:
        raise CycleGANError("option 'out' is required: the run folder (e.g. --out runs/horse2zebra)")
    run = Path(t.out)
    if ckpt is None and (run / CHECKPOINT_NAME).exists():
        raise CycleGANError(f"{run} already holds a run: add --resume to continue it, or choose another --out")
    if t.steps is None and t.epochs is None:
        raise CycleGANError("give the training budget: --steps N (total steps) or --epochs N")
    d_ctx, device = ddp.setup(resolve_device(t.device))
    try:
        return _train(cfg, ckpt=ckpt, progress=progress and d_ctx.is_main, folder=run, device=device, d_ctx=d_ctx)
    finally:
        ddp.shutdown(d_ctx)


def _train(
    cfg: Config, *, ckpt: dict | None, progress: bool, folder: Path, device: torch.device, d_ctx: ddp.Dist
) -> TrainResult:
    """Check the data, build (or restore) the trainer, prepare the run folder, train, save and report."""
    images = _training_images(cfg, progress=progress, main=d_ctx.is_main)
    data = _dataset(cfg, images)
    t, spe = cfg.train, data.steps_per_epoch
    total = t.steps if t.steps is not None else t.epochs * spe
    run = _Run(cfg, folder, device, d_ctx, steps_per_epoch=spe, total=total)
    start = ckpt["step"] if ckpt is not None else 0
    if start >= run.total:
        if run.main:
            print(f"{folder}: already trained {start} steps (total {run.total}); raise --steps or --epochs to go on")
        return TrainResult(checkpoint=folder / CHECKPOINT_NAME, step=start, total_steps=run.total)
    sampler = ddp.StepSampler(start, run.total, t.batch_size, d_ctx)  # checks the batch splits over the ranks
    trainer = _build_trainer(run, ckpt, start=start, per_rank=sampler.per_rank)
    samples = _prepare_run_folder(run, images)
    end = _step_loop(run, trainer, _loader(run, data, sampler), samples, start=start, progress=progress)
    return _finish(run, trainer, samples, end, skipped=images.skipped)


@dataclass(frozen=True)
class _Run:
    """What the steps of one run share: its config, folder, processes and step budget."""

    cfg: Config
    folder: Path
    device: torch.device
    d_ctx: ddp.Dist
    steps_per_epoch: int
    total: int

    @property
    def main(self) -> bool:
        return self.d_ctx.is_main

    def sample_path(self, step: int) -> Path:
        return self.folder / "samples" / f"step_{step:07d}.png"

    def save(self, trainer: CycleGANTrainer, step: int) -> Path:
        """The checkpoint after `step` steps (every rank calls this; rank 0 writes)."""
        return trainer.save(self.folder / CHECKPOINT_NAME, step=step, steps_per_epoch=self.steps_per_epoch)


@dataclass(frozen=True)
class _Images:
    """The readable training images of each domain, the test folders (if any) and what was skipped."""

    train_a: list[Path]
    train_b: list[Path]
    test_a: Path | None
    test_b: Path | None
    skipped: list[str]  # one message per unreadable image


def _training_images(cfg: Config, *, progress: bool, main: bool) -> _Images:
    """Both domains' images, each decoded once now: a broken file stops here (or is skipped and named)."""
    dir_a, dir_b, test_a, test_b = domain_folders(cfg)
    skipped: list[str] = []
    files = []
    for folder, what in ((dir_a, "domain A folder"), (dir_b, "domain B folder")):
        good, bad = check_images(
            list_images(folder, what=what), skip_bad=cfg.data.skip_bad_images, desc=f"checking {folder}",
            progress=progress,
        )  # fmt: skip
        if not good:
            raise CycleGANError(f"{what} {folder}: no readable images")
        files.append(good)
        skipped += bad
    for msg in skipped if main else []:
        tqdm.write(f"warning: skipping {msg}", file=sys.stderr)
    return _Images(files[0], files[1], test_a, test_b, skipped)


def _dataset(cfg: Config, images: _Images) -> UnpairedTrainSet:
    d, t = cfg.data, cfg.train
    return UnpairedTrainSet(
        images.train_a, images.train_b, size=d.size, load_size=round(d.size * d.load_scale), flip=d.flip,
        seed=t.seed, batch_size=t.batch_size,
    )  # fmt: skip


def _choose_execution(cfg: Config, device: torch.device, *, steps_ahead: int) -> Execution:
    """Precision, memory format and compilation for this device; `auto` compiles only a long enough run."""
    t = cfg.train
    return choose_execution(
        t.precision, t.channels_last, t.compile, device=device,
        compile_pays=compile_pays_for_training(steps_ahead), batch_norm=cfg.model.norm == "batch",
    )  # fmt: skip


def _announce(run: _Run, execution: Execution, *, per_rank: int) -> None:
    """Say how the run computes, before a compilation keeps the first step waiting."""
    cfg, d_ctx, device = run.cfg, run.d_ctx, run.device
    if d_ctx.enabled:
        print(f"training on {d_ctx.world_size} processes ({device.type}), global batch {cfg.train.batch_size} = "
              f"{per_rank} per process")  # fmt: skip
        if cfg.model.norm == "batch" and device.type != "cuda":
            print("note: SyncBatchNorm needs GPUs; on CPU each process normalises its own slice of the batch "
                  "(running statistics are rank 0's)", file=sys.stderr)  # fmt: skip
    print(f"computing in {execution.describe()} on {device}"
          + (" (compiling first: about a minute)" if execution.compile else ""))  # fmt: skip


def _build_trainer(run: _Run, ckpt: dict | None, *, start: int, per_rank: int) -> CycleGANTrainer:
    """The trainer for this device and the steps ahead, restored from `ckpt` when the run resumes."""
    execution = _choose_execution(run.cfg, run.device, steps_ahead=run.total - start)
    if run.main:
        _announce(run, execution, per_rank=per_rank)
    trainer = CycleGANTrainer(run.cfg, total_steps=run.total, device=run.device, execution=execution, dist=run.d_ctx)
    if ckpt is not None:
        trainer.restore(ckpt)
    return trainer


_Samples = tuple[torch.Tensor, torch.Tensor]  # the fixed A and B images of the sample grids


def _prepare_run_folder(run: _Run, images: _Images) -> _Samples | None:
    """Rank 0 creates the run folder, writes config.json and reads the fixed sample images (the test images
    if there are, else the first training images); None on the other ranks. A failure stops every rank."""
    error: CycleGANError | None = None
    samples = None
    if run.main:  # only rank 0 writes the run folder and sample grids
        t, size = run.cfg.train, run.cfg.data.size
        try:
            run.folder.mkdir(parents=True, exist_ok=True)
            (run.folder / "config.json").write_text(json.dumps(run.cfg.to_dict(), indent=2) + "\n")
            xs = _sample_batch(list_images(images.test_a) if images.test_a else images.train_a, t.num_samples, size)
            ys = _sample_batch(list_images(images.test_b) if images.test_b else images.train_b, t.num_samples, size)
            samples = (xs, ys)
        except OSError as e:
            error = CycleGANError(f"cannot write the run folder {run.folder}: {e.strerror or e}")
        except CycleGANError as e:
            error = e
    if ddp.any_rank(error is not None, run.d_ctx):  # the other ranks must not wait for rank 0 in a collective
        raise error or CycleGANError("rank 0 could not prepare the run (its error is above); stopping")
    return samples


def _loader(run: _Run, data: UnpairedTrainSet, sampler: ddp.StepSampler) -> DataLoader:
    d = run.cfg.data
    cores = (os.cpu_count() or 1) // run.d_ctx.local_world_size  # the processes on this machine share its cores
    workers = d.num_workers if d.num_workers >= 0 else min(4, max(0, cores - 1))
    return DataLoader(
        data, batch_size=sampler.per_rank, sampler=sampler, num_workers=workers,
        pin_memory=run.device.type == "cuda", worker_init_fn=worker_init, prefetch_factor=4 if workers else None,
        generator=torch.Generator(),  # its own: drawing worker seeds must not move the global RNG (dropout)
    )  # fmt: skip


class _LossLog:
    """Sums the losses on the device; every `write`, rank 0 appends their means over the steps since the last
    record and over all ranks to log.jsonl (and TensorBoard, if installed)."""

    def __init__(self, run: _Run, trainer: CycleGANTrainer, bar: tqdm):
        self.run, self.trainer, self.bar = run, trainer, bar
        self.sums: dict[str, torch.Tensor] = {}
        self.n = 0
        self.file = self.tb = None

    def __enter__(self) -> _LossLog:
        if self.run.main:
            self.file = (self.run.folder / "log.jsonl").open("a")
            self.tb = _tensorboard(self.run.folder)
        self.t_last = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        for f in (self.file, self.tb):
            if f is not None:
                f.close()

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        for k, v in losses.items():  # stays on the device: no sync per step
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        self.n += 1

    def write(self, step: int) -> None:
        """Every rank calls it (the mean over ranks is a collective). The losses are read back here only,
        once every log_every steps: a host-device sync."""
        now = time.perf_counter()
        means = {k: round(v.item() / self.n, 5) for k, v in ddp.mean_over_ranks(self.sums, self.run.d_ctx).items()}
        if self.run.main:
            self._record(step, means, s_per_step=(now - self.t_last) / self.n)
        self.sums, self.n, self.t_last = {}, 0, now

    def _record(self, step: int, means: dict[str, float], *, s_per_step: float) -> None:
        record = {
            "step": step, "epoch": step // self.run.steps_per_epoch, "lr": self.trainer.opt_G.param_groups[0]["lr"],
            "s_per_step": round(s_per_step, 4), **means,
        }  # fmt: skip
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb:
            for k, v in means.items():
                self.tb.add_scalar(f"loss/{k}", v, step)
            self.tb.add_scalar("lr", record["lr"], step)
        self.bar.set_postfix({k: f"{means[k]:.3f}" for k in ("D_X", "D_Y", "G_adv", "F_adv", "cycle_x") if k in means})


@dataclass(frozen=True)
class _End:
    """Where and why the step loop ended."""

    step: int
    signum: int | None  # the stop signal received (Ctrl-C, SIGTERM), if any
    timed_out: bool


def _step_loop(
    run: _Run, trainer: CycleGANTrainer, loader: DataLoader, samples: _Samples | None, *, start: int, progress: bool
) -> _End:
    """Train from step `start` to the total, a stop request or the time limit, logging, sampling and saving
    on schedule; every rank ends at the same step."""
    t = run.cfg.train
    step = start
    bar = tqdm(
        total=run.total, initial=start, desc=f"train {run.folder.name}", unit="step", disable=not progress,
        dynamic_ncols=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60 * t.time_limit if t.time_limit else None
    timed_out = False
    with StopRequest() as stop, _LossLog(run, trainer, bar) as log:
        for x, y in loader:
            log.add(trainer.step(x.to(run.device, non_blocking=True), y.to(run.device, non_blocking=True)))
            step += 1
            bar.update(1)
            timed_out = deadline is not None and time.monotonic() > deadline
            # all ranks agree (a tiny CPU all-reduce) so they stop, log and save at the same step
            last = step == run.total or ddp.any_rank(stop.signum is not None or timed_out, run.d_ctx)
            if step % t.log_every == 0 or last:
                log.write(step)
            if run.main and t.sample_every and step % t.sample_every == 0:
                write_samples(trainer, *samples, run.sample_path(step))
            if last:
                break
            if t.checkpoint_every and step % t.checkpoint_every == 0:
                run.save(trainer, step)
    bar.close()
    return _End(step, stop.signum, timed_out)


def _finish(
    run: _Run, trainer: CycleGANTrainer, samples: _Samples | None, end: _End, *, skipped: list[str]
) -> TrainResult:
    """Save the final checkpoint; rank 0 writes the last sample grid and says how the run ended. A stop
    signal then ends every process with 128 + its number, as the signal would have."""
    path = run.save(trainer, end.step)
    if run.main:
        t = run.cfg.train
        if not (t.sample_every and end.step % t.sample_every == 0):  # else the loop just wrote this one
            write_samples(trainer, *samples, run.sample_path(end.step))
        if skipped:
            print(f"warning: {len(skipped)} unreadable image(s) were skipped (listed above)", file=sys.stderr)
        _say_how_it_ended(run, path, end)
    if end.signum is not None:
        raise SystemExit(128 + end.signum)
    return TrainResult(checkpoint=path, step=end.step, total_steps=run.total)


def _say_how_it_ended(run: _Run, path: Path, end: _End) -> None:
    resume = f"cyclegan train --out {run.folder} --resume"
    if end.signum is not None:
        print(f"stopped at step {end.step}/{run.total}; checkpoint saved to {path}. Continue with: {resume}",
              file=sys.stderr)  # fmt: skip
    elif end.step < run.total:
        why = (
            f"time limit of {run.cfg.train.time_limit} min reached"
            if end.timed_out
            else "another process was asked to stop"
        )
        print(f"{why} at step {end.step}/{run.total}; checkpoint {path} (continue with: {resume})")
    else:
        print(f"done: {end.step} steps; checkpoint {path}; samples in {run.folder / 'samples'}")


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    step: int  # steps done, counting those before a resume
    total_steps: int


def _tensorboard(run: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # optional: pip install "cyclegan[tensorboard]"
        return None
    return SummaryWriter(str(run / "tensorboard"))
