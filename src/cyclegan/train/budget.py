"""The step budget of a run fitted to a time limit (`--fit-steps`)."""

from __future__ import annotations

import time
from dataclasses import replace

from .inputs import half_size_steps
from .run_folder import Run
from .trainer import Trainer


class StepFitter:
    """`--fit-steps`: while the LR is still constant, re-fit the run's total steps to the time left at the speed
    measured since the loop began (data loading, logs, scores and checkpoints included), so the LR schedule
    reaches 0 as the time limit arrives instead of being cut off, or ending early, when the machine is slower
    or faster than a short timing said. The total never exceeds the configured steps (the loader's end).

    With `--half-size-fraction` the two sizes are timed apart (a half-size step costs about 0.4 of a full one
    at 64 px): until full-size steps have been timed they are taken to cost FULL_OVER_HALF half-size ones, and
    the fit goes on until they have been, even into the LR decay (the schedule then moves by what the estimate
    was off)."""

    FILL = 0.97  # of the time left: the final checkpoint and sample grid come after the last step
    WARMUP, FIRST, EVERY = 2, 10, 25  # steps after the start: untimed, the first fit, then a fit per EVERY
    # (the first steps also pay for starting the data loader's processes: timed, they would read as slow)
    FULL_OVER_HALF = 3.0  # cost of a full-size step over a half-size one before it is measured (0.4 measured at
    # 64 px on an AVX2 CPU in fp32; a high guess fits fewer steps: the run ends early rather than is cut off)

    def __init__(self, *, start: int, cap: int, deadline: float, half_fraction: float = 0.0):
        self.start, self.cap, self.deadline, self.half_fraction = start, cap, deadline, half_fraction
        self.last: float | None = None  # when the last timed step ended
        self.seconds = [0.0, 0.0]  # timed seconds of half-size and full-size steps
        self.counts = [0, 0]
        self.full_timed_at: int | None = None  # the step by which FIRST full-size steps have been timed
        self.announced = False

    def _half_until(self, total: int) -> int:
        return half_size_steps(total, self.half_fraction)

    def tick(self, step: int, total: int) -> None:
        """After step `step` of a run of `total` steps."""
        now = time.monotonic()
        half = step <= self._half_until(total)
        # the first steps of each size are untimed: the loader's start, then new shapes' first kernels
        warm = step - self.start > self.WARMUP and (half or step - self._half_until(total) > self.WARMUP)
        if warm and self.last is not None:
            phase = 0 if half else 1
            self.seconds[phase] += now - self.last
            self.counts[phase] += 1
            if phase == 1 and self.counts[1] == self.FIRST and self.full_timed_at is None:
                self.full_timed_at = step
        self.last = now

    def due(self, step: int, trainer: Trainer) -> bool:
        done = step - self.start
        if step == self.full_timed_at:  # the full size's first measured fit, even inside the decay
            return True
        if done < self.FIRST or (done - self.FIRST) % self.EVERY:
            return False
        total = trainer.total_steps
        return step < total - round(total * trainer.cfg.train.lr_decay_fraction)  # then the plan stays

    def per_step(self) -> tuple[float, float]:
        """Seconds per (half-size, full-size) step: measured, or estimated from the other size."""
        half, full = (s / n if n else None for s, n in zip(self.seconds, self.counts, strict=True))
        if self.counts[1] < self.FIRST and half is not None:
            full = half * self.FULL_OVER_HALF
        if half is None:
            half = full / self.FULL_OVER_HALF
        return half, full

    def seconds_for(self, step: int, total: int) -> float:
        """Predicted seconds of steps step+1 .. total."""
        half, full = self.per_step()
        switch = self._half_until(total)
        n_half = max(0, switch - step)
        return n_half * half + (total - step - n_half) * full

    def total(self, step: int) -> int:
        """The most steps (<= the cap) whose predicted time fits FILL of the time left."""
        budget = self.FILL * max(0.0, self.deadline - time.monotonic())
        lo, hi = step + 1, self.cap  # the predicted time grows with the total: bisect
        if self.seconds_for(step, hi) <= budget:
            return hi
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.seconds_for(step, mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo


def refit(run: Run, trainer: Trainer, total: int) -> Run:
    """The run and trainer with `total` steps: the LR schedules follow from the current step, and the saved
    config records it, so a resumed run goes on along the same schedule."""
    cfg = run.cfg
    cfg = replace(cfg, train=replace(cfg.train, steps=total, epochs=None))
    trainer.cfg = cfg
    trainer.set_total_steps(total)
    return replace(run, cfg=cfg, total=total)
