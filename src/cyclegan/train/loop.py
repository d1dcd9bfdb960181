"""The training loop: data, device, progress, logs, sample grids, checkpoints, Ctrl-C and resume."""

from __future__ import annotations

import contextlib
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

from .. import __version__
from ..checkpoint import CHECKPOINT_NAME, FORMAT, load_checkpoint, save_atomic
from ..config import RESUMABLE, Config, config_from_dict, resolve
from ..data import UnpairedTrainSet, check_images, eval_transform, list_images, read_image
from ..errors import CycleGANError
from ..execution import choose_execution, compile_pays_for_training, resolve_device
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


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _load_rank_state(trainer: CycleGANTrainer, ckpt: dict, d: ddp.Dist) -> None:
    """This rank's RNG and pools from the checkpoint (its own if the run had as many processes)."""
    ranks = ckpt.get("ranks")
    if ranks is not None and len(ranks) == d.world_size:
        mine = ranks[d.rank]
    else:
        mine = {"rng": ckpt["rng"], "pools": ckpt["pools"]}
        if d.world_size > 1 or ranks is not None:
            if d.is_main:
                print(f"note: the checkpoint was written by {len(ranks) if ranks else 1} process(es), this run has "
                      f"{d.world_size}: each process starts from rank 0's random state and image pools (the data "
                      "order stays exact)", file=sys.stderr)  # fmt: skip
    _set_rng_state(mine["rng"])
    trainer.pool_X.load_state_dict(mine["pools"]["X"], device=trainer.device)
    trainer.pool_Y.load_state_dict(mine["pools"]["Y"], device=trainer.device)


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
        return _train(cfg, ckpt=ckpt, progress=progress and d_ctx.is_main, run=run, device=device, d_ctx=d_ctx)
    finally:
        ddp.shutdown(d_ctx)


