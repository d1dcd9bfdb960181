"""The training loop: lock the run folder, check the two domains, build (or restore) the trainer, run the
steps with progress, logs and sample grids, stop cleanly on Ctrl-C, SIGTERM, SIGHUP or the time limit, stop at the
first non-finite loss without saving it, and have the trainer save the run."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from torch.utils.data import DataLoader

from ..checkpoint import load_state
from ..config import Config, check_startable, config_from_dict
from ..errors import CycleGANError, check_flag, counted, escape
from ..execution import Execution, choose_execution, resolve_device, synchronize
from ..files import FolderLock, check_not_a_file, check_out_folder, inside, write_atomic
from ..options import given_as
from ..progress import print_line, print_out, print_warning, progress_bar
from ..report import save_grid
from ..run_files import BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, SET_ASIDE_KEY
from . import distributed as ddp
from .budget import StepFitter, refit
from .inputs import (
    Images,
    at_step_size,
    changed_in_place,
    data_folders,
    dataset,
    files_digest,
    files_record,
    half_size_steps,
    loader,
    quiet_worker_count,
    sample_batch,
    sample_pairs,
    stored_stamps,
    training_images,
)
from .losslog import LOSSES_KEY, LossLog
from .monitor import Monitor
from .run_folder import (
    TRAIN_DIGEST_KEY,
    TRAIN_STAMPS_KEY,
    ReadCheckpoint,
    Run,
    claim_run_folder,
    once_fixed,
    oserror_text,
    resume_command,
)
from .scoring import best_metric, check_kid_features, held_out_set, rng_devices, trained_on, unlike_truths
from .signals import StopRequest, StopWaiting, TimeUp, end_loader, time_limited
from .trainer import Trainer, trainer_class
from .watch import Verdict

T = TypeVar("T")


def train(
    cfg: Config,
    *,
    ckpt: dict | None = None,
    progress: bool = True,
    resume_with: str | None = None,
    capped_by: str | None = None,
) -> TrainResult:
    """Train (or continue) the run described by `cfg` until its total steps or time limit.

    `resume_with`: the command a run stopped halfway (a signal, a lost image) names to go on with it; by default
    `cyclegan train --out RUN --resume` (`cyclegan demo` names its own, which goes on and reports). Given, a run
    ended by its time limit or --stop-when-worse names no command: its caller says what follows.
    `capped_by`: what a --fit-steps run's cap is, as its caller set it ("the demo's 5000-step cap"); by default the
    option that set it (--steps, --epochs) or the total stored in the checkpoint resumed.

    The run folder is locked (`files.FolderLock`, by rank 0 under torchrun) before anything is written in it
    and until the end: a second run on the same folder is refused, naming the first one's PID.
    Raises SystemExit(128 + signal) after saving when interrupted by Ctrl-C, SIGTERM or SIGHUP, and a CycleGANError
    at the first non-finite loss, leaving the last checkpoint as it was.
    The caller's random state (torch's CPU generator and the CUDA device's) is as it was when this returns or raises:
    training seeds it (`--seed`), and a notebook's next `torch.rand` was then the run's.
    """
    if not isinstance(cfg, Config):  # train({"data": ...}) was an AttributeError about 'train'
        raise CycleGANError(
            f"expected a Config, got {type(cfg).__name__}: build it with cyclegan.config.resolve({{...}}) (flat option "
            "names, as in a config file)"
        )
    check_flag("progress", progress)  # "no" drew the bars
    t = check_startable(cfg).train
    run = Path(t.out)
    check_out_folder(
        t.out, holds="the run's checkpoint, config, logs and samples are written into", option=given_as("out")
    )
    check_not_a_file(t.out, option=given_as("out"))
    for folder in data_folders(cfg.data):  # its sample grids would become the next run's training images
        if inside(run.resolve(), folder.resolve()):
            out = given_as("out")
            raise CycleGANError(
                f"option '{out}': {run} is inside the image folder {folder}: the run's sample grids would be read as "
                f"training images next time; choose an {out} outside it"
            )
    device = resolve_device(t.device)  # a bad --device stops here, before the run folder exists
    d_ctx, device = ddp.setup(device)
    lock = FolderLock(run)
    failed = False
    try:
        with torch.random.fork_rng(devices=rng_devices(device)):
            claim_run_folder(run, lock, ckpt, d_ctx, cfg=cfg)
            return _train(
                cfg,
                ckpt=ckpt,
                progress=progress and d_ctx.is_main,
                folder=run,
                device=device,
                d_ctx=d_ctx,
                resume_with=resume_with,
                capped_by=capped_by,
            )
    except (KeyboardInterrupt, Exception) as e:
        if (interrupt := _interrupt_of(e)) is None:
            failed = True
            if gone := ddp.peer_gone(e, d_ctx):  # another process ended: one line, not torch's traceback
                kept = _kept_on_disk(run, resume_with or resume_command(run, d_ctx))
                raise CycleGANError(
                    f"rank {d_ctx.rank}: another process of the run ended ({escape(gone)}; its own error, or "
                    f"torchrun's report of it, says why): {kept}"
                ) from None
            raise
        # a second Ctrl-C (or one before the loop's handler, or a SIGTERM or SIGHUP there: `commands.run_train`'s
        # `terminate_as_interrupt`): the first names the checkpoint it saves, so does this; exit 130, 143 or 129
        if d_ctx.is_main:
            with contextlib.suppress(OSError):  # a terminal that hung up takes no line: the exit status says it
                resume = resume_with or resume_command(run, d_ctx)
                saved = isinstance(interrupt, StoppedAfterSaving)
                print_line(interrupt.line(resume) if saved else _stopped_at_once(run, resume))
        raise SystemExit(getattr(interrupt, "status", 128 + signal.SIGINT)) from None
    finally:
        lock.release()
        ddp.shutdown(d_ctx, barrier=not failed)


def _train(
    cfg: Config,
    *,
    ckpt: dict | None,
    progress: bool,
    folder: Path,
    device: torch.device,
    d_ctx: ddp.Dist,
    resume_with: str | None = None,
    capped_by: str | None = None,
) -> TrainResult:
    """Check the data, build (or restore) the trainer, prepare the run folder, train, save and report."""
    # the time limit counts from here, the set-up before the first step too: the check of the images, and with
    # --eval-every timm's import and the held-out images' reads (seconds, minutes on a slow disk), were outside it,
    # so a run given 10 minutes took longer; a resume's, from before its checkpoint's read (`prepare_config`)
    limit = cfg.train.time_limit
    began = ckpt.began if isinstance(ckpt, ReadCheckpoint) else time.monotonic()
    deadline = began + 60 * limit if limit else None
    images = _checked_images(cfg, ckpt, progress=progress, d_ctx=d_ctx, deadline=deadline)
    _check_same_images(images, d_ctx)
    # before the training set: images set aside are never trained on
    aside_before = None if ckpt is None else ckpt.get(SET_ASIDE_KEY)
    if ckpt is not None and not isinstance(aside_before, bool):  # older checkpoints: whether the run scored
        aside_before = bool(config_from_dict(ckpt["config"], source="checkpoint").train.eval_every)
    images, held, aside = held_out_set(cfg, images, aside_before=aside_before)
    if held is not None:  # a --best-by without its score, or kid without its features: refused before the trainer
        check_kid_features(cfg, best_metric(cfg, held))  # and the folder's files
        if d_ctx.is_main and (copies := trained_on(held, images)):
            print_warning(f"warning: {escape(copies)}")
        if d_ctx.is_main and (unlike := unlike_truths(held)):
            print_warning(f"warning: {escape(unlike)}")
    data = dataset(cfg, images, new_run=ckpt is None, held_out=held is not None)
    t, spe = cfg.train, data.steps_per_epoch
    total = t.steps if t.steps is not None else t.epochs * spe
    counts = (len(data.files_a), len(data.files_b or []))
    # rank 0 saves and warns
    # no file read again: the check's digests (`Images.digests`), or on a resume its checkpoint's stamps, hold each
    # one at its size and time (`files_record`)
    before = stored_stamps(ckpt.get(TRAIN_STAMPS_KEY)) if ckpt is not None else None
    digest, stamps = (
        _within_limit(
            lambda: files_record(data.files_a, data.files_b, before=before, checked=images.digests),
            cfg,
            ckpt,
            deadline=deadline,
            during="reading the training files' contents",
            passed_ok=True,
        )
        if d_ctx.is_main
        else (None, None)
    )
    run = Run(
        cfg,
        folder,
        device,
        d_ctx,
        steps_per_epoch=spe,
        total=total,
        train_images=counts,
        train_digest=digest,
        train_stamps=stamps,
        set_aside=aside,
        resume_with=resume_with,
    )
    start = ckpt["step"] if ckpt is not None else 0
    _warn_if_the_data_changed(run, ckpt)
    saved = start if ckpt is not None else None  # the step of the checkpoint on disk, if any
    if start >= run.total:
        if run.main:
            # a --fit-steps run keeps the total its schedule decayed over (`prepare_config`): a higher --steps alone
            # changed nothing
            more = (
                f"give {given_as('steps', 'N')} with {given_as('fit_steps', False)}"
                if t.fit_steps
                else f"raise {given_as('steps')} or {given_as('epochs')}"
            )
            print_out(
                f"{escape(folder)}: already trained {counted(start, 'step')} (total {run.total}); {more} to go on"
            )
        return TrainResult(checkpoint=folder / CHECKPOINT_NAME, step=start, total_steps=run.total)
    # checks the batch splits over the ranks
    sampler = ddp.StepSampler(start, run.total, t.batch_size, d_ctx, resumed=ckpt is not None)
    trainer = _build_trainer(run, ckpt, start=start, per_rank=sampler.per_rank)
    samples = _prepare_run_folder(run, images)
    monitor = Monitor(run, trainer, held, ckpt)
    with trainer.execution.backends():
        end = _step_loop(
            run,
            trainer,
            loader(run.cfg, run.device, run.d_ctx, data, sampler),
            samples,
            monitor,
            start=start,
            saved=saved,
            progress=progress,
            carried=ckpt.get(LOSSES_KEY) if ckpt is not None else None,
            cap=capped_by or _fit_cap(cfg, ckpt, run.total),
            deadline=deadline,
        )
    return _finish(end.run, trainer, samples, monitor, end, skipped=images.skipped)


def _checked_images(
    cfg: Config, ckpt: dict | None, *, progress: bool, d_ctx: ddp.Dist, deadline: float | None
) -> Images:
    """`training_images`, within the time limit (`deadline`, on `time.monotonic`'s clock): a read that hung there (a
    stalled network file) kept the run past --time-limit for ever, before its first step. A check longer than the
    whole limit stops in one line; under torchrun on the rank whose check it was, and the others, waiting for it in
    `_check_same_images`, then say that a process ended (they waited there for ever)."""
    return _within_limit(
        lambda: training_images(cfg, progress=progress, main=d_ctx.is_main),
        cfg,
        ckpt,
        deadline=deadline,
        during="checking the images",
    )


def _within_limit(
    work: Callable[[], T],
    cfg: Config,
    ckpt: dict | None,
    *,
    deadline: float | None,
    during: str,
    passed_ok: bool = False,
) -> T:
    """`work()` (a read of the image folders before the first step: their check, the record of their contents) cut
    at the time limit's `deadline` in one line saying what it was `during`. A deadline passed before it is said at
    once (as the checkpoint's read, on a resume), or with `passed_ok` the work is done uncut: the set-up after the
    check spent the limit, and the loop stops at step 0 with its checkpoint saved, resumable."""
    limit = cfg.train.time_limit
    left = None if deadline is None else deadline - time.monotonic()
    if passed_ok and left is not None and left <= 0:
        return work()
    try:
        if left is not None and left <= 0:  # spent before the work: said at once, not by an alarm that may ring
            raise TimeUp  # inside a file's close, where it can be lost (a 1 ms alarm read as a bad image, once)
        with time_limited(left) as wait:
            # The alarm's TimeUp can be lost: raised inside a file's close, it became that image's "Bad file
            # descriptor" (1 in 20 limits that ran out here: "cannot read image ...: remove it"), or a skipped image
            # under --skip-bad-images. Where the alarm rang, time is up all the same.
            try:
                done = work()
            except Exception:
                if not wait.rang:
                    raise
                raise TimeUp from None
            if wait.rang:
                raise TimeUp
            return done
    except TimeUp:
        kept = "nothing trained" if ckpt is None else f"the checkpoint of step {ckpt['step']} is kept"
        # spent before the work on a resume: by its checkpoint's read, which the limit counts
        read = isinstance(ckpt, ReadCheckpoint) and left is not None and left <= 0
        during, where = ("reading the checkpoint", "the run folder") if read else (during, "the image folders")
        raise CycleGANError(
            # "give more time_limit" read as no sentence to a Python caller: the option with its value, as it writes it
            f"time limit of {limit:g} min reached while {during}, before the first step; {kept}: allow more time with "
            f"{given_as('time_limit', 'M')}, or if a read hangs, check {where} (a stalled network drive?)"
        ) from None


def _check_same_images(images: Images, d_ctx: ddp.Dist) -> None:
    """Under torchrun every process lists and checks the images itself: processes that see other training images
    (another copy of the data on another machine, an image unreadable on one of them under --skip-bad-images) drew
    other images for one sample index without a word, or, their counts apart, planned other step totals until
    their collectives mismatched (gloo aborted). Every rank stops in one line instead, before the first step."""
    if not d_ctx.enabled:
        return
    seen = ddp.every_rank(
        (len(images.train_a), len(images.train_b or []), files_digest(images.train_a, images.train_b)), d_ctx
    )
    other = next((r for r, s in enumerate(seen) if s != seen[0]), None)
    if other is None:
        return
    if d_ctx.rank != 0:
        raise CycleGANError(f"rank {d_ctx.rank}: the processes see other training images (rank 0 names them)")

    def counts(r: int) -> str:
        a, b, _ = seen[r]
        return f"rank {r}: {a} A and {b} B images" if b else f"rank {r}: {a} pairs"

    same = ", as many but other files (names or sizes)" if seen[0][:2] == seen[other][:2] else ""
    raise CycleGANError(
        f"the processes see other training images ({counts(0)}, {counts(other)}{same}): every process must read "
        "the same images: --data on storage every machine sees, or the same copy on each"
    )


def _fit_cap(cfg: Config, ckpt: dict | None, total: int) -> str:
    """What caps a --fit-steps run's total: --steps (or --epochs), or on resume the total its checkpoint stores
    (its --steps or the total fitted since), which `prepare_config` keeps as the cap without a new --steps or once
    the LR decays."""
    stored = None if ckpt is None else ckpt["config"]["train"]
    if stored is not None and stored.get("fit_steps") and stored.get("steps") == total:
        return "the total stored in its checkpoint"
    return given_as("steps") if cfg.train.steps is not None else given_as("epochs")


def _choose_execution(cfg: Config, device: torch.device) -> Execution:
    """Precision, memory format and compilation for this device; `auto` never compiles training (eager, with
    the fused layer forms and two lanes where they pay, was as fast or faster: `execution`'s docstring)."""
    t = cfg.train
    return choose_execution(
        t.precision,
        t.channels_last,
        t.compile,
        device=device,
        compile_pays=False,
        batch_norm=cfg.model.norm == "batch",
        unet=cfg.model.generator == "unet",
        fixed_shapes=True,  # every batch is --size (or half of it)
    )


def _announce(run: Run, execution: Execution, *, per_rank: int) -> None:
    """Say how the run computes, before a compilation keeps the first step waiting."""
    cfg, d_ctx, device = run.cfg, run.d_ctx, run.device
    if d_ctx.enabled:
        print_out(
            f"training on {d_ctx.world_size} processes ({device.type}), global batch {cfg.train.batch_size} = "
            f"{per_rank} per process"
        )
        if cfg.model.norm == "batch" and device.type != "cuda":
            print_line(
                "note: SyncBatchNorm needs GPUs; on CPU each process normalises its own slice of the batch "
                "(running statistics are rank 0's)"
            )
    print_out(
        f"computing in {execution.describe()} on {device}"
        + (" (compiling first: about a minute)" if execution.compile else "")
    )


def _build_trainer(run: Run, ckpt: dict | None, *, start: int, per_rank: int) -> Trainer:
    """The trainer for this device and the steps ahead, restored from `ckpt` when the run resumes."""
    execution = _choose_execution(run.cfg, run.device)
    trainer = trainer_class(run.cfg.model.family)(
        run.cfg, total_steps=run.total, device=run.device, execution=execution, dist=run.d_ctx
    )
    if run.main:
        _announce(run, trainer.execution, per_rank=per_rank)  # as the family applied it
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
        raise CycleGANError(
            f"{source}: cannot restore the training state ({type(e).__name__}: {detail}); the "
            "file is damaged or was written by another version"
        ) from None
    for name, opt in trainer.optimizers.items():
        for p, state in opt.state.items():
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.dim() and value.shape != p.shape:
                    raise CycleGANError(
                        f"{source}: optimizer {name}'s '{key}' has shape {tuple(value.shape)} for a weight of shape "
                        f"{tuple(p.shape)}; the file is damaged or was written by another version"
                    )


_Samples = tuple[torch.Tensor, torch.Tensor]  # the fixed A and B images of the sample grids


def _write_config(run: Run) -> None:
    """config.json: the run's resolved configuration, as its checkpoint holds it (rank 0 only)."""
    text = json.dumps(run.cfg.to_dict(), indent=2) + "\n"
    write_atomic(run.folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text))


def _rewrite_config(run: Run, *, step: int, saved: int | None) -> None:
    """config.json again, at a refit (`--fit-steps`): a write that fails (a full disk) stops the run in one line naming
    the checkpoint kept (it was an OSError traceback), as a log record that cannot be written does."""
    try:
        _write_config(run)
    except OSError as e:
        kept = (
            "no checkpoint was saved yet"
            if saved is None
            else f"the checkpoint of step {saved} is kept ({once_fixed(e, run.folder)}: {run.goes_on_with()})"
        )
        path = run.folder / CONFIG_NAME
        raise CycleGANError(f"cannot write {path} at step {step}: {e.strerror or e}; {kept}") from None


def _warn_if_the_data_changed(run: Run, ckpt: dict | None) -> None:
    """A resumed run whose training set has another number of images than when its checkpoint was saved, the same
    number of other files, or files edited in place (`inputs.files_record`'s stamps; older checkpoints: its digest of
    names and sizes), goes on, but draws other images than the run never stopped would have: say so (the resume is not
    exact)."""
    stored = ckpt.get("train_images") if ckpt is not None else None
    if not run.main or not isinstance(stored, list) or len(stored) != 2:
        return
    changes = []
    if tuple(stored) != run.train_images:
        names = ("A", "B") if run.train_images[1] or stored[1] else ("pairs",)
        pairs = zip(names, stored, run.train_images)
        changes.append(", ".join(f"{n}: {was} -> {now}" for n, was, now in pairs if was != now) + " images")
    # a tensor of another shape (an edited file) is no record of the files: the digest's check stands in for it
    if (stamps := stored_stamps(ckpt.get(TRAIN_STAMPS_KEY))) is not None and run.train_stamps is not None:
        edited, renamed = changed_in_place(stamps, run.train_stamps)
        if renamed and not changes:
            changes.append("as many images, but other files: other names")
        if edited:
            # the contents tell an edit that kept the size; a copy that kept them but not the times is none
            changes.append(f"{counted(edited, 'file')} changed in place: the same name, another size or contents")
    elif not changes and isinstance(digest := ckpt.get(TRAIN_DIGEST_KEY), str) and digest != run.train_digest:
        changes.append("as many images, but other files: names or sizes")  # older checkpoints: no stamps
    if changes:
        print_warning(
            f"warning: the training images changed since the checkpoint ({'; '.join(changes)}): the run goes on, but "
            "not exactly as it would have without the stop (restore the folders as they were for an exact resume)"
        )


def _prepare_run_folder(run: Run, images: Images) -> _Samples | None:
    """Rank 0 creates the run folder, writes config.json and reads the fixed sample images (the test images
    if there are, else the first training images); None on the other ranks. A failure stops every rank."""
    error: CycleGANError | None = None
    samples = None
    if run.main:  # only rank 0 writes the run folder and sample grids
        t, size, cap = run.cfg.train, run.cfg.data.size, run.cfg.data.max_pixels
        try:
            run.folder.mkdir(parents=True, exist_ok=True)
            _write_config(run)
            if t.num_samples and images.paired:  # (--num-samples 0: no sample grids)
                train_pairs = list(zip(images.train_a, images.train_b or [None] * len(images.train_a)))
                samples = sample_pairs(images.test_pairs or train_pairs, t.num_samples, size, max_pixels=cap)
            elif t.num_samples:
                xs = sample_batch(images.test_files_a or images.train_a, t.num_samples, size, max_pixels=cap)
                ys = sample_batch(images.test_files_b or images.train_b, t.num_samples, size, max_pixels=cap)
                samples = (xs, ys)
            if samples is not None and min(len(s) for s in samples) < t.num_samples:  # said, not capped silently
                a, b = (len(s) for s in samples)
                print_warning(
                    f"warning: {given_as('num_samples', t.num_samples)}: the sample grids show {a} A and "
                    f"{counted(b, 'B image')}, all their split holds"
                )
        except OSError as e:
            error = CycleGANError(f"cannot write the run folder {run.folder}: {oserror_text(e)}")
        except CycleGANError as e:
            error = e
    ddp.raise_on_every_rank(error, run.d_ctx, elsewhere="rank 0 could not prepare the run (its error is above)")
    return samples


@dataclass(frozen=True)
class _End:
    """Where and why the step loop ended, and the run as it ended (`--fit-steps` may have changed its total)."""

    step: int
    signum: int | None  # the stop signal received (Ctrl-C, SIGTERM, SIGHUP), if any
    timed_out: bool
    run: Run
    seconds_per_step: float | None = None  # wall s/step after the first two (loading, logs, checkpoints in)
    worse: int = 0  # stopped by --stop-when-worse: the evaluations without a better score (0: not stopped by it)
    losses: dict | None = None  # `LossLog.carried_state` at the end, for the checkpoint
    fitted: bool = True  # False: a --fit-steps run stopped before its first fit, its total still the cap


def _step_loop(
    run: Run,
    trainer: Trainer,
    loader: DataLoader,
    samples: _Samples | None,
    monitor: Monitor,
    *,
    start: int,
    saved: int | None,
    progress: bool,
    carried: dict | None = None,
    cap: str = "--steps",
    deadline: float | None = None,
) -> _End:
    """Train from step `start` to the total, a stop request, the time limit or --stop-when-worse, logging,
    scoring, sampling and saving on schedule; every rank ends at the same step. A non-finite loss stops the run
    (a CycleGANError) at the next log record, sample grid or checkpoint, before it is written: the checkpoint
    of step `saved` stays. `cap`: what sets the most steps a --fit-steps run may take (`_fit_cap`); `deadline`: the
    time limit's end (`time.monotonic`), counted from before the set-up."""
    t = run.cfg.train
    step = start
    fitter = (
        StepFitter(
            start=start,
            cap=run.total,
            deadline=deadline,
            half_fraction=t.half_size_fraction,
            window=max(StepFitter.WINDOW, t.eval_every, t.checkpoint_every, t.sample_every),
            device=run.device,
        )
        if t.fit_steps and deadline
        else None
    )
    bar = progress_bar(
        total=None if fitter is not None else run.total,  # fitted to the time: unknown until the first fit
        initial=start,
        desc=f"train {run.folder.name}",
        unit="step",
        enabled=progress,
        every=t.log_every,  # a log file's line at each logged step, with the losses logged there
        dynamic_ncols=True,
    )
    timed_out, worse = False, 0
    # seconds before the deadline at the last step's end, or at the start: the first wait for a batch is bounded too
    # (a read that hung there kept the run past its limit for ever); read again after an evaluation, a sample grid or
    # a checkpoint, which took their time out of it (a read that hung after a long evaluation overran the limit by
    # the evaluation's time). Not at each wait: the clock is read once a step where nothing else happened.
    left = _seconds_left(deadline)
    fitted = fitter is None
    saved_at = time.monotonic()  # --checkpoint-minutes counts from the start or the last save
    t_timed, timed_from = None, start + 2  # the first steps also start the data loader's processes
    with bar, StopRequest() as stop, LossLog(run, trainer, bar, start=start, carried=carried) as log:

        def lost(why: str) -> CycleGANError:  # reads the step reached (and its run) when an image is lost
            return _lost_image(why, run, trainer, monitor, log, step=step, saved=saved)

        # a stop or the time limit ends the wait for a batch too, under torchrun on every rank at once (`_batches`);
        # `left` is read at each wait, as the last step (or the start) left it
        for x, y in _batches(loader, lost, stop=stop, time_left=lambda: left, d_ctx=run.d_ctx):  # noqa: B023
            half = half_size_steps(run.total, t.half_size_fraction)
            x, y = (at_step_size(b.to(run.device, non_blocking=True), step + 1, half) for b in (x, y))
            losses = trainer.step(x, y)
            step += 1
            if step == timed_from:
                synchronize(run.device)  # the steps before, done: on a GPU their kernels run after their launch
                t_timed = time.perf_counter()
            log.add(losses, step=step)
            if fitter is not None:
                fitter.tick(step, run.total)
                if fitter.due(step):
                    fitted = True
                    total = ddp.min_over_ranks(fitter.total(step, trainer), run.d_ctx)
                    if total != run.total:
                        run = refit(run, trainer, total)
                        if run.main:  # config.json says the steps the schedule now runs, as the checkpoint will
                            _rewrite_config(run, step=step, saved=saved)
                    if bar.total != total:
                        bar.total = total
                        bar.refresh()
                    if run.main and not fitter.announced:
                        fitter.announced = True
                        capped = f" (capped by {cap})" if total == fitter.cap else ""
                        print_out(
                            f"fitting the steps to the {t.time_limit:g}-minute limit: {total} steps{capped} at "
                            "the recent speed (re-fitted as it goes; inside the learning rate's decay only when the "
                            "speed moves)"
                        )
            left = _seconds_left(deadline)
            timed_out = left is not None and left < 0
            # all ranks agree (a tiny CPU all-reduce) so they stop, log and save at the same step
            last = step == run.total or ddp.any_rank(stop.signum is not None or timed_out, run.d_ctx)
            # the schedule's last step too (every rank knows it), so that best.pt is the best of the scored steps
            # including the final model, whose score the log then holds: evaluate said the checkpoint beat best.pt
            scoring = monitor.due(step) or (bool(monitor.every) and step == run.total)
            if step % t.log_every == 0 or last or scoring:
                log.stop_if_not_finite(saved)  # these syncs happen anyway: the record reads the losses back
                scores = monitor.evaluate() if scoring else {}  # before the record: it holds them
                # a stop between scheduled records: logged, but its steps go on into the next scheduled record
                # (through the checkpoint), which the watcher sees as the run never stopped would
                off_schedule = not (step % t.log_every == 0 or scoring or step == run.total)
                # the watcher's warnings go into the record they fired at (not off the schedule: see above)
                watch = None if off_schedule else functools.partial(monitor.observe, step, scores=scores, saved=saved)
                log.write(step, scores, keep=off_schedule, watch=watch)
                if scoring and (no_memory := monitor.out_of_memory(step)) is not None:
                    log.sync(step)
                    run.save(trainer, step, extra={**monitor.state(), LOSSES_KEY: log.carried_state()})
                    raise no_memory
                if scoring and monitor.should_stop():
                    # rank 0's count, which a resume with the same K carries past K (one more evaluation), else K:
                    # "3 evaluations without a better score" was said of the 4th, and "a K above 3" bought none
                    last, worse = True, max(monitor.watch.since_best, t.stop_when_worse)
            bar.update(1)  # after the record's losses reach the bar: a log file's line (`Lines`) says them
            sampled = bool(t.sample_every) and step % t.sample_every == 0
            if sampled:
                log.stop_if_not_finite(saved)
                if run.main and samples is not None:
                    _write_samples_or_warn(trainer, samples, run.sample_path(step))
            if last:
                break
            by_time = (  # each step; under torchrun at the log's steps (a collective fewer per step), which every
                # rank reaches together (at the log's steps alone, --log-every 1000 stretched "10 minutes" to hours)
                t.checkpoint_minutes > 0
                and (step % t.log_every == 0 or not run.d_ctx.enabled)
                and ddp.any_rank(time.monotonic() - saved_at > 60 * t.checkpoint_minutes, run.d_ctx)
            )
            if (t.checkpoint_every and step % t.checkpoint_every == 0) or by_time:
                log.stop_if_not_finite(saved)
                log.sync(step)
                run.save(trainer, step, extra={**monitor.state(), LOSSES_KEY: log.carried_state()})
                saved, saved_at = step, time.monotonic()
            if scoring or sampled or saved == step:  # their time came out of what the step's end left
                left = _seconds_left(deadline)
        carried = log.carried_state()  # every rank, as it leaves the loop: the sums for the last checkpoint
    # the time limit may have ended the wait for a batch (a read that hung), after the last step's own check; under
    # torchrun on one rank's clock (each counts from its own start): rank 0 called it "another process was asked to
    # stop". Every rank leaves the loop together, so every rank takes part in this collective.
    timed_out = ddp.any_rank(timed_out or (deadline is not None and time.monotonic() > deadline), run.d_ctx)
    synchronize(run.device)  # the last step done (the log read its losses back, not the updates after them)
    per_step = (time.perf_counter() - t_timed) / (step - timed_from) if t_timed and step > timed_from else None
    return _End(step, stop.signum, timed_out, run, per_step, worse, carried, fitted)


def _seconds_left(deadline: float | None) -> float | None:
    """Seconds before the time limit's `deadline` (`time.monotonic`), None without one."""
    return None if deadline is None else deadline - time.monotonic()


def _batches(
    loader: DataLoader,
    lost: Callable[[str], CycleGANError],
    *,
    stop: StopRequest | None = None,
    time_left: Callable[[], float | None] = lambda: None,
    d_ctx: ddp.Dist | None = None,
):
    """The loader's batches; an image that can no longer be read (moved, deleted or damaged since the check
    before training) raises `lost(why)`, with the reader's one line, which torch wraps in the worker's traceback.
    `stop`: its request, or the time limit (`time_left()`: its seconds left, None for none), ends the wait for a
    batch, the first one too. Under torchrun the ranks agree after each wait (a tiny CPU all-reduce) and all end
    together: a rank whose read hung to the time limit (or a SIGTERM) left the others in the step's gradient
    all-reduce for ever, no checkpoint saved. However the batches end (the wait ended, the loop's break at its last
    step or a stop, an error), the loader's workers are killed: one stuck prefetching in a read held torch's own
    shutdown 10 s."""
    with quiet_worker_count():
        batches = iter(loader)
    try:
        while True:
            ended, wait, within = False, None, time_left()
            try:
                if stop is not None and within is not None and within <= 0:  # the set-up before the first step took
                    raise StopWaiting  # the whole limit: not a step more (a batch read in a millisecond began one)
                with stop.waiting(within=within) if stop is not None else contextlib.nullcontext() as wait:
                    batch = next(batches)
            except (StopIteration, StopWaiting):
                ended = True
            except CycleGANError as e:  # from a worker: "Caught CycleGANError ... Traceback ... CycleGANError: why\n"
                # without loader workers the read is this process's: the deadline's alarm or a stop signal raised in
                # it can come out as the reader's error (its file closed under it: "Bad file descriptor"), a stop
                # then, not a lost image
                if not ((wait is not None and wait.rang) or (stop is not None and stop.signum is not None)):
                    raise lost(str(e).rsplit("CycleGANError: ", 1)[-1].removesuffix("\\n").strip()) from None
                ended = True
            if ended if d_ctx is None else ddp.any_rank(ended, d_ctx):
                return
            yield batch
    finally:
        end_loader(batches)


def _lost_image(
    why: str, run: Run, trainer: Trainer, monitor: Monitor, log: LossLog, *, step: int, saved: int | None
) -> CycleGANError:
    """The error that stops a run whose image went (`why`), after saving the steps done since the last checkpoint:
    they were lost with a traceback. Not under torchrun, where the save would wait for ranks that read on."""
    resume = run.goes_on_with()
    if step == (saved or 0) or run.d_ctx.enabled:  # nothing trained since the checkpoint, or a save that would wait
        if saved is None:
            return CycleGANError(
                f"{why}; the run stopped before its first checkpoint: put the image back, or remove it"
            )
        return CycleGANError(
            f"{why}; the run stopped, its checkpoint of step {saved} kept: put the image back and {resume}"
        )
    log.stop_if_not_finite(saved)
    log.sync(step)
    run.save(trainer, step, extra={**monitor.state(), LOSSES_KEY: log.carried_state()})
    return CycleGANError(
        f"{why}; the run stopped, its checkpoint saved at step {step}: put the image back and {resume} (or resume "
        "without it, no longer exactly)"
    )


def _finish(
    run: Run, trainer: Trainer, samples: _Samples | None, monitor: Monitor, end: _End, *, skipped: list[str]
) -> TrainResult:
    """Save the final checkpoint; rank 0 writes the last sample grid, says how the run ended and gives the
    verdict (best step and score, warnings). A stop signal then ends every process with 128 + its number, as
    the signal would have, and so does one that came while the final checkpoint was written, or after, while the last
    grid was drawn: the work finishes first (the default action killed the process, the steps since the previous
    checkpoint lost; a Ctrl-C after the save cut the grid and said those steps were lost, the checkpoint holding
    them). A second Ctrl-C after the save stops at once, saying that nothing is lost (`StoppedAfterSaving`)."""
    with StopRequest() as late:
        path = run.save(trainer, end.step, extra={**monitor.state(), LOSSES_KEY: end.losses})
        late.doing = "the checkpoint is saved; stopping after the last sample grid"
        with _nothing_lost(path, goes_on=end.signum is not None):
            verdict = monitor.verdict()
            if run.main:
                t = run.cfg.train
                if samples is not None and not (t.sample_every and end.step % t.sample_every == 0):  # else written
                    _write_samples_or_warn(trainer, samples, run.sample_path(end.step))
                if skipped:
                    print_warning(f"warning: {counted(len(skipped), 'unreadable image')} skipped (listed above)")
                _say_how_it_ended(run, path, end)
                print_out(*verdict.lines())
    signum = end.signum if end.signum is not None else late.signum
    if signum is not None:
        raise SystemExit(128 + signum)
    return TrainResult(
        checkpoint=path,
        step=end.step,
        total_steps=run.total,
        verdict=verdict,
        execution=trainer.execution.record(run.device, seconds_per_step=end.seconds_per_step),
    )


class StoppedAfterSaving(KeyboardInterrupt):
    """A stop at once (a second Ctrl-C) after the final checkpoint was written, which holds every step taken;
    `goes_on`: the run was stopped before its end (its first Ctrl-C); `status`: the exit status of the stop."""

    def __init__(self, path: Path, *, goes_on: bool, status: int) -> None:
        super().__init__()
        self.path, self.goes_on, self.status = path, goes_on, status

    def line(self, resume: str) -> str:
        """What it leaves: `_stopped_at_once`'s "the steps since the last checkpoint are lost" was untrue here."""
        kept = (
            f"stopped at once after the final checkpoint: nothing is lost; {escape(self.path)} holds every step taken"
        )
        return f"{kept}. Continue with: {resume}" if self.goes_on else kept


@contextlib.contextmanager
def _nothing_lost(path: Path, *, goes_on: bool) -> Iterator[None]:
    """A stop at once inside (after the final save) as a `StoppedAfterSaving` of that checkpoint."""
    try:
        yield
    except KeyboardInterrupt as e:  # process.Terminated too: a SIGTERM's or SIGHUP's status kept
        raise StoppedAfterSaving(path, goes_on=goes_on, status=getattr(e, "status", 128 + signal.SIGINT)) from e


def _interrupt_of(e: BaseException | None) -> KeyboardInterrupt | None:
    """The Ctrl-C (or `process.Terminated`) that is `e` or caused it, if one did: cut short inside torch.save, the zip
    writer's own RuntimeError ("unexpected pos") escapes with the KeyboardInterrupt as its context."""
    while e is not None:
        if isinstance(e, KeyboardInterrupt):
            return e
        e = e.__context__
    return None


def _stopped_at_once(folder: Path, resume: str) -> str:
    """What a run stopped without saving leaves: the last checkpoint on disk (each is written whole), if any."""
    return f"stopped at once{':' if (folder / CHECKPOINT_NAME).is_file() else ','} {_kept_on_disk(folder, resume)}"


def _kept_on_disk(folder: Path, resume: str) -> str:
    """The last checkpoint on disk, kept, and how to go on with it; or that there is none yet."""
    path = folder / CHECKPOINT_NAME
    if path.is_file():
        return (
            f"the steps since the last checkpoint are lost; the checkpoint {escape(path)} is kept. Continue with: "
            f"{resume}"
        )
    nothing = f"before the run's first checkpoint: nothing to resume in {escape(folder)}"
    if (folder / BEST_NAME).is_file():  # an evaluation came first: the same command again was refused for it
        return (
            f"{nothing}; its {BEST_NAME} (the best generators scored) is kept: translate with it, and move it "
            "elsewhere to start the run again there"
        )
    return nothing


def _say_how_it_ended(run: Run, path: Path, end: _End) -> None:
    # the run's own budget ended (time, --stop-when-worse): `train` goes on with it
    resume = resume_command(run.folder, run.d_ctx)
    if end.signum is not None and end.step >= run.total and run.resume_with is None:
        # the stop came in the last step's own work (its evaluation, record or grid): "Continue with: ... --resume"
        # led to "already trained"
        print_line(
            f"stopped after the last step ({end.step}/{run.total}): the run is complete; checkpoint saved to {path}"
        )
    elif end.signum is not None:
        again = run.goes_on_with()
        # before the first fit the total is only the cap: "step 3/5000" read as 5000 steps to go in a 5-minute demo
        of = f"/{run.total}" if end.fitted else f" (of at most {run.total}, not yet fitted to the time limit)"
        print_line(f"stopped at step {end.step}{of}; checkpoint saved to {path}. Continue with: {again}")
    elif end.step < run.total:
        if end.worse:
            k, n = run.cfg.train.stop_when_worse, end.worse
            why = f"stopped by {given_as('stop_when_worse', k)}: {n} evaluations without a better score"
            # its count is in the checkpoint: with a K up to it, the next evaluation without a better score stops it
            resume += f" --stop-when-worse 0 (or a K above {n})"
        elif end.timed_out:
            limit = f"{run.cfg.train.time_limit:g} min"  # --time-limit 2: "2 min", not "2.0"
            why = f"time limit of {limit} reached"
            # the resume keeps the limit: the hint's command alone stopped again after as long, without a word why
            resume += f", for another {limit}; add --time-limit 0 to lift the limit"
        else:
            why = "another process was asked to stop"
        # a caller with its own command (the demo) says what follows: it reports on this run, and a `train --resume`
        # of it would leave that report stale
        tail = f" (continue with: {resume})" if run.resume_with is None else ""
        print_out(f"{why} at step {end.step}/{run.total}; checkpoint {escape(path)}{tail}")
    else:
        grids = (
            f"samples in {escape(run.folder / 'samples')}"
            if run.cfg.train.num_samples
            else f"no samples ({given_as('num_samples', 0)})"
        )
        print_out(f"done: {counted(end.step, 'step')}; checkpoint {escape(path)}; {grids}")


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    step: int  # steps done, counting those before a resume
    total_steps: int
    verdict: Verdict | None = None  # the best evaluation and the warnings (None: nothing trained)
    execution: dict | None = None  # `Execution.record`: how the steps computed and their seconds per step


def _write_samples_or_warn(trainer: Trainer, samples: _Samples, path: Path) -> None:
    """A sample grid that cannot be written (a full disk, `samples` made a file) is a warning: the run goes on
    to its checkpoints (it ended in a traceback, the steps since the last checkpoint lost)."""
    try:
        write_samples(trainer, *samples, path)
    except OSError as e:
        print_warning(
            f"warning: cannot write the sample grid {escape(path)}: {escape(oserror_text(e))}; training goes on"
        )


@torch.no_grad()
def write_samples(trainer: Trainer, xs: torch.Tensor, ys: torch.Tensor, path: Path) -> Path:
    """The family's sample grid (`Trainer.sample_columns`) of the fixed A and B images; CycleGAN: rows
    x | G(x) | F(G(x)) for each A image, then y | F(y) | G(F(y)) for each B image; with the averaged
    generators when the run keeps them (what translation will use)."""
    dev = trainer.device
    return save_grid(trainer.sample_columns(xs.to(dev), ys.to(dev)), path)
