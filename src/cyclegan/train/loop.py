"""The training loop: lock the run folder, check the two domains, build (or restore) the trainer, run the
steps with progress, logs and sample grids, stop cleanly on Ctrl-C, SIGTERM or the time limit, stop at the
first non-finite loss without saving it, and have the trainer save the run."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..checkpoint import CHECKPOINT_NAME, load_checkpoint, load_state
from ..config import RESUMABLE, SECTIONS, Config, config_from_dict, resolve
from ..data import (
    PairedTrainSet,
    UnpairedTrainSet,
    check_images,
    eval_transform,
    find_pairs,
    list_images,
    read_image,
    read_pair,
)  # fmt: skip
from ..errors import CycleGANError
from ..execution import Execution, choose_execution, compile_pays_for_training, resolve_device
from ..files import FolderLock, remove_stale_temporaries, write_atomic
from ..report import save_grid
from . import distributed as ddp
from .cyclegan import Trainer
from .families import trainer_class


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


def _sample_pairs(pairs: list[tuple[Path, Path | None]], n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n pairs resized to size x size: (A images, B images)."""
    read = [read_pair(a, b) for a, b in pairs[:n]]
    return tuple(torch.stack([eval_transform(p[i], size=size) for p in read]) for i in (0, 1))  # type: ignore[return-value]


@torch.no_grad()
def write_samples(trainer: Trainer, xs: torch.Tensor, ys: torch.Tensor, path: Path) -> Path:
    """The family's sample grid (`Trainer.sample_columns`) of the fixed A and B images; CycleGAN: rows
    x | G(x) | F(G(x)) for each A image, then y | F(y) | G(F(y)) for each B image; with the averaged
    generators when the run keeps them (what translation will use)."""
    dev = trainer.device
    return save_grid(trainer.sample_columns(xs.to(dev), ys.to(dev)), path)


def prepare_config(overrides: dict, *, resume: bool, out: str | None) -> tuple[Config, dict | None]:
    """The config of a new run (preset/file/flags) or of a resumed one (its checkpoint, plus allowed flags)."""
    if not resume:
        return resolve(overrides), None
    if not out:
        raise CycleGANError("--resume needs --out RUN (the run folder to continue)")
    ckpt_file = Path(out) / CHECKPOINT_NAME
    if not ckpt_file.is_file():
        raise CycleGANError(f"nothing to resume: {ckpt_file} does not exist (drop --resume to start a new run)")
    stamp = _stamp(ckpt_file)
    ckpt = load_checkpoint(ckpt_file, training=True)  # checked: keys, types, config, shapes, training state
    _READ_AT[ckpt_file.resolve()] = stamp
    stored = config_from_dict(ckpt["config"], source=str(ckpt_file))
    stored_flat = {k: v for sec in SECTIONS for k, v in getattr(stored, sec).__dict__.items()}
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


# When `prepare_config` read each checkpoint (inode, size, mtime): a resume refuses a file that another run
# rewrote between that read and taking the folder's lock.
_READ_AT: dict[Path, tuple[int, int, int]] = {}


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def train(cfg: Config, *, ckpt: dict | None = None, progress: bool = True) -> TrainResult:
    """Train (or continue) the run described by `cfg` until its total steps or time limit.

    The run folder is locked (`files.FolderLock`, by rank 0 under torchrun) before anything is written in it
    and until the end: a second run on the same folder is refused, naming the first one's PID.
    Raises SystemExit(128 + signal) after saving when interrupted by Ctrl-C or SIGTERM, and a CycleGANError
    at the first non-finite loss, leaving the last checkpoint as it was.
    """
    t = cfg.train
    if not t.out:
        raise CycleGANError("option 'out' is required: the run folder (e.g. --out runs/horse2zebra)")
    run = Path(t.out)
    if t.steps is None and t.epochs is None:
        raise CycleGANError("give the training budget: --steps N (total steps) or --epochs N")
    device = resolve_device(t.device)  # a bad --device stops here, before the run folder exists
    d_ctx, device = ddp.setup(device)
    lock = FolderLock(run)
    try:
        _claim_run_folder(run, lock, ckpt, d_ctx)
        return _train(cfg, ckpt=ckpt, progress=progress and d_ctx.is_main, folder=run, device=device, d_ctx=d_ctx)
    finally:
        lock.release()
        ddp.shutdown(d_ctx)