def _train(cfg: Config, *, ckpt, progress: bool, run: Path, device: torch.device, d_ctx: ddp.Dist) -> TrainResult:
    t, d = cfg.train, cfg.data
    main = d_ctx.is_main
    dir_a, dir_b, test_a, test_b = domain_folders(cfg)
    skipped: list[str] = []
    files = []
    for folder, what in ((dir_a, "domain A folder"), (dir_b, "domain B folder")):
        good, bad = check_images(
            list_images(folder, what=what), skip_bad=d.skip_bad_images, desc=f"checking {folder}", progress=progress
        )
        if not good:
            raise CycleGANError(f"{what} {folder}: no readable images")
        files.append(good)
        skipped += bad
    for msg in skipped if main else []:
        tqdm.write(f"warning: skipping {msg}", file=sys.stderr)
    data = UnpairedTrainSet(
        files[0], files[1], size=d.size, load_size=round(d.size * d.load_scale), flip=d.flip,
        seed=t.seed, batch_size=t.batch_size,
    )  # fmt: skip
    spe = data.steps_per_epoch
    total = t.steps if t.steps is not None else t.epochs * spe

    start = ckpt["step"] if ckpt is not None else 0
    if start >= total:
        if main:
            print(f"{run}: already trained {start} steps (total {total}); raise --steps or --epochs to go on")
        return TrainResult(checkpoint=run / CHECKPOINT_NAME, step=start, total_steps=total)
    sampler = ddp.StepSampler(start, total, t.batch_size, d_ctx)  # checks the batch splits over the ranks
    execution = choose_execution(
        t.precision, t.channels_last, t.compile, device=device,
        compile_pays=compile_pays_for_training(total - start), batch_norm=cfg.model.norm == "batch",
    )  # fmt: skip
    if main and d_ctx.enabled:
        print(f"training on {d_ctx.world_size} processes ({device.type}), global batch {t.batch_size} = "
              f"{sampler.per_rank} per process")  # fmt: skip
        if cfg.model.norm == "batch" and device.type != "cuda":
            print("note: SyncBatchNorm needs GPUs; on CPU each process normalises its own slice of the batch "
                  "(running statistics are rank 0's)", file=sys.stderr)  # fmt: skip
    if main:
        print(f"computing in {execution.describe()} on {device}"
              + (" (compiling first: about a minute)" if execution.compile else ""))  # fmt: skip
    trainer = CycleGANTrainer(
        cfg, total_steps=total, device=device, execution=execution, distributed=d_ctx.enabled, rank=d_ctx.rank
    )
    if ckpt is not None:
        trainer.load_state_dict(ckpt)
        trainer.set_total_steps(total)
        _load_rank_state(trainer, ckpt, d_ctx)

    setup_error: CycleGANError | None = None
    if main:  # only rank 0 writes the run folder and sample grids
        try:
            run.mkdir(parents=True, exist_ok=True)
            (run / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
            xs = _sample_batch(list_images(test_a) if test_a else files[0], t.num_samples, d.size)
            ys = _sample_batch(list_images(test_b) if test_b else files[1], t.num_samples, d.size)
        except OSError as e:
            setup_error = CycleGANError(f"cannot write the run folder {run}: {e.strerror or e}")
        except CycleGANError as e:
            setup_error = e
    if ddp.any_rank(setup_error is not None, d_ctx):  # the other ranks must not wait for rank 0 in a collective
        raise setup_error or CycleGANError("rank 0 could not prepare the run (its error is above); stopping")

    tb = _tensorboard(run) if main else None
    cores = (os.cpu_count() or 1) // d_ctx.local_world_size  # the processes on this machine share its cores
    workers = d.num_workers if d.num_workers >= 0 else min(4, max(0, cores - 1))
    loader = DataLoader(
        data, batch_size=sampler.per_rank, sampler=sampler, num_workers=workers, pin_memory=device.type == "cuda",
        worker_init_fn=worker_init, prefetch_factor=4 if workers else None,
        generator=torch.Generator(),  # its own: drawing worker seeds must not move the global RNG (dropout)
    )  # fmt: skip

    def save(step: int) -> Path:
        """Rank 0 writes the checkpoint; every rank contributes its own RNG and pool state (a collective)."""
        mine = {"rng": _rng_state(), "pools": trainer.state_dict()["pools"]}
        if d_ctx.enabled:
            mine["weights_sha256"] = ddp.weights_digest(trainer.networks)
        ranks = ddp.gather_to_main(mine, d_ctx)
        path = run / CHECKPOINT_NAME
        if not main:
            return path
        state = {
            "format": FORMAT, "package_version": __version__, "config": cfg.to_dict(), "step": step,
            "epoch": step // spe, "steps_per_epoch": spe, "rng": mine["rng"], **trainer.state_dict(),
        }  # fmt: skip
        if d_ctx.enabled:
            state["ranks"] = ranks  # each rank's RNG and pools, for an exact resume with as many processes
            if len({r["weights_sha256"] for r in ranks}) > 1:
                tqdm.write(f"warning: the processes' weights differ at step {step} (DistributedDataParallel "
                           "should keep them equal); rank 0's are saved", file=sys.stderr)  # fmt: skip
        save_atomic(state, path)
        return path

    log_path = run / "log.jsonl"
    sums: dict[str, torch.Tensor] = {}
    n_summed = 0
    step = start
    bar = tqdm(
        total=total, initial=start, desc=f"train {run.name}", unit="step", disable=not progress, dynamic_ncols=True
    )
    t_log = time.perf_counter()
    deadline = time.monotonic() + 60 * t.time_limit if t.time_limit else None
    timed_out = False

    def write_log() -> None:  # the only host-device sync: once every log_every steps
        nonlocal sums, n_summed, t_log
        now = time.perf_counter()
        means = {k: round(v.item() / n_summed, 5) for k, v in ddp.mean_over_ranks(sums, d_ctx).items()}
        if not main:
            sums, n_summed, t_log = {}, 0, now
            return
        record = {
            "step": step, "epoch": step // spe, "lr": trainer.opt_G.param_groups[0]["lr"],
            "s_per_step": round((now - t_log) / n_summed, 4), **means,
        }  # fmt: skip
        log.write(json.dumps(record) + "\n")
        log.flush()
        if tb:
            for k, v in means.items():
                tb.add_scalar(f"loss/{k}", v, step)
            tb.add_scalar("lr", record["lr"], step)
        bar.set_postfix({k: f"{means[k]:.3f}" for k in ("D_X", "D_Y", "G_adv", "F_adv", "cycle_x") if k in means})
        sums, n_summed, t_log = {}, 0, now

    with StopRequest() as stop, log_path.open("a") if main else contextlib.nullcontext() as log:
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            losses = trainer.step(x, y)
            step += 1
            for k, v in losses.items():  # summed on the device, read back by write_log
                sums[k] = sums[k] + v if k in sums else v.clone()
            n_summed += 1
            bar.update(1)
            timed_out = deadline is not None and time.monotonic() > deadline
            # all ranks agree (a tiny CPU all-reduce) so they stop, log and save at the same step
            last = step == total or ddp.any_rank(stop.signum is not None or timed_out, d_ctx)
            if step % t.log_every == 0 or (last and n_summed):
                write_log()
            if main and t.sample_every and step % t.sample_every == 0:
                write_samples(trainer, xs, ys, run / "samples" / f"step_{step:07d}.png")
            if last:
                break
            if t.checkpoint_every and step % t.checkpoint_every == 0:
                save(step)
    bar.close()
    path = save(step)
    if not main:
        if stop.signum is not None:
            raise SystemExit(128 + stop.signum)
        return TrainResult(checkpoint=path, step=step, total_steps=total)
    if not (t.sample_every and step % t.sample_every == 0):  # else the loop just wrote this one
        write_samples(trainer, xs, ys, run / "samples" / f"step_{step:07d}.png")
    if tb:
        tb.close()
    if skipped:
        print(f"warning: {len(skipped)} unreadable image(s) were skipped (listed above)", file=sys.stderr)
    if stop.signum is not None:
        print(f"stopped at step {step}/{total}; checkpoint saved to {path}. Continue with: "
              f"cyclegan train --out {run} --resume", file=sys.stderr)  # fmt: skip
        raise SystemExit(128 + stop.signum)
    if step < total:
        why = f"time limit of {t.time_limit} min reached" if timed_out else "another process was asked to stop"
        print(f"{why} at step {step}/{total}; checkpoint {path} "
              f"(continue with: cyclegan train --out {run} --resume)")  # fmt: skip
    else:
        print(f"done: {step} steps; checkpoint {path}; samples in {run / 'samples'}")
    return TrainResult(checkpoint=path, step=step, total_steps=total)


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
