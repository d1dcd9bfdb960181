"""The step budget of a run fitted to a time limit (`--fit-steps`)."""

from __future__ import annotations

import time
from dataclasses import replace

import torch

from ..execution import synchronize
from .inputs import half_size_steps
from .run_folder import Run
from .trainer import Trainer


class StepFitter:
    """`--fit-steps`: while the LR is constant, re-fit the run's total steps to the time left at the speed
    measured over the last `window` steps or more (data loading, logs, scores and checkpoints included), so the
    LR schedule reaches 0 as the time limit arrives instead of being cut off, or ending early, when the machine
    is slower or faster than a short timing said, or was for a while. The total never exceeds the configured
    steps (the loader's end). Inside the LR decay the total stays (so a steady run is exactly a plain run of its
    length) unless it is off by more than the noise: the time limit would cut it off, or it would end more than
    DRIFT of its steps early (a slowdown around the decay's start that has passed); the schedule then follows
    the new total from the current step.

    With `--half-size-fraction` the two sizes are timed apart (a half-size step costs about 0.4 of a full one
    at 64 px): until full-size steps have been timed they are taken to cost FULL_OVER_HALF half-size ones, and
    the fit goes on until they have been, even into the LR decay (the schedule then moves by what the estimate
    was off). Once the run has passed the switch to full size, no refit moves the switch beyond it (the total
    is capped to keep it), so a run whose first guess was too high ends early rather than goes back to half
    size."""

    FILL = 0.97  # of the time left: the final checkpoint and sample grid come after the last step
    WARMUP, FIRST, EVERY = 2, 10, 25  # steps after the start: untimed, the first fit, then a fit per EVERY
    # (the first steps also pay for starting the data loader's processes: timed, they would read as slow)
    WINDOW = 200  # steps: the speed is that of the last WINDOW or more steps of the size being timed, not of all
    # since the start, so a slowdown that has passed (another program's busy minute) no longer shortens the run
    DRIFT = 0.05  # inside the decay, a total this much (of itself) under the fit is raised; a steady speed's
    # fits creep up by (1 - FILL) of the steps since the last refit, at most ~1.5 % of the total over a decay of half
    FULL_OVER_HALF = 3.0  # cost of a full-size step over a half-size one before it is measured (0.4 measured at
    # 64 px on an AVX2 CPU in fp32; a high guess fits fewer steps: the run ends early rather than is cut off)

    def __init__(
        self,
        *,
        start: int,
        cap: int,
        deadline: float,
        half_fraction: float = 0.0,
        window: int = WINDOW,
        device: torch.device,
    ):
        """`window`: the fewest steps the speed is measured over; at least the period of anything the loop does
        now and then (evaluations, checkpoints, sample grids), so that its cost is in the measure. `device`: where
        the steps compute, synchronised at each clock reading (a GPU's steps are timed done, not launched)."""
        self.start, self.cap, self.deadline, self.half_fraction = start, cap, deadline, half_fraction
        self.device = device
        self.window = max(1, window)
        self.marks: list[tuple[int, float]] = []  # (step, time) at each fit inside the timing that is open
        # The clock is read where a timing begins or ends and once per fit, never per step.
        self.open: tuple[int, int, float] | None = None  # (size: 0 half, 1 full; first step; time) being timed
        self.half_timed: tuple[float, int] | None = None  # (seconds, steps) of the half-size steps, once closed
        self.full_timed_at: int | None = None  # the step by which FIRST full-size steps have been timed
        self.switched_at: int | None = None  # the last half-size step, once the run has passed it
        self.rates: tuple[float, float] = (0.0, 0.0)  # seconds per (half-size, full-size) step at the last fit
        self.announced = False

    def _now(self) -> float:
        """The clock once the steps launched so far have finished: on a GPU the first fit, 10 steps in, timed
        queued launches without it and fitted too many steps. A sync per fit (every EVERY steps) costs little."""
        synchronize(self.device)
        return time.monotonic()

    def _half_until(self, total: int) -> int:
        return half_size_steps(total, self.half_fraction)

    def tick(self, step: int, total: int) -> None:
        """After step `step` of a run of `total` steps."""
        half_until = self._half_until(total)
        if self.open is None:
            # the first steps of each size are untimed: the loader's start, then new shapes' first kernels
            begin = self.start + self.WARMUP if step <= half_until else max(self.start, half_until) + self.WARMUP
            if step >= begin:
                self.open = (0 if step <= half_until else 1, step, self._now())
                self.marks = []
        elif self.open[0] == 0 and step >= half_until:  # the last half-size step (a refit may move it): closes
            _, first, t0 = self.open
            self.half_timed = (self._now() - t0, step - first)
            self.open = None
            self.marks = []
        elif self.open[0] == 1 and self.half_fraction and step - self.open[1] == self.FIRST:
            self.full_timed_at = step
        if self.switched_at is None and self.half_fraction and step >= half_until:
            self.switched_at = half_until  # from here on a refit keeps the switch where it was

    def due(self, step: int) -> bool:
        done = step - self.start
        if step == self.full_timed_at:  # the full size's first measured fit, even inside the decay
            return True
        return done >= self.FIRST and (done - self.FIRST) % self.EVERY == 0

    def per_step(self, step: int, now: float) -> tuple[float, float]:
        """Seconds per (half-size, full-size) step: measured, or estimated from the other size."""
        half = self.half_timed[0] / self.half_timed[1] if self.half_timed and self.half_timed[1] else None
        full = None
        if self.open is not None and step > self.open[1]:
            size, first, t0 = self.open
            back = next((m for m in reversed(self.marks) if step - m[0] >= self.window), None)
            if back:  # the latest fit at least a window back: the speed now, its periodic costs included
                first, t0 = back
            rate = (now - t0) / (step - first)
            if size == 0:
                half = rate
            elif half is None or step - first >= self.FIRST:
                full = rate
        if full is None:
            full = (half or 0.0) * self.FULL_OVER_HALF
        if half is None:
            half = full / self.FULL_OVER_HALF
        return half, full

    def _most_steps_switching_by(self, step: int) -> int:
        """The largest total whose half-size steps end by `step`."""
        n = int((step + 0.5) / self.half_fraction) + 1
        while n > 1 and self._half_until(n) > step:
            n -= 1
        return n

    def seconds_for(self, step: int, total: int) -> float:
        """Predicted seconds of steps step+1 .. total at the rates of the last fit."""
        half, full = self.rates
        n_half = max(0, self._half_until(total) - step)
        return n_half * half + (total - step - n_half) * full

    def total(self, step: int, trainer: Trainer) -> int:
        """The run's total steps after step `step`: the fit while the LR is constant (and at the full size's first
        timed fit); inside the decay the trainer's total, unless the time limit would cut it off or it ends more
        than DRIFT early."""
        current = trainer.total_steps
        fitted = self._fit(step)
        if step < current - round(current * trainer.cfg.train.lr_decay_fraction) or step == self.full_timed_at:
            return fitted
        cut_off = self.seconds_for(step, current) > self.deadline - self._now()
        return fitted if cut_off or fitted > current * (1 + self.DRIFT) else current

    def _fit(self, step: int) -> int:
        """The most steps (<= the cap) whose predicted time fits FILL of the time left."""
        now = self._now()
        self.rates = self.per_step(step, now)
        if self.open is not None:
            self.marks.append((step, now))
        budget = self.FILL * max(0.0, self.deadline - now)
        lo, hi = step + 1, self.cap  # the predicted time grows with the total: bisect
        if self.switched_at is not None:  # never a total that would move the switch past steps trained at full size
            hi = max(lo, min(hi, self._most_steps_switching_by(self.switched_at)))
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