def _claim_run_folder(run: Path, lock: FolderLock, ckpt: dict | None, d_ctx: ddp.Dist) -> None:
    """Rank 0 locks the run folder, checks that the run may start (or go on) there, and cleans up after a
    run that crashed in it: `write_atomic`'s stale temporary files, and the log records after the checkpoint's
    step (a resumed run writes them again). A refusal stops every rank."""
    error: CycleGANError | None = None
    if d_ctx.is_main:
        try:
            if not lock.acquire():
                pid = f"PID {lock.holder}" if lock.holder else "PID unknown"
                raise CycleGANError(
                    f"{run} is in use by another training run ({pid}); wait for it to end or choose another --out"
                )
            ckpt_file = run / CHECKPOINT_NAME
            if ckpt is None and ckpt_file.exists():
                raise CycleGANError(f"{run} already holds a run: add --resume to continue it, or choose another --out")
            if ckpt is not None and _READ_AT.get(ckpt_file.resolve(), _stamp(ckpt_file)) != _stamp(ckpt_file):
                raise CycleGANError(f"{ckpt_file} was rewritten by another run after this one read it; run the "
                                    "command again to resume from the new checkpoint")  # fmt: skip
            remove_stale_temporaries(run)
            trim_log(run / "log.jsonl", ckpt["step"] if ckpt is not None else 0)
        except OSError as e:
            error = CycleGANError(f"cannot write the run folder {run}: {e.strerror or e}")
        except CycleGANError as e:
            error = e
    ddp.raise_on_every_rank(error, d_ctx, elsewhere="rank 0 could not prepare the run folder (its error is above)")


def trim_log(path: Path, step: int) -> None:
    """Keep the records of log.jsonl up to `step` (the checkpoint's), each step once, in order; drop the rest
    (what a crashed or stopped run logged after its last checkpoint, a half-written last line, anything not
    strict JSON). Rewritten atomically, and only if something goes."""
    if not path.is_file():
        return
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    kept, last = [], 0
    for line in lines:
        try:
            record = json.loads(line, parse_constant=_reject_constant)
        except ValueError:
            continue
        s = record.get("step") if isinstance(record, dict) else None
        if isinstance(s, int) and not isinstance(s, bool) and last < s <= step:
            kept.append(line)
            last = s
    if len(kept) != len(lines):
        write_atomic(path, lambda tmp: Path(tmp).write_text("".join(line + "\n" for line in kept)))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


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
    saved = start if ckpt is not None else None  # the step of the checkpoint on disk, if any
    if start >= run.total:
        if run.main:
            print(f"{folder}: already trained {start} steps (total {run.total}); raise --steps or --epochs to go on")
        return TrainResult(checkpoint=folder / CHECKPOINT_NAME, step=start, total_steps=run.total)
    sampler = ddp.StepSampler(start, run.total, t.batch_size, d_ctx)  # checks the batch splits over the ranks
    trainer = _build_trainer(run, ckpt, start=start, per_rank=sampler.per_rank)
    samples = _prepare_run_folder(run, images)
    end = _step_loop(run, trainer, _loader(run, data, sampler), samples, start=start, saved=saved, progress=progress)
    return _finish(end.run, trainer, samples, end, skipped=images.skipped)


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

    def save(self, trainer: Trainer, step: int) -> Path:
        """The checkpoint after `step` steps (every rank calls this; rank 0 writes). A write that fails (a full
        disk) stops every rank with one line; the previous checkpoint stays (atomic write)."""
        path = self.folder / CHECKPOINT_NAME
        error = None
        try:
            trainer.save(path, step=step, steps_per_epoch=self.steps_per_epoch)
        except OSError as e:
            error = CycleGANError(f"cannot write the checkpoint {path} at step {step}: {e.strerror or e}; the "
                                  "previous checkpoint is kept")  # fmt: skip
        elsewhere = "rank 0 could not write the checkpoint (its error is above)"
        ddp.raise_on_every_rank(error, self.d_ctx, elsewhere=elsewhere)
        return path


