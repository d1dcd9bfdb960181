"""The loss log: losses summed on the device each step (no sync), their means written every `--log-every`
steps to log.jsonl (strict JSON) and TensorBoard (if installed), and the first non-finite loss caught where
the loop syncs anyway, so a diverged run stops before anything is written with it."""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from ..errors import CycleGANError, escape
from ..options import given_as
from ..progress import print_warning
from ..run_files import CHECKPOINT_NAME, LOG_NAME, TENSORBOARD_DIR
from . import distributed as ddp
from .run_folder import Run, check_not_a_link, once_fixed, oserror_text
from .trainer import Trainer

LOSSES_KEY = "loss_sums"  # checkpoint.pt: the loss sums since the last scheduled record (`LossLog.carried_state`)


class LossLog:
    """Sums the losses on the device; every `write`, rank 0 appends their means over the steps since the last
    record and over all ranks to log.jsonl (and TensorBoard, if installed).

    It also keeps, on the device, the first step at which any loss was not finite and the losses of that
    step (no sync per step); `stop_if_not_finite` reads them where the loop syncs anyway."""

    def __init__(self, run: Run, trainer: Trainer, bar: tqdm, *, start: int, carried: dict | None = None):
        self.run, self.trainer, self.bar, self.start = run, trainer, bar, start
        self.sums: dict[str, torch.Tensor] = {}
        self.n = 0
        if carried:  # the steps since the last record before the stop (`carried_state`)
            self.sums, self.n = _carried(carried, run)
        self.timed = 0  # steps since t_last in this process (s_per_step)
        self.file = self.tb = None
        self._hook = None  # threading.excepthook while TensorBoard writes (`_quiet_tensorboard_thread`)
        self.names: list[str] = []
        self.first_bad: torch.Tensor | None = None  # () int64: the first step with a non-finite loss, or -1
        self.bad_losses: torch.Tensor | None = None  # (len(names),): the losses of that step

    def __enter__(self) -> LossLog:
        if self.run.main:
            path = self.run.folder / LOG_NAME
            check_not_a_link(path)  # checked when the folder was claimed (`trim_log`); a link made since too
            try:  # before the first step: a traceback here was the first record's (a log.jsonl folder)
                # O_NOFOLLOW: a link made since the check is refused too (ELOOP), not written through
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
                self.file = open(fd, "a")  # noqa: SIM115 (closed in __exit__)
            except OSError as e:
                raise CycleGANError(
                    f"cannot write the log {path}: {e.strerror or e}; move it away, or choose another {given_as('out')}"
                ) from None
            try:
                self.tb = _tensorboard(self.run.folder, purge_step=self.start + 1)
            except OSError as e:  # optional: the run goes on without it
                print_warning(f"warning: no TensorBoard events this run: {escape(oserror_text(e))}")
            except UnicodeEncodeError:  # TensorBoard writes UTF-8 paths only
                print_warning(
                    f"warning: no TensorBoard events this run (TensorBoard takes UTF-8 folder names only, and "
                    f"{escape(self.run.folder)} is not one)"
                )
            if self.tb is not None:
                self._hook = threading.excepthook = _quiet_tensorboard_thread(threading.excepthook)
        self.t_last = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):  # a record it could not flush: already raised by `_record`
                self._sync()  # before the final checkpoint (`sync`)
            with contextlib.suppress(OSError):
                self.file.close()
        if self.tb is not None:
            self._tensorboard(None)
        if self._hook is not None and threading.excepthook is self._hook:
            threading.excepthook = self._hook.previous

    def _not_written(self, step: int, e: OSError) -> CycleGANError:
        """The one line that stops the run when log.jsonl cannot be written at `step` (a full disk, a read-only one)."""
        return CycleGANError(
            f"cannot write the log {self.run.folder / LOG_NAME} at step {step}: {e.strerror or e}; the run's last "
            f"checkpoint, if any, stays as it was ({once_fixed(e, self.run.folder)}: {self.run.goes_on_with()})"
        )

    def sync(self, step: int) -> None:
        """log.jsonl's records on disk, before the checkpoint of `step` is written (that write is synced: a power cut
        after it kept the checkpoint, and the records of the steps before it, still in the page cache, could be lost:
        the resumed run's log then lacked them for good). A failure (a full disk) stops the run as a record's does."""
        try:
            self._sync()
        except OSError as e:
            raise self._not_written(step, e) from None

    def _sync(self) -> None:
        if self.file is not None:
            self.file.flush()
            os.fsync(self.file.fileno())

    def add(self, losses: dict[str, torch.Tensor], *, step: int) -> None:
        """The losses of `step` (0-d tensors); everything stays on the device: no sync per step."""
        for k, v in losses.items():
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        self.n += 1
        self.timed += 1
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
        raise CycleGANError(
            f"loss {name} became {shown} at step {step}; {kept}. Training diverged: a new run "
            f"(another {given_as('out')}) with a lower {given_as('lr')} or loss weights may help"
        )

    def write(
        self,
        step: int,
        scores: dict[str, float] | None = None,
        *,
        keep: bool = False,
        watch: Callable[[dict[str, float | None]], list[str]] | None = None,
    ) -> dict[str, float | None]:
        """Every rank calls it (the mean over ranks is a collective). The losses are read back here only,
        once every log_every steps (and at each evaluation): a host-device sync. `scores`: the evaluation's
        (`scoring.Scorer`, rank 0), written in the same record. Returns the loss means. `keep`: a record off the
        schedule (the run stops there): the sums go on to the next scheduled record, through the checkpoint
        (`carried_state`), so a resumed run's records and watcher are the uninterrupted run's. `watch`: given the
        means, the watcher's warnings that fired at this record, written in it (`warnings`; TensorBoard's text); the
        record is written before an error of the watcher's goes on."""
        now = time.perf_counter()
        sums = ddp.mean_over_ranks(self.sums, self.run.d_ctx)
        means = {k: _finite_or_none(v.item() / self.n) for k, v in sums.items()}
        fired: list[str] = []
        try:
            fired = watch(means) if watch is not None else []
        finally:  # written where the watcher raises too (best.pt that cannot be written): the run's last scores
            if self.run.main:
                self._record(step, means, scores or {}, fired, s_per_step=(now - self.t_last) / max(self.timed, 1))
        if keep:
            self.sums = sums  # the mean over ranks: every rank carries it, and adds its own steps to it
        else:
            self.sums, self.n = {}, 0
        self.timed, self.t_last = 0, now
        return means

    def carried_state(self) -> dict:
        """The loss sums since the last scheduled record (a collective), for the checkpoint: the run resumed
        from it writes its next record over the same steps as the uninterrupted run."""
        sums = ddp.mean_over_ranks(self.sums, self.run.d_ctx)
        return {"sums": {k: v.detach().cpu().clone() for k, v in sums.items()}, "n": self.n}

    def _tensorboard(self, scalars: dict[str, float] | None, *, step: int = 0, texts: list[str] = ()) -> None:
        """`scalars` of `step` to TensorBoard (None: close its file, at the end). A write that fails (a full disk: its
        writer thread's error, raised at the next call) ends the events with a warning, as one that cannot start
        does: they are optional, the run and log.jsonl go on (it was a traceback, the steps since the last checkpoint
        lost)."""
        try:
            if scalars is None:
                self.tb.close()
            for tag, value in (scalars or {}).items():
                self.tb.add_scalar(tag, value, step)
            for text in texts:
                self.tb.add_text("warnings", text, step)
        except OSError as e:
            tb, self.tb = self.tb, None
            with contextlib.suppress(OSError):  # its flush raises the same error again
                tb.close()
            print_warning(
                f"warning: no more TensorBoard events this run: {escape(oserror_text(e))} "
                f"({escape(self.run.folder / TENSORBOARD_DIR)}); log.jsonl holds every record"
            )

    def _record(
        self, step: int, means: dict[str, float], scores: dict[str, float], warnings: list[str], *, s_per_step: float
    ) -> None:
        record = {
            "step": step,
            "epoch": step // self.run.steps_per_epoch,
            "lr": self.trainer.opt_G.param_groups[0]["lr"],
            "s_per_step": round(s_per_step, 4),
            **means,
            **{k: v if math.isfinite(v) else None for k, v in scores.items()},
            **({"warnings": warnings} if warnings else {}),  # the watcher's, at the record where each fired
        }
        try:
            self.file.write(json.dumps(record, allow_nan=False) + "\n")  # strict JSON: never NaN or Infinity
            self.file.flush()
        except OSError as e:  # a full disk: one line, not a traceback; trim_log drops a half-written record
            raise self._not_written(step, e) from None
        if self.tb:
            scalars = {f"loss/{k}": v for k, v in means.items() if v is not None} | {"lr": record["lr"]}
            # the scores (eval/AtoB/psnr, ...): a section of their own
            scalars |= {k: v for k, v in scores.items() if math.isfinite(v)}
            self._tensorboard(scalars, step=step, texts=warnings)
        shown = [k for k in means if k != "G_total"][:5]
        self.bar.set_postfix({k: f"{means[k]:.3f}" for k in shown if means.get(k) is not None})


