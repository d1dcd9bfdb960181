"""The step budget of a run fitted to a time limit (`--fit-steps`)."""

from __future__ import annotations

import time
from dataclasses import replace

from .run_folder import Run
from .trainer import Trainer


class StepFitter:
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


def refit(run: Run, trainer: Trainer, total: int) -> Run:
    """The run and trainer with `total` steps: the LR schedules follow from the current step, and the saved
    config records it, so a resumed run goes on along the same schedule."""
    cfg = run.cfg
    cfg = replace(cfg, train=replace(cfg.train, steps=total, epochs=None))
    trainer.cfg = cfg
    trainer.set_total_steps(total)
    return replace(run, cfg=cfg, total=total)
