"""`cyclegan demo`: from nothing to a scored summer <-> winter model in a few minutes on a CPU.

Renders the built-in synthetic world (see `cyclegan.data.synthetic`), trains the `seed` preset at a small
size, translates the paired test split both ways and scores each translation against its true rendering
(PSNR and SSIM), next to the do-nothing baseline (the untranslated input against the truth).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import device_option, progress_option
from .errors import CycleGANError
from .options import Options, opt

# Training options on top of the preset (names as in `cyclegan train --help`); they finish in under
# 5 minutes on a 2-core CPU.
DEMO_OPTIONS: dict[str, Any] = {
    "preset": "seed",
    "size": 64,
    "batch_size": 4,  # more, smaller steps beat fewer large ones here (tried: 8 x 400)
    "steps": 800,
    "ngf": 32,
    "ndf": 32,
    # BatchNorm's running statistics average over real and generated inputs (G sees both during
    # training), so eval-mode translations with them are poor; InstanceNorm has no running statistics.
    "norm": "instance",
    "lr": 4e-4,
    "lr_decay_fraction": 0.5,  # annealing the LR at the end removes much of the GAN noise
    "lambda_identity": 0.5,  # keeps the sky and walls where the seasons agree
    "compile": "off",  # a minute of compiling does not pay back within a few minutes of training
    "seed": 0,
}


@dataclass(frozen=True)
class DemoSettings:
    """The demo's data and training options."""

    train_count: int = 400  # images per domain (unpaired scenes)
    test_count: int = 40  # paired test scenes
    grid_rows: int = 6
    options: dict[str, Any] = field(default_factory=lambda: dict(DEMO_OPTIONS))


def _read_all(files: list[Path]) -> torch.Tensor:
    """Images of equal size -> (N, 3, H, W) in [-1, 1]."""
    from .data.io import read_image, to_tensor

    return torch.stack([to_tensor(read_image(p)) for p in files])


def _translate_all(net, xs: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> translations, same shape, on the CPU."""
    from .inference import translate_tensor

    return torch.cat([translate_tensor(net, xs[i : i + batch]).cpu() for i in range(0, len(xs), batch)])


def score(translated: torch.Tensor, inputs: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of translation vs truth and of the untranslated input vs truth.

    All tensors (N, 3, H, W) in [-1, 1].
    """
    from .evaluate.metrics import psnr, ssim

    return {
        "psnr": round(psnr(translated, truth).mean().item(), 3),
        "psnr_identity": round(psnr(inputs, truth).mean().item(), 3),
        "ssim": round(ssim(translated, truth).mean().item(), 4),
        "ssim_identity": round(ssim(inputs, truth).mean().item(), 4),
    }


@dataclass(frozen=True)
class DemoOptions(Options):
    """`cyclegan demo`: where it runs and how long it may train."""

    out: str = opt("runs/demo", "run folder", metavar="RUN")
    minutes: float | None = opt(
        4.0, "cap the training time, so a slow machine still finishes in about M + 1 minutes", gt=0, metavar="M"
    )
    steps: int | None = opt(None, "training steps", gt=0, default_text=str(DEMO_OPTIONS["steps"]))
    device: str = device_option()
    progress: bool = progress_option()


def run_demo(opts: DemoOptions = DemoOptions(), *, settings: DemoSettings = DemoSettings()) -> dict:
    """Generate data, train, translate, score and write `report.json` and `report.html` in `opts.out`.

    `opts.minutes` caps the training time (the step budget is cut short, and the report says so).
    """
    from .checkpoint import load_generator
    from .data.synthetic import SyntheticOptions, write_dataset
    from .execution import resolve_device
    from .report import render_demo_html, save_grid
    from .train import prepare_config, train

    s = settings
    run, device, minutes, progress = Path(opts.out), opts.device, opts.minutes, opts.progress
    if (run / "checkpoint.pt").exists():
        raise CycleGANError(f"{run} already holds a demo run: choose another --out or delete it")
    t0 = time.perf_counter()
    options = {**DEMO_OPTIONS, **settings.options, **({"steps": opts.steps} if opts.steps else {})}
    data = write_dataset(SyntheticOptions(
        str(run / "data"), size=options["size"], count=s.train_count, test_count=s.test_count, seed=options["seed"],
        progress=progress,
    ))  # fmt: skip
    overrides = {
        **options, "data": str(data), "out": str(run), "device": device, "sample_every": 0,
        "checkpoint_every": 100, "log_every": 20, "time_limit": minutes,
    }  # fmt: skip
    cfg, _ = prepare_config(overrides, resume=False, out=str(run))
    device_ = resolve_device(device)
    if minutes:  # fit the step budget to this machine, so the LR schedule still ends at 0
        from .bench import time_train_step

        seconds_per_step = time_train_step(cfg, device_)
        steps = max(1, min(cfg.train.steps, int(minutes * 60 * 0.9 / seconds_per_step)))
        if steps < cfg.train.steps:
            print(f"this machine does {seconds_per_step:.2f} s/step: training {steps} steps to fit {minutes} min")
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
    t_train = time.perf_counter()
    trained_steps = train(cfg, progress=progress).step
    train_seconds = time.perf_counter() - t_train

    names = sorted(p.name for p in (data / "testA").glob("*.png"))  # testA/NAME and testB/NAME: one scene
    test = {"A": _read_all([data / "testA" / n for n in names]), "B": _read_all([data / "testB" / n for n in names])}
    results: dict[str, dict[str, float]] = {}
    grids: dict[str, str] = {}
    for direction, src, dst in (("AtoB", "A", "B"), ("BtoA", "B", "A")):
        real, truth = test[src], test[dst]
        fake = _translate_all(load_generator(run, direction, device=device_), real)
        results[direction] = score(fake, real, truth)
        n = s.grid_rows
        grids[direction] = save_grid([real[:n], fake[:n], truth[:n]], run / f"grid_{direction}.png").name
    report = {
        "ground_truth": results,
        "task": "summer (A) <-> winter (B), synthetic scenes with true renderings",
        "metrics": "PSNR in dB (capped at 100 for identical images) and SSIM, against the true rendering; "
        "*_identity: the untranslated input against the same truth (the do-nothing baseline)",
        "settings": dataclasses.asdict(s)
        | {"options": options, "steps_trained": trained_steps, "device": str(device_)},
        "config": cfg.to_dict(),
        "seconds": {"total": round(time.perf_counter() - t0, 1), "train": round(train_seconds, 1)},
        "grids": grids,
    }
    (run / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (run / "report.html").write_text(render_demo_html(report))
    return report