@dataclass(frozen=True)
class _Images:
    """The readable training images of each domain, the test folders (if any) and what was skipped."""

    train_a: list[Path]
    train_b: list[Path]
    test_a: Path | None
    test_b: Path | None
    skipped: list[str]  # one message per unreadable image
    # pix2pix: train_a[i] and train_b[i] are a pair (train_b None: each train_a file holds A|B side by side),
    # and the sample grids show the first test pairs (else the first training pairs)
    paired: bool = False
    aligned: bool = False
    test_pairs: list[tuple[Path, Path | None]] | None = None


def _training_images(cfg: Config, *, progress: bool, main: bool) -> _Images:
    """Both domains' images, each decoded once now: a broken file stops here (or is skipped and named)."""
    if cfg.model.family == "pix2pix":
        return _paired_images(cfg, progress=progress, main=main)
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


def _paired_images(cfg: Config, *, progress: bool, main: bool) -> _Images:
    """pix2pix's pairs: ROOT/train of aligned A|B images (test pairs from ROOT/test or ROOT/val), or files of
    the same name in trainA and trainB (testA and testB; or --domain-a and --domain-b), each decoded once now."""
    d = cfg.data
    aligned = bool(d.data) and not (d.domain_a or d.domain_b) and (Path(d.data) / "train").is_dir()
    test_pairs: list[tuple[Path, Path | None]] | None = None
    if aligned:
        root = Path(d.data)
        pairs: list[tuple[Path, Path | None]] = [(p, None) for p in list_images(root / "train", what="aligned folder")]
        test = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
        test_pairs = [(p, None) for p in list_images(test)] if test else None
    else:
        dir_a, dir_b, test_a, test_b = domain_folders(cfg)
        pairs = list(find_pairs(dir_a, dir_b))
        test_pairs = list(find_pairs(test_a, test_b)) if test_a and test_b else None
    files = [p for pair in pairs for p in pair if p is not None]
    good, skipped = check_images(files, skip_bad=d.skip_bad_images, desc="checking the pairs", progress=progress)
    good_set = set(good)
    pairs = [pair for pair in pairs if all(p is None or p in good_set for p in pair)]
    if not pairs:
        raise CycleGANError("no readable training pairs")
    for msg in skipped if main else []:
        tqdm.write(f"warning: skipping {msg} (and its pair)", file=sys.stderr)
    train_b = [b for _, b in pairs] if not aligned else []
    return _Images([a for a, _ in pairs], train_b, None, None, skipped, paired=True, aligned=aligned,  # type: ignore[misc]
                   test_pairs=test_pairs)  # fmt: skip


def _dataset(cfg: Config, images: _Images) -> UnpairedTrainSet | PairedTrainSet:
    d, t = cfg.data, cfg.train
    if images.paired:
        return PairedTrainSet(
            images.train_a, None if images.aligned else images.train_b, size=d.size,
            load_size=round(d.size * d.load_scale), flip=d.flip, seed=t.seed, batch_size=t.batch_size,
        )  # fmt: skip
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


def _build_trainer(run: _Run, ckpt: dict | None, *, start: int, per_rank: int) -> Trainer:
    """The trainer for this device and the steps ahead, restored from `ckpt` when the run resumes."""
    execution = _choose_execution(run.cfg, run.device, steps_ahead=run.total - start)
    if run.main:
        _announce(run, execution, per_rank=per_rank)
    trainer = trainer_class(run.cfg.model.family)(
        run.cfg, total_steps=run.total, device=run.device, execution=execution, dist=run.d_ctx
    )
    if ckpt is not None:
        _restore(trainer, ckpt, run.folder / CHECKPOINT_NAME)
    return trainer