def _carried(carried: object, run: Run) -> tuple[dict[str, torch.Tensor], int]:
    """A checkpoint's loss sums and their step count (`carried_state`), checked: an edited or damaged entry is one
    line naming the file, not a traceback."""
    sums, n = (carried.get("sums"), carried.get("n")) if isinstance(carried, dict) else (None, None)
    named = isinstance(sums, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sums.items())
    if not named or not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise CycleGANError(
            f"{run.folder / CHECKPOINT_NAME}: its '{LOSSES_KEY}' is not loss sums and a step count; the file is "
            "damaged or was written by another version"
        )
    return ({k: v.to(run.device) for k, v in sums.items()}, n) if n else ({}, 0)


def _finite_or_none(x: float) -> float | None:
    """A mean for log.jsonl: rounded, or None (JSON null) for a sum that overflowed although every loss was
    finite (a non-finite loss stops the run before its record is written)."""
    return round(x, 5) if math.isfinite(x) else None


def _quiet_tensorboard_thread(previous):
    """A `threading.excepthook` that leaves TensorBoard's writer thread's OSError (a full disk) unprinted: the thread
    raises it again at the run's next TensorBoard call, which warns of it in one line (`LossLog._tensorboard`).
    Any other thread's exception goes to `previous`."""

    def hook(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, OSError) and type(args.thread).__name__ == "_AsyncWriterThread":
            return
        previous(args)

    hook.previous = previous
    return hook


def _tensorboard(run: Path, *, purge_step: int):
    """A TensorBoard writer, if installed. `purge_step`: events from that step on, written by the run before it
    stopped (or, at 1 for a new run, by one killed before its first checkpoint), are dropped, as `trim_log` drops
    its log records."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # optional: pip install -e ".[tensorboard]"
        return None
    return SummaryWriter(str(run / TENSORBOARD_DIR), purge_step=purge_step)
