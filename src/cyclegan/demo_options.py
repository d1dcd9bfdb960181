"""The options of `cyclegan demo`, torch-free so that its `--help` starts at once. `cyclegan.demo` runs it."""

from __future__ import annotations

from dataclasses import dataclass

from .options import MAX_SEED, Options, opt
from .shared_options import Precision, device_option, precision_option, progress_option


@dataclass(frozen=True)
class DemoOptions(Options):
    """`cyclegan demo`: where it runs and how long it may train."""

    out: str = opt("runs/demo", "run folder", metavar="RUN", nonempty="the demo's run folder", writes=True)
    minutes: float | None = opt(
        4.5,
        "training time: the steps are fitted to it at this machine's measured speed, so the LR schedule ends at 0 "
        "and the demo finishes in about M + 0.5 minutes",
        gt=0,
        metavar="M",
    )
    steps: int | None = opt(
        None,
        "training steps, still within --minutes: steps that do not fit are cut (the LR not at 0; the report says so)",
        gt=0,
        default_text="as many as fit in --minutes",
    )
    seed: int = opt(
        0, "training seed (weights, data order, augmentation); the world is the same for every seed", ge=0, le=MAX_SEED
    )
    overwrite: bool = opt(False, "replace a previous demo run in the run folder (never a run of anything else)")
    device: str = device_option()
    precision: Precision = precision_option()
    progress: bool = progress_option()