def _restore(trainer: Trainer, ckpt: dict, source: Path) -> None:
    """`trainer.restore(ckpt)`, checked: the networks through `load_state` (one line naming a bad tensor),
    then a state torch would only reject at the first step (an optimizer moment shaped unlike its weight)."""
    for name, net in trainer.networks.items():
        load_state(net, ckpt["models"][name], where=f"models.{name}", source=str(source))
    try:
        trainer.restore(ckpt)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
        detail = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise CycleGANError(f"{source}: cannot restore the training state ({type(e).__name__}: {detail}); the "
                            "file is damaged or was written by another version") from None  # fmt: skip
    for name, opt in trainer.optimizers.items():
        for p, state in opt.state.items():
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.dim() and value.shape != p.shape:
                    raise CycleGANError(
                        f"{source}: optimizer {name}'s '{key}' has shape {tuple(value.shape)} for a weight of shape "
                        f"{tuple(p.shape)}; the file is damaged or was written by another version"
                    )


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
            text = json.dumps(run.cfg.to_dict(), indent=2) + "\n"
            write_atomic(run.folder / "config.json", lambda tmp: Path(tmp).write_text(text))
            if images.paired:
                train_pairs = list(zip(images.train_a, images.train_b or [None] * len(images.train_a)))
                samples = _sample_pairs(images.test_pairs or train_pairs, t.num_samples, size)
            else:
                xs = _sample_batch(list_images(images.test_a) if images.test_a else images.train_a, t.num_samples, size)
                ys = _sample_batch(list_images(images.test_b) if images.test_b else images.train_b, t.num_samples, size)
                samples = (xs, ys)
        except OSError as e:
            error = CycleGANError(f"cannot write the run folder {run.folder}: {e.strerror or e}")
        except CycleGANError as e:
            error = e
    ddp.raise_on_every_rank(error, run.d_ctx, elsewhere="rank 0 could not prepare the run (its error is above)")
    return samples


def _loader(run: _Run, data: UnpairedTrainSet | PairedTrainSet, sampler: ddp.StepSampler) -> DataLoader:
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
    record and over all ranks to log.jsonl (and TensorBoard, if installed).

    It also keeps, on the device, the first step at which any loss was not finite and the losses of that
    step (no sync per step); `stop_if_not_finite` reads them where the loop syncs anyway."""

    def __init__(self, run: _Run, trainer: Trainer, bar: tqdm, *, start: int):
        self.run, self.trainer, self.bar, self.start = run, trainer, bar, start
        self.sums: dict[str, torch.Tensor] = {}
        self.n = 0
        self.file = self.tb = None
        self.names: list[str] = []
        self.first_bad: torch.Tensor | None = None  # () int64: the first step with a non-finite loss, or -1
        self.bad_losses: torch.Tensor | None = None  # (len(names),): the losses of that step

    def __enter__(self) -> _LossLog:
        if self.run.main:
            self.file = (self.run.folder / "log.jsonl").open("a")
            self.tb = _tensorboard(self.run.folder, purge_step=self.start + 1 if self.start else None)
        self.t_last = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        for f in (self.file, self.tb):
            if f is not None:
                f.close()

    def add(self, losses: dict[str, torch.Tensor], *, step: int) -> None:
        """The losses of `step` (0-d tensors); everything stays on the device: no sync per step."""
        for k, v in losses.items():
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        self.n += 1
        values = torch.stack([v.detach().float().reshape(()) for v in losses.values()])  # (n_losses,)
        if self.first_bad is None or list(losses) != self.names:
            self.names = list(losses)
            self.first_bad = torch.full((), -1, dtype=torch.long, device=values.device)
            self.bad_losses = torch.zeros_like(values)
        first = (self.first_bad < 0) & ~torch.isfinite(values).all()
        self.first_bad = torch.where(first, step, self.first_bad)
        self.bad_losses = torch.where(first, values, self.bad_losses)

    def first_not_finite(self) -> tuple[int, str, float] | None:
        """(step, loss name, value) of the first non-finite loss of any rank, or None. Reads the device, and
        under torchrun is a collective: every rank calls it at the same step."""
        mine = None
        if self.first_bad is not None and (step := int(self.first_bad)) >= 0:
            values = self.bad_losses.tolist()
            i = next((i for i, v in enumerate(values) if not math.isfinite(v)), 0)
            mine = (step, self.names[i], values[i])
        d = self.run.d_ctx
        if not ddp.any_rank(mine is not None, d):
            return None
        found = [r for r in ddp.gather_to_main(mine, d) or [] if r is not None]
        return min(found) if found else (-1, "", math.nan)

    def stop_if_not_finite(self, saved: int | None) -> None:
        """Stop the run (every rank) if a loss was not finite: one line naming the loss, its value, the step
        and the checkpoint kept (`saved`: its step, None if none was written). Nothing is saved after it."""
        bad = self.first_not_finite()
        if bad is None:
            return
        if not self.run.main:
            raise CycleGANError("stopping: a loss became non-finite (rank 0 names it)")
        step, name, value = bad
        shown = "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        path = self.run.folder / CHECKPOINT_NAME
        kept = "no checkpoint was saved" if saved is None else f"the last checkpoint, step {saved}, is kept ({path})"
        raise CycleGANError(f"loss {name} became {shown} at step {step}; {kept}. Training diverged: a new run "
                            "(another --out) with a lower --lr or loss weights may help")  # fmt: skip

    def write(self, step: int) -> None:
        """Every rank calls it (the mean over ranks is a collective). The losses are read back here only,
        once every log_every steps: a host-device sync."""
        now = time.perf_counter()
        sums = ddp.mean_over_ranks(self.sums, self.run.d_ctx)
        means = {k: _finite_or_none(v.item() / self.n) for k, v in sums.items()}
        if self.run.main:
            self._record(step, means, s_per_step=(now - self.t_last) / self.n)
        self.sums, self.n, self.t_last = {}, 0, now

    def _record(self, step: int, means: dict[str, float], *, s_per_step: float) -> None:
        record = {
            "step": step, "epoch": step // self.run.steps_per_epoch, "lr": self.trainer.opt_G.param_groups[0]["lr"],
            "s_per_step": round(s_per_step, 4), **means,
        }  # fmt: skip
        self.file.write(json.dumps(record, allow_nan=False) + "\n")  # strict JSON: never NaN or Infinity
        self.file.flush()
        if self.tb:
            for k, v in means.items():
                if v is not None:
                    self.tb.add_scalar(f"loss/{k}", v, step)
            self.tb.add_scalar("lr", record["lr"], step)
        shown = [k for k in means if k != "G_total"][:5]
        self.bar.set_postfix({k: f"{means[k]:.3f}" for k in shown if means.get(k) is not None})


def _finite_or_none(x: float) -> float | None:
    """A mean for log.jsonl: rounded, or None (JSON null) for a sum that overflowed although every loss was
    finite (a non-finite loss stops the run before its record is written)."""
    return round(x, 5) if math.isfinite(x) else None


@dataclass(frozen=True)
class _End:
    """Where and why the step loop ended, and the run as it ended (`--fit-steps` may have changed its total)."""

    step: int
    signum: int | None  # the stop signal received (Ctrl-C, SIGTERM), if any
    timed_out: bool
    run: _Run


class _StepFitter:
    """`--fit-steps`: while the LR is still constant, re-fit the run's total steps to the time left at the speed
    measured since the loop began (data loading, logs and checkpoints included), so the LR schedule reaches 0
    as the time limit arrives instead of being cut off, or ending early, when the machine is slower or faster
    than a short timing said. The total never exceeds the configured steps (the loader's end)."""

    FILL = 0.97  # of the time left: the final checkpoint and sample grid come after the last step
    WARMUP, FIRST, EVERY = 2, 10, 25  # steps after the start: untimed, the first fit, then a fit per EVERY
    # (the first steps also pay for starting the data loader's processes: timed, they would read as slow)

    def __init__(self, *, start: int, cap: int, deadline: float):
        self.start, self.cap, self.deadline = start, cap, deadline
        self.t0: float | None = None
        self.announced = False

    def tick(self, step: int) -> None:
        if step == self.start + self.WARMUP:
            self.t0 = time.monotonic()

    def due(self, step: int, trainer: Trainer) -> bool:
        done = step - self.start
        if done < self.FIRST or (done - self.FIRST) % self.EVERY:
            return False
        decay_start = trainer.total_steps - round(trainer.total_steps * trainer.cfg.train.lr_decay_fraction)
        return step < decay_start  # once the LR decays, the plan stays (the time limit still stops the run)

    def total(self, step: int) -> int:
        now = time.monotonic()
        seconds_per_step = (now - self.t0) / (step - self.start - self.WARMUP)
        ahead = int(self.FILL * max(0.0, self.deadline - now) / seconds_per_step)
        return min(self.cap, step + max(1, ahead))


def _refit(run: _Run, trainer: Trainer, total: int) -> _Run:
    """The run and trainer with `total` steps: the LR schedules follow from the current step, and the saved
    config records it, so a resumed run goes on along the same schedule."""
    cfg = run.cfg
    cfg = replace(cfg, train=replace(cfg.train, steps=total, epochs=None))
    trainer.cfg = cfg
    trainer.set_total_steps(total)
    return replace(run, cfg=cfg, total=total)


def _step_loop(
    run: _Run, trainer: Trainer, loader: DataLoader, samples: _Samples | None, *, start: int,
    saved: int | None, progress: bool,
) -> _End:  # fmt: skip
    """Train from step `start` to the total, a stop request or the time limit, logging, sampling and saving
    on schedule; every rank ends at the same step. A non-finite loss stops the run (a CycleGANError) at the
    next log record, sample grid or checkpoint, before it is written: the checkpoint of step `saved` stays."""
    t = run.cfg.train
    step = start
    bar = tqdm(
        total=run.total, initial=start, desc=f"train {run.folder.name}", unit="step", disable=not progress,
        dynamic_ncols=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60 * t.time_limit if t.time_limit else None
    fitter = _StepFitter(start=start, cap=run.total, deadline=deadline) if t.fit_steps and deadline else None
    timed_out = False
    with bar, StopRequest() as stop, _LossLog(run, trainer, bar, start=start) as log:
        for x, y in loader:
            losses = trainer.step(x.to(run.device, non_blocking=True), y.to(run.device, non_blocking=True))
            step += 1
            log.add(losses, step=step)
            bar.update(1)
            if fitter is not None:
                fitter.tick(step)
                if fitter.due(step, trainer):
                    total = ddp.min_over_ranks(fitter.total(step), run.d_ctx)
                    if total != run.total:
                        run = _refit(run, trainer, total)
                        bar.total = total
                        bar.refresh()
                    if run.main and not fitter.announced:
                        fitter.announced = True
                        capped = " (capped by --steps)" if total == fitter.cap else ""
                        tqdm.write(
                            f"fitting the steps to the {t.time_limit:g}-minute limit: {total} steps{capped} at "
                            "the speed so far (re-fitted until the learning rate starts to decay)"
                        )
            timed_out = deadline is not None and time.monotonic() > deadline
            # all ranks agree (a tiny CPU all-reduce) so they stop, log and save at the same step
            last = step == run.total or ddp.any_rank(stop.signum is not None or timed_out, run.d_ctx)
            if step % t.log_every == 0 or last:
                log.stop_if_not_finite(saved)  # these syncs happen anyway: the record reads the losses back
                log.write(step)
            if t.sample_every and step % t.sample_every == 0:
                log.stop_if_not_finite(saved)
                if run.main:
                    write_samples(trainer, *samples, run.sample_path(step))
            if last:
                break
            if t.checkpoint_every and step % t.checkpoint_every == 0:
                log.stop_if_not_finite(saved)
                run.save(trainer, step)
                saved = step
    return _End(step, stop.signum, timed_out, run)


def _finish(run: _Run, trainer: Trainer, samples: _Samples | None, end: _End, *, skipped: list[str]) -> TrainResult:
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


def _tensorboard(run: Path, *, purge_step: int | None = None):
    """A TensorBoard writer, if installed. `purge_step` (a resumed run): events from that step on, written
    by the run before it stopped, are dropped, as `trim_log` drops its log records."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # optional: pip install "cyclegan[tensorboard]"
        return None
    return SummaryWriter(str(run / "tensorboard"), purge_step=purge_step)
